"""Policies: YAML that says which checks run, how they combine, and where the decisions fall."""

from catalyst.policy._compile import CompiledPolicy, Plan, Step, compile_policy
from catalyst.policy._load import load_policy, loads_policy, policy_dirs, resolve, schema
from catalyst.policy._model import CheckSpec, Policy, RetrySpec, ReviewSpec, SegmentOverride, Thresholds

__all__ = [
    "CheckSpec", "CompiledPolicy", "Plan", "Policy", "RetrySpec", "ReviewSpec", "SegmentOverride", "Step",
    "Thresholds", "compile_policy", "load_policy", "loads_policy", "policy_dirs", "resolve", "schema",
]
