"""The public surface is curated: ``catalyst.__all__`` is pinned here, sorted, and every name imports lazily."""

from __future__ import annotations

import subprocess
import sys

import catalyst

PUBLIC = [
    "Blocked", "CatalystError", "Check", "CheckContext", "CheckResult", "CompiledPolicy", "ConfigError", "Decision",
    "Evidence", "Interaction", "Policy", "PolicyError", "RecordError", "Replacement", "ReviewQueue", "RuntimeFailure",
    "Store", "UserError", "Validated", "Validator", "Verdict", "check", "load_policy", "register",
    "validation_node", "wrap", "wrap_client",
]


def test_all_is_exactly_the_curated_surface_and_sorted():
    assert catalyst.__all__ == PUBLIC  # a change here is an API change: update PUBLIC on purpose
    assert sorted(PUBLIC) == PUBLIC


def test_every_public_name_resolves_lazily():
    assert set(catalyst.__all__) == set(catalyst._LAZY)
    for name in catalyst.__all__:
        assert getattr(catalyst, name) is not None, name
    assert set(catalyst.__all__) <= set(dir(catalyst))


def test_import_catalyst_loads_nothing_heavy():
    code = ("import sys, catalyst; heavy = [m for m in ('langgraph', 'duckdb', 'pyarrow', 'pydantic', 'openai', "
            "'httpx') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_names_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        catalyst.nope  # noqa: B018
