"""The health report of the log over a window: every number is one SQL aggregate in DuckDB.

Sections (keys of :func:`health`): ``overview`` (volume, decision mix, confidence, unverified share),
``timeline`` (per hour/day: volume, decisions, confidence quantiles, latency quantiles), ``checks``
(latency p50/p95/p99, error, timeout and failure rates, mean score — per check), ``latency`` (whole
verdict), ``model_calls`` (calls, tokens, errors per verdict), ``review`` (backlog now, its age, SLA
breaches, decided in the window) and ``overturn`` (how often reviewers disagree with the automatic call).

**Overturn** means the reviewer's label contradicts what the confidence said: the answer was judged wrong
(label 0) although its confidence was ≥ 0.5, or right (label 1) although it was < 0.5. Audit items
(auto-accepted answers sampled for review) are counted apart: their overturns are accepted errors.
"""

from __future__ import annotations

from typing import Any

import duckdb

from catalyst.monitor._sql import (
    BUCKETS,
    Schema,
    Window,
    bucket,
    log_span,
    prepare,
    require_rows,
    rows,
    wilson,
    window_table,
)

#: check_results has no timestamp: its rows are picked by their verdict's (a semi-join on verdict_id)
_IN_WINDOW = """SEMI JOIN (SELECT verdict_id FROM verdicts WHERE created_at >= ? AND created_at < ?) v
                ON c.verdict_id = v.verdict_id"""
_OUT_OF_WINDOW = """ANTI JOIN (SELECT verdict_id FROM verdicts WHERE NOT (created_at >= ? AND created_at < ?)) v
                    ON c.verdict_id = v.verdict_id"""
_TIMEOUT = "coalesce(c.error ILIKE '%timeout%' OR c.error ILIKE '%timed out%', false)"


def health(con: duckdb.DuckDBPyConnection, window: Window, *, by: str = "day", sla_hours: float = 24.0,
           db: str = "the log") -> dict[str, Any]:
    """Everything ``catalyst report`` shows for ``window``; raises NoDataError for an empty log/window."""
    schema = prepare(con)
    if by not in BUCKETS:
        from catalyst.errors import ConfigError

        raise ConfigError(f"--by `{by}` is not a bucket; use one of: {', '.join(BUCKETS)}")
    n_in = require_rows(con, window, db)
    p = window.params()
    n_all, _lo, _hi = log_span(con)
    # check rows are picked through their verdicts: keep (semi-join) the window's when it is the smaller side,
    # else drop (anti-join) the rest — the hash table is built on whichever set of verdict ids is smaller
    pick = (" " if n_in == n_all else _IN_WINDOW if n_in <= n_all - n_in else _OUT_OF_WINDOW)
    out: dict[str, Any] = {"window": {"start": window.start, "end": window.end, "by": by}}
    out["overview"] = rows(con, """
        SELECT count(*) AS n, count_if(decision = 'accept') / count(*) AS accept_rate,
               count_if(decision = 'review') / count(*) AS review_rate,
               count_if(decision = 'block') / count(*) AS block_rate,
               count_if(decision = 'retry') / count(*) AS retry_rate,
               avg(confidence) AS mean_confidence, count_if(confidence IS NULL) / count(*) AS unverified_rate,
               count(DISTINCT policy) AS policies, avg(attempts) AS mean_attempts
        FROM verdicts WHERE created_at >= ? AND created_at < ?""", p)[0]
    if schema.has("verdicts", "evidence"):
        out["overview"]["no_evidence_rate"] = con.execute(
            "SELECT count_if(evidence = 'none') / count(*) FROM verdicts WHERE created_at >= ? AND created_at < ?",
            p).fetchone()[0]  # type: ignore[index]
    out["timeline"] = rows(con, f"""
        SELECT {bucket('created_at', by)} AS bucket, count(*) AS n,
               count_if(decision = 'accept') / count(*) AS accept_rate,
               count_if(decision = 'review') / count(*) AS review_rate,
               count_if(decision = 'block') / count(*) AS block_rate,
               avg(confidence) AS mean_confidence,
               quantile_cont(confidence, [0.1, 0.5, 0.9]) AS confidence_q,
               quantile_cont(ms, [0.5, 0.95, 0.99]) AS ms_q
        FROM verdicts WHERE created_at >= ? AND created_at < ? GROUP BY bucket ORDER BY bucket""", p)
    out["confidence_histogram"] = rows(con, """
        SELECT least(floor(confidence * 10), 9)::INTEGER AS bin, count(*) AS n
        FROM verdicts WHERE created_at >= ? AND created_at < ? AND confidence IS NOT NULL
        GROUP BY bin ORDER BY bin""", p)
    out["latency"] = rows(con, """
        SELECT quantile_cont(ms, [0.5, 0.95, 0.99]) AS q, max(ms) AS max FROM verdicts
        WHERE created_at >= ? AND created_at < ?""", p)[0]
    out["checks"] = rows(con, f"""
        SELECT c.name AS check, count(*) AS n, quantile_cont(c.ms, [0.5, 0.95, 0.99]) AS ms_q,
               count_if(c.error IS NOT NULL) / count(*) AS error_rate,
               count_if({_TIMEOUT}) / count(*) AS timeout_rate,
               count_if(NOT c.passed) / count(*) AS fail_rate, avg(c.score) AS mean_score
        FROM check_results c {pick}
        GROUP BY c.name ORDER BY c.name""", [] if n_in == n_all else p)
    out["model_calls"] = _model_calls(con, schema, window, out["overview"]["n"])
    out["review"] = _review(con, schema, window, sla_hours)
    out["overturn"] = overturn(con, schema, window)
    return out


