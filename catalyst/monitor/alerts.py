"""Evaluating alert rules against the log: values in DuckDB, hysteresis state in a table, every firing logged.

One evaluation (``catalyst watch --once``, or each tick of ``--every 5m``) computes each rule's metric over its
window ending now, updates the rule's state (``monitor_alert_state``: breaches and clears in a row, firing or
not) and, on a transition, appends a row to ``monitor_alerts`` and sends an ``alert`` or ``recovered`` event to
the policy's webhooks (``review.notify``, the same sinks as review notifications). A rule whose window holds
fewer than ``min_count`` verdicts is not evaluated (its state is kept, and the result says so): silence is
not health. Drift rules (``metric: drift:<name>``, or ``drift:any``) run the drift tests of
:mod:`catalyst.monitor.drift` between the window and the one before it; the value is the test's q-value and
the rule breaches when it is under ``alpha``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from catalyst.monitor._sql import Window, parse_duration, prepare
from catalyst.monitor.rules import DRIFT_PREFIX, AlertRule

_OPS = {">": operator.gt, "<": operator.lt}


@dataclass
class Evaluation:
    """One rule's outcome in one evaluation."""

    rule: str
    metric: str
    value: float | None
    count: int
    threshold: float | None
    breach: bool | None       #: None: not evaluated (too little data)
    firing: bool
    event: str | None         #: "fired" | "recovered" | None
    message: str


def _value(con: duckdb.DuckDBPyConnection, metric: str, w: Window, sla_hours: float) -> tuple[float | None, int]:
    p = w.params()
    n = int(con.execute("SELECT count(*) FROM verdicts WHERE created_at >= ? AND created_at < ?", p).fetchone()[0])  # type: ignore[index]
    simple = {
        "volume": "count(*)", "flag_rate": "count_if(decision <> 'accept') / count(*)",
        "accept_rate": "count_if(decision = 'accept') / count(*)",
        "review_rate": "count_if(decision = 'review') / count(*)",
        "block_rate": "count_if(decision = 'block') / count(*)", "mean_confidence": "avg(confidence)",
        "unverified_rate": "count_if(confidence IS NULL) / count(*)",
        "latency_p95_ms": "quantile_cont(ms, 0.95)", "latency_p99_ms": "quantile_cont(ms, 0.99)",
        "expected_error": "avg(CASE WHEN decision = 'accept' THEN 1 - confidence END)",
    }
    if metric in simple:
        v = con.execute(f"SELECT {simple[metric]} FROM verdicts WHERE created_at >= ? AND created_at < ?",
                        p).fetchone()
        return (None if v is None or v[0] is None else float(v[0])), n
    if metric == "check_error_rate":
        v = con.execute("""SELECT count_if(c.error IS NOT NULL) / count(*) FROM check_results c
                           SEMI JOIN (SELECT verdict_id FROM verdicts WHERE created_at >= ? AND created_at < ?) v
                           ON c.verdict_id = v.verdict_id""", p).fetchone()
        return (None if v is None or v[0] is None else float(v[0])), n
    if metric in ("audit_error_rate", "overturn_rate"):
        cond = ("coalesce(i.audit, false) AND l.label = 0" if metric == "audit_error_rate" else
                "(l.label = 0 AND v.confidence >= 0.5) OR (l.label = 1 AND v.confidence < 0.5)")
        only = "AND coalesce(i.audit, false)" if metric == "audit_error_rate" else ""
        row = con.execute(f"""
            SELECT count_if({cond}), count(*) FROM labels_latest l JOIN verdicts v ON v.verdict_id = l.verdict_id
                 LEFT JOIN review_items i ON i.id = l.id
            WHERE v.created_at >= ? AND v.created_at < ? {only}""", p).fetchone()
        k, m = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
        return (k / m if m else None), m
    if metric in ("review_backlog", "sla_breaches"):
        cond = "" if metric == "review_backlog" else "AND created_at < ?::TIMESTAMPTZ - to_seconds(3600 * ?::DOUBLE)"
        params: list[Any] = [] if metric == "review_backlog" else [w.end, sla_hours]
        v = con.execute(f"SELECT count(*) FROM review_items WHERE status IN ('pending', 'escalated') {cond}",
                        params).fetchone()
        return float(v[0]) if v else 0.0, n
    raise ValueError(f"metric {metric!r} has no query")  # AlertRule validation makes this unreachable


