"""A fitted calibrator as plain data: map the aggregate confidence (and the check scores) to a probability.

Applying a calibrator needs only numpy and the stored ``params``, never the library that fitted it, so a
policy carrying one loads anywhere. Methods:

* ``identity`` — leaves the confidence as it is (the reference every other method must beat);
* ``isotonic`` — a monotone step function of the aggregate (piecewise-linear between the fitted knots);
* ``platt`` — ``sigmoid(a * logit(confidence) + b)``;
* ``logistic`` — a learned combination: ``sigmoid(w · logit(features) + b)`` over the aggregate and each
  check's score; a check that did not run (None/NaN) takes its training mean. Fitted on enough labels it also
  carries ``post``, an isotonic map (knots ``x``/``y``) applied to that probability, fitted out-of-fold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["AGGREGATE", "METHODS", "Calibrator", "logit", "sigmoid"]

METHODS = ("identity", "isotonic", "platt", "logistic")
#: Feature name of the aggregate confidence in a logistic calibrator.
AGGREGATE = "__aggregate__"
_EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(q) - np.log1p(-q)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


@dataclass
class Calibrator:
    """A calibrator: ``method`` + JSON ``params``, plus its lineage in the log (``id``, ``parent_id``)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    n_labels: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    created_at: str | None = None
    policy: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration method `{self.method}`; known: {', '.join(METHODS)}")
        need = {"isotonic": ("x", "y"), "platt": ("a", "b"), "logistic": ("features", "coef", "intercept", "fill")}
        missing = [k for k in need.get(self.method, ()) if k not in self.params]
        if missing:
            raise ValueError(f"`{self.method}` calibrator params lack {missing}; refit with `catalyst calibrate`")
        if self.method == "isotonic" and len(self.params["x"]) != len(self.params["y"]):
            raise ValueError("isotonic params `x` and `y` must have the same length")
        post = self.params.get("post") if self.method == "logistic" else None
        if post is not None and (not isinstance(post, dict) or len(post.get("x", ())) != len(post.get("y", ()))
                                 or not post.get("x")):
            raise ValueError("logistic params `post` must map knots `x` to `y` of the same, non-zero length")

    # -- applying -------------------------------------------------------------------------------------
    def apply_many(self, confidence: Any, scores: dict[str, Any] | None = None) -> np.ndarray:
        """Calibrated confidences for arrays: ``confidence`` (n,), ``scores`` name → (n,) with NaN = missing."""
        c = np.asarray(confidence, dtype=float)
        if self.method == "identity":
            out = c
        elif self.method == "isotonic":
            out = np.interp(c, np.asarray(self.params["x"], float), np.asarray(self.params["y"], float))
        elif self.method == "platt":
            out = sigmoid(self.params["a"] * logit(c) + self.params["b"])
        else:
            z = np.full(c.shape, float(self.params["intercept"]))
            for name, w, fill in zip(self.params["features"], self.params["coef"], self.params["fill"], strict=True):
                if name == AGGREGATE:
                    col = logit(c)
                else:
                    raw = (scores or {}).get(name)
                    col = np.full(c.shape, np.nan) if raw is None else logit(np.asarray(raw, dtype=float))
                    col = np.where(np.isfinite(col), col, fill)
                z = z + w * col
            out = sigmoid(z)
            post = self.params.get("post")
            if post is not None:
                out = np.interp(out, np.asarray(post["x"], float), np.asarray(post["y"], float))
        return np.clip(out, 0.0, 1.0)

    def __call__(self, confidence: float, scores: dict[str, float | None] | None = None) -> float:
        """One calibrated confidence (the engine's decide step calls this)."""
        cols = {k: np.array([np.nan if v is None else float(v)]) for k, v in (scores or {}).items()}
        return float(self.apply_many(np.array([float(confidence)]), cols)[0])

    # -- (de)serialising -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_policy(self) -> dict[str, Any]:
        """What a policy's ``calibration:`` holds: enough to apply it without the log, plus its id."""
        return {"id": self.id, "method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        known = {f for f in cls.__dataclass_fields__}
        extra = set(d) - known - {"db", "active"}
        if extra:
            raise ValueError(f"unknown calibration keys {sorted(extra)}; expected id, method, params")
        return cls(**{k: v for k, v in d.items() if k in known})
