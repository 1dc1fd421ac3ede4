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
    from catalyst.checks import Check, CheckContext
    from catalyst.errors import (
        Blocked,
        CatalystError,
        ConfigError,
        PolicyError,
        RecordError,
        RuntimeFailure,
        UserError,
    )
    from catalyst.langgraph import validation_node
    from catalyst.openai import wrap_client
    from catalyst.policy import CompiledPolicy, Policy, load_policy
    from catalyst.records import CheckResult, Decision, Evidence, Interaction, Replacement, Verdict
    from catalyst.registry import check, register
    from catalyst.review import ReviewQueue
    from catalyst.store import Store
    from catalyst.validator import Validator
    from catalyst.wrapping import Validated, wrap

# name → module. Imported on first use, so `import catalyst` (and the CLI's --help) stays fast:
# LangGraph alone takes about a second to import.
_LAZY = {
    "Blocked": "catalyst.errors", "CatalystError": "catalyst.errors", "ConfigError": "catalyst.errors",
    "PolicyError": "catalyst.errors", "RecordError": "catalyst.errors", "RuntimeFailure": "catalyst.errors",
    "UserError": "catalyst.errors",
    "Check": "catalyst.checks", "CheckContext": "catalyst.checks", "check": "catalyst.registry",
    "CompiledPolicy": "catalyst.policy", "Policy": "catalyst.policy", "load_policy": "catalyst.policy",
    "CheckResult": "catalyst.records", "Decision": "catalyst.records", "Evidence": "catalyst.records",
    "Interaction": "catalyst.records", "Replacement": "catalyst.records", "Verdict": "catalyst.records",
    "register": "catalyst.registry", "ReviewQueue": "catalyst.review", "Store": "catalyst.store",
    "Validator": "catalyst.validator", "Validated": "catalyst.wrapping", "wrap": "catalyst.wrapping",
    "wrap_client": "catalyst.openai", "validation_node": "catalyst.langgraph",
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
    "ConfigError",
    "Decision",
    "Evidence",
    "Interaction",
    "Policy",
    "PolicyError",
    "RecordError",
    "Replacement",
    "ReviewQueue",
    "RuntimeFailure",
    "Store",
    "UserError",
    "Validated",
    "Validator",
    "Verdict",
    "check",
    "load_policy",
    "register",
    "validation_node",
    "wrap",
    "wrap_client",
]
