"""What the web reviewer's ``/dashboard`` page shows: the report's cheap sections, plus alerts, as plain values.

Charts are server-drawn SVG polylines (attributes only, no script and no inline style, so the reviewer's
strict Content-Security-Policy holds). Drift tests are left to ``catalyst report --html`` (seconds, not
milliseconds); the page shows the alerts ``catalyst watch`` logged, drift alerts included.

On a large log the numbers take a second or more to compute, so :class:`DashboardCache` computes them off
the request path, on its own DuckDB connection (a cursor of the server's, so reviewers' requests never wait
on the store lock), and serves the last result while a newer one is computed once it is ``ttl`` seconds
old (stale-while-revalidate). Only the very first view of a window computes in the request; the page says
how old its numbers are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb

from catalyst.errors import NoDataError
from catalyst.monitor._sql import Window, prepare, rows

_W, _H = 300.0, 60.0


def _points(values: list[float | None], lo: float | None = None, hi: float | None = None) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    lo = min(vals) if lo is None else lo
    hi = max(vals) if hi is None else hi
    span = (hi - lo) or 1.0
    step = _W / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{_H - (v - lo) / span * _H:.1f}" for i, v in enumerate(values) if v is not None)


def dashboard(con: duckdb.DuckDBPyConnection, *, since: str = "7d", by: str = "day", sla_hours: float = 24.0,
              min_segment: int = 200) -> dict[str, Any]:
    """The page's context; ``{"empty": message}`` when there is nothing to show yet."""
    from catalyst.monitor.quality import quality
    from catalyst.monitor.report import health
    from catalyst.monitor.slices import slices

    w = Window.last(since)
    try:
        rep = health(con, w, by=by, sla_hours=sla_hours)
    except NoDataError as e:
        return {"empty": str(e), "since": since, "by": by}
    tl = rep["timeline"]
    charts = [
        {"title": "verdicts", "last": f"{tl[-1]['n']:,}", "points": _points([b["n"] for b in tl], 0)},
        {"title": "flag rate", "last": f"{1 - (tl[-1]['accept_rate'] or 0):.1%}",
         "points": _points([1 - (b["accept_rate"] or 0) for b in tl], 0, 1)},
        {"title": "mean confidence", "last": "—" if tl[-1]["mean_confidence"] is None
         else f"{tl[-1]['mean_confidence']:.3f}", "points": _points([b["mean_confidence"] for b in tl], 0, 1)},
        {"title": "p95 latency (ms)", "last": "—" if not tl[-1]["ms_q"] else f"{tl[-1]['ms_q'][1]:.1f}",
         "points": _points([(b["ms_q"] or [None, None])[1] for b in tl], 0)},
    ]
    q = quality(con, w, by=by)
    sl = slices(con, w, min_size=min_segment, by=by, top=0)
    schema = prepare(con)
    alerts = rows(con, "SELECT * FROM monitor_alerts ORDER BY ts DESC LIMIT 20") if schema.has("monitor_alerts") else []
    firing = (rows(con, "SELECT rule, since, last_value FROM monitor_alert_state WHERE firing ORDER BY since")
              if schema.has("monitor_alert_state") else [])
    return {"empty": None, "since": since, "by": by, "window": w, "overview": rep["overview"], "charts": charts,
            "checks": rep["checks"], "latency": rep["latency"], "review": rep["review"],
            "overturn": rep["overturn"] or {}, "expected": q["expected"][-1] if q["expected"] else None,
            "audit": q.get("audit_total"), "alarms": q["alarms"], "slices": sl["ranked"][:8],
            "small": sl["too_small"][:5], "alerts": alerts, "firing": firing, "model_calls": rep["model_calls"]}


class DashboardCache:
    """Dashboard contexts per window (``since``), recomputed in the background once older than ``ttl`` seconds."""

    def __init__(self, store: Any, *, ttl: float = 60.0, sla_hours: float = 24.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.ttl, self.sla_hours, self.clock = store, ttl, sla_hours, clock
        self._data: dict[str, tuple[float, dict[str, Any]]] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self.errors: list[str] = []
        self.threads: dict[str, threading.Thread] = {}  #: the latest refresh per window (to wait on)

    def _compute(self, since: str) -> dict[str, Any]:
        by = "hour" if since == "24h" else "day"
        if getattr(self.store, "keep_open", False):
            with self.store.connect() as con:  # hold the store's lock only to open a cursor
                cur = con.cursor()
            try:
                return dashboard(cur, since=since, by=by, sla_hours=self.sla_hours)
            finally:
                cur.close()
        with self.store.connect(read_only=True) as con:
            return dashboard(con, since=since, by=by, sla_hours=self.sla_hours)

    def _refresh(self, since: str) -> None:
        try:
            d = self._compute(since)
            with self._lock:
                self._data[since] = (self.clock(), d)
        except Exception as e:  # a failed refresh keeps the last numbers; the page shows their age
            self.errors = [*self.errors[-9:], f"{type(e).__name__}: {e}"]
        finally:
            with self._lock:
                self._busy.discard(since)

    def get(self, since: str) -> dict[str, Any]:
        """The context for ``since``, with ``age_seconds``; computes now only when there is none yet."""
        with self._lock:
            entry = self._data.get(since)
            stale = entry is None or self.clock() - entry[0] > self.ttl
            start = stale and entry is not None and since not in self._busy
            if start:
                self._busy.add(since)
        if entry is None:
            d = self._compute(since)
            with self._lock:
                self._data[since] = entry = (self.clock(), d)
        elif start:
            self._start(since)
        return {**entry[1], "age_seconds": self.clock() - entry[0]}

    def warm(self, since: str = "7d") -> threading.Thread | None:
        """Compute ``since`` in the background now (e.g. when the server starts)."""
        with self._lock:
            if since in self._busy:
                return self.threads.get(since)
            self._busy.add(since)
        return self._start(since)

    def _start(self, since: str) -> threading.Thread:
        t = threading.Thread(target=self._refresh, args=(since,), name="catalyst-dashboard", daemon=True)
        self.threads[since] = t
        t.start()
        return t
