"""Policies shared by the tests of the model-call paths (wrap, proxy, LangGraph node)."""

from __future__ import annotations

from catalyst.policy import CompiledPolicy, loads_policy


def retry_policy(name: str, *, max_retries: int, on_exhausted: str) -> CompiledPolicy:
    """Empty answers block; "as an AI language model" asks for a re-ask; "napalm" blocks (as check `banned`)."""
    return loads_policy(f"""
name: {name}
checks:
  - non_empty: {{}}
    on_fail: block
  - denylist: {{phrases: ["as an AI language model"]}}
    on_fail: retry
  - denylist: {{phrases: ["napalm"]}}
    as: banned
    on_fail: block
retry: {{max_retries: {max_retries}, on_exhausted: {on_exhausted}}}
on_unverified: accept  # rules only, no evidence check: an answer that passes them goes out (as unverified)
""")
