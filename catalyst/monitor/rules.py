"""Alert rules as policy data (``alerts:`` in a policy), validated when the policy loads.

::

    alerts:
      - name: flag-rate-high
        metric: flag_rate            # see METRICS; drift:<metric> uses that drift test (q < alpha)
        op: ">"
        threshold: 0.3
        window: 1h                   # each evaluation looks at the last hour
        for: 2                       # fire after 2 evaluations in a row breach
        clear: 0.25                  # hysteresis: recover only once the value is back under 0.25 ...
        clear_for: 2                 # ... for 2 evaluations in a row
      - {name: confidence-drift, metric: "drift:confidence", window: 1d}

Only imports pydantic: the policy model uses it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: metric → what it measures over the rule's window (all computed in DuckDB by ``catalyst.monitor.alerts``)
METRICS: dict[str, str] = {
    "volume": "verdicts in the window",
    "flag_rate": "share of verdicts not accepted",
    "accept_rate": "share accepted",
    "review_rate": "share sent to review",
    "block_rate": "share blocked",
    "mean_confidence": "mean confidence (NULL confidence skipped)",
    "unverified_rate": "share of verdicts without a confidence",
    "latency_p95_ms": "95th percentile of verdict latency",
    "latency_p99_ms": "99th percentile of verdict latency",
    "check_error_rate": "share of check results that errored (any check)",
    "expected_error": "label-free expected error of accepted answers (mean 1 − confidence)",
    "audit_error_rate": "share of labelled audit items judged wrong",
    "overturn_rate": "share of labelled items where the reviewer contradicts the confidence",
    "review_backlog": "open review items now",
    "sla_breaches": "open review items older than the SLA now",
}
DRIFT_PREFIX = "drift:"
_DURATION = re.compile(r"^\s*\d+(?:\.\d+)?\s*(m|min|h|d|w)\s*$", re.IGNORECASE)


class AlertRule(BaseModel):
    """One alert: a metric over a window compared with a threshold (or a drift test), with hysteresis."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    metric: str = Field(description="a metric name (see catalyst.monitor.rules.METRICS) or drift:<metric>")
    op: Literal[">", "<"] = Field(default=">", description="fires when value op threshold")
    threshold: float | None = Field(default=None, description="required unless the metric is drift:*")
    window: str = Field(default="1h", description="duration each evaluation looks back: 30m, 6h, 1d")
    for_: int = Field(default=1, ge=1, le=1000, alias="for", description="breaching evaluations in a row to fire")
    clear: float | None = Field(default=None, description="recover once past this value (default: threshold)")
    clear_for: int = Field(default=1, ge=1, le=1000, description="clear evaluations in a row to recover")
    min_count: int = Field(default=30, ge=1, description="fewer verdicts in the window: not evaluated")

    @model_validator(mode="after")
    def _valid(self) -> AlertRule:
        if not _DURATION.match(self.window):
            raise ValueError(f"alert `{self.name}`: window `{self.window}` is not a duration like 30m, 6h, 1d")
        if self.metric.startswith(DRIFT_PREFIX):
            if not self.metric[len(DRIFT_PREFIX):]:
                raise ValueError(f"alert `{self.name}`: write drift:<metric>, e.g. drift:confidence or drift:any")
            return self
        if self.metric not in METRICS:
            raise ValueError(f"alert `{self.name}`: unknown metric `{self.metric}`; known: "
                             f"{', '.join(sorted(METRICS))}, or drift:<metric>")
        if self.threshold is None:
            raise ValueError(f"alert `{self.name}`: metric `{self.metric}` needs a `threshold`")
        if self.clear is not None and ((self.op == ">" and self.clear > self.threshold)
                                       or (self.op == "<" and self.clear < self.threshold)):
            raise ValueError(f"alert `{self.name}`: `clear` {self.clear} must lie on the healthy side of the "
                             f"threshold {self.threshold} (hysteresis)")
        return self
