"""Monitoring the verdict log: health over time, drift with honest thresholds, label-free quality, slices,
alerts, and policy versions (shadow, canary, replay, compare, promote, rollback).

Everything reads the DuckDB log with SQL that aggregates in DuckDB and runs embedded; nothing here is on the
live decision path except :func:`audit_draw` and :func:`canary_draw` (pure functions of an id) and the
:class:`Shadow` wrapper, which never lets a challenger's failure reach the caller.
"""

from __future__ import annotations

from typing import Any

import duckdb

from catalyst.monitor._sql import Window, parse_duration
from catalyst.monitor.audit import audit_draw, canary_draw

__all__ = ["Window", "audit_draw", "build_report", "canary_draw", "parse_duration"]


def build_report(con: duckdb.DuckDBPyConnection, *, since: str = "7d", by: str = "day", sla_hours: float = 24.0,
                 db: str = "the log", drift: bool = False, reference: str | None = None, min_segment: int = 200,
                 seed: int = 0, window: Window | None = None, plots: bool = True) -> dict[str, Any]:
    """The full report (``catalyst report``): health, label-free quality, slices and (optionally) drift.

    ``plots=False`` skips what only the HTML page draws (each top segment's series over time).
    """
    from catalyst.monitor.drift import DriftSettings, drift_report
    from catalyst.monitor.quality import quality
    from catalyst.monitor.report import health
    from catalyst.monitor.slices import slices

    w = window or Window.last(since)
    rep = health(con, w, by=by, sla_hours=sla_hours, db=db)
    rep["quality"] = quality(con, w, by=by)
    rep["slices"] = slices(con, w, min_size=min_segment, by=by, top=10 if plots else 0)
    if drift:
        ref = Window(w.start - parse_duration(reference, what="--reference"), w.start) if reference else w.before()
        rep["drift"] = drift_report(con, ref, w, DriftSettings(seed=seed))
    return rep
