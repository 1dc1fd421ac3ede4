"""Catalyst: calibrated confidence, hallucination and policy checks, human review, a DuckDB log of every verdict.

Quickstart::

    import catalyst
    v = catalyst.Validator("default", store="catalyst.duckdb")
    verdict = v.validate({"input": "When was the Eiffel Tower built?", "output": "In 1889.",
                          "context": ["The Eiffel Tower was built from 1887 to 1889."]})
    print(verdict.decision, verdict.confidence)
"""

from catalyst.checks import Check, CheckContext, check
from catalyst.errors import Blocked, CatalystError, PolicyError, RecordError, RuntimeFailure, UserError
from catalyst.policy import CompiledPolicy, Policy, load_policy
from catalyst.records import CheckResult, Decision, Evidence, Interaction, Verdict
from catalyst.registry import register
from catalyst.store import Store
from catalyst.validator import Validator
from catalyst.wrapping import Validated, wrap

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