def _model_calls(con: duckdb.DuckDBPyConnection, schema: Schema, window: Window, n: int) -> dict[str, Any] | None:
    if not schema.has("model_calls"):
        return None
    r = rows(con, """
        SELECT count(*) AS calls, coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens, count_if(status <> 'ok') AS errors,
               quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS ms_q
        FROM model_calls WHERE ts >= ? AND ts < ?""", window.params())[0]
    r["calls_per_verdict"] = r["calls"] / n
    r["tokens_per_verdict"] = (r["prompt_tokens"] + r["completion_tokens"]) / n
    r["error_rate"] = r["errors"] / r["calls"] if r["calls"] else None
    by_model = rows(con, """
        SELECT model, count(*) AS calls, sum(prompt_tokens + completion_tokens) AS tokens,
               count_if(status <> 'ok') / count(*) AS error_rate
        FROM model_calls WHERE ts >= ? AND ts < ? GROUP BY model ORDER BY calls DESC""", window.params())
    r["by_model"] = by_model
    return r


def _review(con: duckdb.DuckDBPyConnection, schema: Schema, window: Window, sla_hours: float) -> dict[str, Any] | None:
    if not schema.has("review_items", "status"):
        return None
    audit = "coalesce(audit, false)" if schema.has("review_items", "audit") else "false"
    r = rows(con, f"""
        SELECT count_if(status IN ('pending', 'escalated')) AS backlog,
               count_if(status IN ('pending', 'escalated') AND {audit}) AS audit_backlog,
               quantile_cont(CASE WHEN status IN ('pending', 'escalated')
                             THEN epoch(?::TIMESTAMPTZ - created_at) / 3600 END, 0.5) AS age_p50_hours,
               max(CASE WHEN status IN ('pending', 'escalated') THEN epoch(?::TIMESTAMPTZ - created_at) / 3600 END)
                   AS age_max_hours,
               count_if(status IN ('pending', 'escalated')
                        AND created_at < ?::TIMESTAMPTZ - to_seconds(3600 * ?::DOUBLE)) AS sla_breaches,
               count_if(created_at >= ? AND created_at < ?) AS created,
               count_if(decided_at >= ? AND decided_at < ?) AS decided,
               quantile_cont(CASE WHEN decided_at >= ? AND decided_at < ?
                             THEN epoch(decided_at - created_at) / 3600 END, 0.5) AS decide_p50_hours
        FROM review_items""", [window.end, window.end, window.end, sla_hours, *window.params(), *window.params(),
                               *window.params()])[0]
    r["sla_hours"] = sla_hours
    return r


def overturn(con: duckdb.DuckDBPyConnection, schema: Schema, window: Window) -> dict[str, Any] | None:
    """Reviewer labels against the automatic call, for verdicts made in the window (audit items apart)."""
    if not schema.has("labels"):
        return None
    out = rows(con, f"""
        SELECT audit, count(*) AS n,
               count_if((label = 0 AND confidence >= 0.5) OR (label = 1 AND confidence < 0.5)) AS overturned,
               count_if(label = 0) AS wrong
        FROM {window_table(con, schema, window)} WHERE confidence IS NOT NULL
        GROUP BY ALL""")
    res: dict[str, Any] = {"review": None, "audit": None}
    for r in out:
        lo, hi = wilson(r["overturned"], r["n"])
        res["audit" if r["audit"] else "review"] = {**r, "rate": r["overturned"] / r["n"], "low": lo, "high": hi}
    return res
