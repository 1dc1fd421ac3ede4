"""Scored, labelled records with a known truth, for tests, the tuning notebook and benchmarks.

Two checks (``signal_a``, ``signal_b``) see a latent answer quality through noise and a miscalibrated link;
``shift`` moves their scores (a new model, a new traffic mix) without changing what the labels mean, which is
exactly when a calibrator fitted on yesterday's labels goes stale. Segments: ``region`` with a large ``EU``
and ``US`` and a tiny ``APAC`` (``n_tiny`` members), and EU scores skewed upward (overconfident there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["CHECKS", "as_raw", "make_records", "register_checks", "write_jsonl"]

CHECKS = ("signal_a", "signal_b")


def _sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def make_records(n: int, *, seed: int = 0, shift: float = 0.0, base_rate: float = 0.7,
                 n_tiny: int = 3) -> list[dict[str, Any]]:
    """``n`` verdict-shaped dicts with ``checks``, ``label``, ``output_chars`` and ``metadata.segment``."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < base_rate).astype(int)
    region = np.where(rng.random(n) < 0.5, "EU", "US").astype(object)
    region[rng.choice(n, size=min(n_tiny, n), replace=False)] = "APAC"
    eu = region == "EU"
    q = 1.4 * y + rng.normal(0, 1.0, n)  # latent quality
    a = _sig(2.2 * q - 0.5 + shift + 1.5 * eu + rng.normal(0, 0.3, n))
    b = _sig(0.9 * q - 0.2 + 0.5 * shift + rng.normal(0, 0.8, n))
    b_missing = rng.random(n) < 0.1  # a costly check that ran on only some answers
    chars = np.maximum(5, rng.lognormal(5.0 - 0.15 * y, 0.5, n)).astype(int)
    out = []
    for i in range(n):
        checks = [{"name": "signal_a", "score": round(float(a[i]), 5), "passed": bool(a[i] >= 0.5)}]
        if not b_missing[i]:
            checks.append({"name": "signal_b", "score": round(float(b[i]), 5), "passed": bool(b[i] >= 0.5)})
        out.append({"id": f"s{seed}-{i}", "label": int(y[i]), "output_chars": int(chars[i]), "checks": checks,
                    "metadata": {"segment": {"region": str(region[i])}}})
    return out


def write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> Path:
    p = Path(path)
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return p


def as_raw(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same records as raw interactions (no scores yet): the signals ride in ``metadata.signals`` and
    the checks registered by :func:`register_checks` read them back, so the Validator path can be exercised."""
    out = []
    for r in records:
        sig = {c["name"]: c["score"] for c in r["checks"]}
        out.append({"id": r["id"], "output": "x" * r["output_chars"], "label": r["label"],
                    "metadata": {"segment": r["metadata"]["segment"], "signals": sig}})
    return out


def register_checks() -> None:
    """Register ``signal_a`` / ``signal_b`` (idempotent): checks that return the score in ``metadata.signals``."""
    from typing import ClassVar

    from catalyst import registry
    from catalyst.checks import Check, CheckContext

    class _Signal(Check):
        evidence: ClassVar[bool] = True  # a model-style signal about the answer: it makes the confidence

        def run(self, ctx: CheckContext) -> Any:
            v = (ctx.metadata.get("signals") or {}).get(self.name)
            if v is None:  # the check did not run on this answer: no evidence either way
                return self.unscored("no signal on this answer")
            return self.result(float(v))

    class SignalA(_Signal):
        """Synthetic signal A (tests and notebooks)."""

        name: ClassVar[str] = "signal_a"

    class SignalB(_Signal):
        """Synthetic signal B (tests and notebooks)."""

        name: ClassVar[str] = "signal_b"

    for cls in (SignalA, SignalB):
        if cls.name not in registry.names():
            registry.register(cls)
