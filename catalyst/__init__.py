"""Catalyst: calibrated confidence, hallucination and policy checks, human review, a DuckDB log of every verdict.

Quickstart::

    import catalyst
    v = catalyst.Validator("default", store="catalyst.duckdb")
    verdict = v.validate({"input": "When was the Eiffel Tower built?", "output": "In 1889.",
                          "context": ["The Eiffel Tower was built from 1887 to 1889."]})
    print(verdict.decision, verdict.confidence)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalyst.checks import Check, CheckContext, check
    from catalyst.errors import Blocked, CatalystError, PolicyError, RecordError, RuntimeFailure, UserError
    from catalyst.policy import CompiledPolicy, Policy, load_policy
    from catalyst.records import CheckResult, Decision, Evidence, Interaction, Verdict
    from catalyst.registry import register
    from catalyst.store import Store
    from catalyst.validator import Validator
    from catalyst.wrapping import Validated, wrap

# name → module. Imported on first use, so `import catalyst` (and the CLI's --help) stays fast:
# LangGraph alone takes about a second to import.
_LAZY = {
    "Check": "catalyst.checks", "CheckContext": "catalyst.checks", "check": "catalyst.checks",
    "CatalystError": "catalyst.errors", "PolicyError": "catalyst.errors", "RecordError": "catalyst.errors",
    "RuntimeFailure": "catalyst.errors", "UserError": "catalyst.errors",
    "CompiledPolicy": "catalyst.policy", "Policy": "catalyst.policy", "load_policy": "catalyst.policy",
    "CheckResult": "catalyst.records", "Decision": "catalyst.records", "Evidence": "catalyst.records",
    "Interaction": "catalyst.records", "Verdict": "catalyst.records",
    "register": "catalyst.registry", "Store": "catalyst.store", "Validator": "catalyst.validator",
    "Blocked": "catalyst.errors", "Validated": "catalyst.wrapping", "wrap": "catalyst.wrapping",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'catalyst' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "Blocked",
    "CatalystError",
    "Check",
    "CheckContext",
    "CheckResult",
    "CompiledPolicy",
    "Decision",
    "Evidence",
    "Interaction",
    "Policy",
    "PolicyError",
    "RecordError",
    "RuntimeFailure",
    "Store",
    "UserError",
    "Validated",
    "Validator",
    "Verdict",
    "check",
    "load_policy",
    "register",
    "wrap",
]