def _drift_value(con: duckdb.DuckDBPyConnection, name: str, w: Window) -> tuple[float | None, int, float]:
    from catalyst.monitor.drift import DriftSettings, drift_report

    s = DriftSettings()
    rep = drift_report(con, w.before(), w, s, text=name in ("any", "text:input", "text:output"))
    judged = [t for t in rep["tests"] if t.get("q") is not None and (name == "any" or t["metric"] == name)]
    n = min((min(t["n_ref"], t["n_cur"]) for t in judged), default=0)
    if not judged:
        return None, n, s.alpha
    return min(t["q"] for t in judged), n, s.alpha


def evaluate(con: duckdb.DuckDBPyConnection, rules: list[AlertRule], *, now: datetime | None = None,
             sla_hours: float = 24.0, notifier: Any = None) -> list[Evaluation]:
    """Evaluate every rule once at ``now``; log transitions and notify. ``con`` must be read-write."""
    prepare(con)
    now = now or datetime.now(UTC)
    out = []
    for rule in rules:
        w = Window(now - parse_duration(rule.window, what=f"alert `{rule.name}` window"), now)
        threshold: float | None
        clear: float | None
        if rule.metric.startswith(DRIFT_PREFIX):
            value, count, alpha = _drift_value(con, rule.metric[len(DRIFT_PREFIX):], w)
            threshold, op, clear = alpha, "<", alpha
        else:
            value, count = _value(con, rule.metric, w, sla_hours)
            threshold, op = rule.threshold, rule.op
            clear = rule.clear if rule.clear is not None else threshold
        out.append(_step(con, rule, w, value, count, threshold, op, clear, now, notifier))
    return out


def _step(con: duckdb.DuckDBPyConnection, rule: AlertRule, w: Window, value: float | None, count: int,
          threshold: float | None, op: str, clear: float | None, now: datetime, notifier: Any) -> Evaluation:
    row = con.execute("SELECT firing, breaches, clears FROM monitor_alert_state WHERE rule = ?", [rule.name]).fetchone()
    firing, breaches, clears = (bool(row[0]), int(row[1]), int(row[2])) if row else (False, 0, 0)
    if value is None or count < rule.min_count or threshold is None or clear is None:
        return Evaluation(rule.name, rule.metric, value, count, threshold, None, firing, None,
                          f"{rule.name}: not evaluated — {count} verdicts in the last {rule.window} "
                          f"(needs {rule.min_count})")
    breach = _OPS[op](value, threshold)
    healthy = not breach and not _OPS[op](value, clear) and value != clear
    breaches = breaches + 1 if breach else 0
    clears = clears + 1 if healthy else 0
    event = None
    if not firing and breaches >= rule.for_:
        firing, event = True, "fired"
    elif firing and clears >= rule.clear_for:
        firing, event = False, "recovered"
    what = f"{rule.metric} = {value:.4g} ({op} {threshold:g} breaches) over the last {rule.window}"
    message = (f"ALERT {rule.name}: {what}" if event == "fired" else
               f"RECOVERED {rule.name}: {rule.metric} = {value:.4g}, back past {clear:g}" if event == "recovered" else
               f"{rule.name}: {rule.metric} = {value:.4g} ({'breach' if breach else 'ok'}"
               f"{', firing' if firing else ''})")
    con.execute("""
        INSERT INTO monitor_alert_state VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (rule) DO UPDATE SET firing = excluded.firing, breaches = excluded.breaches,
            clears = excluded.clears, since = CASE WHEN excluded.firing <> monitor_alert_state.firing
                                                   THEN excluded.since ELSE monitor_alert_state.since END,
            last_value = excluded.last_value, updated_at = excluded.updated_at""",
                [rule.name, firing, breaches, clears, now, value, now])
    if event is not None:
        sent = 0
        if notifier is not None:
            sent = int(bool(notifier.emit("alert" if event == "fired" else "recovered", {
                "id": rule.name, "rule": rule.name, "metric": rule.metric, "value": value, "threshold": threshold,
                "window": rule.window, "message": message})))
        con.execute("INSERT INTO monitor_alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [now, rule.name, event, rule.metric, value, threshold, w.start, w.end, message, sent])
    return Evaluation(rule.name, rule.metric, value, count, threshold, breach, firing, event, message)


def alert_notifier(policy: Any) -> Any:
    """A notifier for ``alert`` and ``recovered`` events to the policy's ``review.notify`` sinks (None if none)."""
    from catalyst.review.notify import Notifier

    base = Notifier.from_policy(policy)
    if base is None or not base.sinks:
        return None
    return Notifier(base.sinks, events=("alert", "recovered"))
