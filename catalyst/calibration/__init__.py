"""Calibrated confidence: make 0.8 mean "right about 80% of the time".

Fit with :func:`choose` (cross-validated) or :func:`fit`; store versions in the log with
:mod:`catalyst.calibration.store`; a policy carries the one it uses under ``calibration:`` (``id``, ``method``,
``params``), and the engine's decide step calls :func:`apply` (via :func:`from_policy`).
"""

from __future__ import annotations

from typing import Any

from catalyst.calibration.fit import MIN_LABELS, MIN_PER_CLASS, choose, fit, require_labels
from catalyst.calibration.model import AGGREGATE, METHODS, Calibrator

__all__ = ["AGGREGATE", "METHODS", "MIN_LABELS", "MIN_PER_CLASS", "Calibrator", "apply", "choose", "fit",
           "from_policy", "require_labels"]


def apply(calibrator: Calibrator | dict[str, Any], aggregate_confidence: float,
          check_scores: dict[str, float | None] | None = None) -> float:
    """The calibrated confidence of one answer: ``calibrator`` applied to the aggregate and check scores."""
    cal = calibrator if isinstance(calibrator, Calibrator) else from_policy(calibrator)
    return cal(aggregate_confidence, check_scores)


def from_policy(spec: dict[str, Any]) -> Calibrator:
    """The calibrator a policy's ``calibration:`` mapping describes.

    Self-contained form (what ``catalyst calibrate --write`` writes): ``{id, method, params}``. By reference:
    ``{id: cal-..., db: path/to/log.duckdb}`` reads the row from the log (read-only) when the policy loads.
    Raises ValueError/KeyError with the fix when neither form is complete.
    """
    if not isinstance(spec, dict):
        raise TypeError(f"calibration must be a mapping with `id`, `method`, `params`; got {type(spec).__name__}")
    if "method" in spec:
        return Calibrator.from_dict({k: v for k, v in spec.items() if k != "db"})
    if "id" in spec and "db" in spec:
        import duckdb

        from catalyst.calibration.store import load

        try:
            con = duckdb.connect(str(spec["db"]), read_only=True)
        except duckdb.Error as e:
            raise ValueError(f"cannot open calibration log `{spec['db']}`: {e}") from None
        try:
            return load(con, str(spec["id"]))
        finally:
            con.close()
    raise KeyError("calibration needs `method` and `params` (write them with `catalyst calibrate --write`) "
                   "or `id` plus `db` (the log that stores it)")
