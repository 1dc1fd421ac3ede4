"""Slices: every metric by ``metadata.segment`` value, compared with the rest of the traffic, ranked by evidence.

Each ``key=value`` of the verdicts' segment is one slice. Per slice: volume, flag rate (not accepted), mean
confidence, expected error of its accepted answers, and the reviewer overturn rate — each with a 95%
interval (Wilson for rates). Each metric is tested against the rest of the traffic (two-proportion z-test
for rates, Welch z for means); all p-values are adjusted together (Benjamini–Hochberg) and slices are
ranked by that evidence, not by the raw gap, so a 3-answer segment with a 100% flag rate does not outrank a
large one with a real shift. Slices under ``min_size`` verdicts are listed as too small and never judged.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from catalyst.monitor._sql import (
    BUCKETS,
    Schema,
    Window,
    benjamini_hochberg,
    normal_sf,
    prepare,
    rows,
    two_proportion_p,
    wilson,
    window_table,
)

_SLICES = """
    WITH v AS (SELECT * FROM {w} WHERE segment IS NOT NULL AND json_type(segment) = 'OBJECT'),
    kv AS (SELECT verdict_id, created_at, decision, confidence, label, k,
                  json_extract_string(segment, '$."' || k || '"') AS val
           FROM (SELECT *, unnest(json_keys(segment)) AS k FROM v))
"""


def slices(con: duckdb.DuckDBPyConnection, window: Window, *, min_size: int = 200, alpha: float = 0.05,
           by: str = "day", top: int = 10) -> dict[str, Any]:
    schema: Schema = prepare(con)
    p = window.params()
    tot = rows(con, """
        SELECT count(*) AS n, count_if(decision <> 'accept') AS flagged, sum(confidence) AS conf_sum,
               sum(confidence * confidence) AS conf_sq, count(confidence) AS conf_n,
               count_if(decision = 'accept' AND confidence IS NOT NULL) AS acc_n,
               sum(CASE WHEN decision = 'accept' THEN 1 - confidence END) AS exp_err
        FROM verdicts WHERE created_at >= ? AND created_at < ?""", p)[0]
    w = window_table(con, schema, window)
    lab_cols = ("count(kv.label) AS labelled, count_if((kv.label = 0 AND kv.confidence >= 0.5) OR "
                "(kv.label = 1 AND kv.confidence < 0.5)) AS overturned")
    got = rows(con, _SLICES.format(w=w) + f"""
        SELECT k AS key, val AS value, count(*) AS n, count_if(kv.decision <> 'accept') AS flagged,
               sum(kv.confidence) AS conf_sum, sum(kv.confidence * kv.confidence) AS conf_sq,
               count(kv.confidence) AS conf_n, count_if(kv.decision = 'accept' AND kv.confidence IS NOT NULL) AS acc_n,
               sum(CASE WHEN kv.decision = 'accept' THEN 1 - kv.confidence END) AS exp_err, {lab_cols}
        FROM kv GROUP BY ALL ORDER BY key, n DESC""")
    lab_tot = rows(con, f"""
        SELECT count(label) AS labelled, count_if((label = 0 AND confidence >= 0.5) OR
               (label = 1 AND confidence < 0.5)) AS overturned FROM {w}""")[0]
    out: list[dict[str, Any]] = []
    tests: list[tuple[dict[str, Any], str, float]] = []
    for r in got:
        s = {"key": r["key"], "value": r["value"], "n": r["n"]}
        s["flag_rate"] = r["flagged"] / r["n"]
        s["flag_low"], s["flag_high"] = wilson(r["flagged"], r["n"])
        s["mean_confidence"] = r["conf_sum"] / r["conf_n"] if r["conf_n"] else None
        s["expected_error"] = r["exp_err"] / r["acc_n"] if r["acc_n"] else None
        s["labelled"] = r["labelled"]
        s["overturn_rate"] = r["overturned"] / r["labelled"] if r["labelled"] else None
        s["overturn_low"], s["overturn_high"] = wilson(r["overturned"], r["labelled"])
        if r["n"] < min_size:
            s["status"] = "too_small"
            s["note"] = f"{r['n']} verdicts; at least {min_size} are needed to judge a segment"
            out.append(s)
            continue
        s["status"] = "ok"
        rest_n = tot["n"] - r["n"]
        s["p"] = {}
        if rest_n > 0:
            _z, pv = two_proportion_p(r["flagged"], r["n"], tot["flagged"] - r["flagged"], rest_n)
            s["p"]["flag_rate"] = pv
            s["rest_flag_rate"] = (tot["flagged"] - r["flagged"]) / rest_n
            _z, pw = _welch(r, tot)
            if pw is not None:
                s["p"]["mean_confidence"] = pw
            ln, lo = lab_tot["labelled"] - r["labelled"], lab_tot["overturned"] - r["overturned"]
            if r["labelled"] >= 30 and ln >= 30:
                s["p"]["overturn_rate"] = two_proportion_p(r["overturned"], r["labelled"], lo, ln)[1]
                s["rest_overturn_rate"] = lo / ln
        tests += [(s, metric, pv) for metric, pv in s["p"].items()]
        out.append(s)
    for (s, metric, _pv), q in zip(tests, benjamini_hochberg([t[2] for t in tests]), strict=True):
        s.setdefault("q", {})[metric] = q
    for s in out:
        if s["status"] == "ok" and s.get("q"):
            metric = min(s["q"], key=lambda m: s["q"][m])
            s["strongest"], s["evidence_q"] = metric, s["q"][metric]
            s["flagged"] = s["evidence_q"] < alpha
    ranked = sorted((s for s in out if s["status"] == "ok"), key=lambda s: s.get("evidence_q", 1.0))
    small = [s for s in out if s["status"] != "ok"]
    timeline = _timeline(con, w, by, [(s["key"], s["value"]) for s in ranked[:top]]) if ranked and top else []
    return {"min_size": min_size, "alpha": alpha, "ranked": ranked, "too_small": small, "timeline": timeline}


def _welch(r: dict[str, Any], tot: dict[str, Any]) -> tuple[float, float | None]:
    n1, n2 = r["conf_n"], tot["conf_n"] - r["conf_n"]
    if n1 < 2 or n2 < 2:
        return 0.0, None
    m1 = r["conf_sum"] / n1
    m2 = (tot["conf_sum"] - r["conf_sum"]) / n2
    v1 = max(0.0, (r["conf_sq"] - n1 * m1 * m1) / (n1 - 1))
    v2 = max(0.0, (tot["conf_sq"] - r["conf_sq"] - n2 * m2 * m2) / (n2 - 1))
    se = math.sqrt(v1 / n1 + v2 / n2)
    if se == 0:
        return 0.0, None
    z = (m1 - m2) / se
    return z, 2 * normal_sf(abs(z))


def _timeline(con: duckdb.DuckDBPyConnection, w: str, by: str, which: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Flag rate and mean confidence per bucket for the top-ranked slices."""
    return rows(con, _SLICES.format(w=w) + f"""
        SELECT k AS key, val AS value, time_bucket(INTERVAL '{BUCKETS[by]}', created_at) AS bucket, count(*) AS n,
               count_if(decision <> 'accept') / count(*) AS flag_rate, avg(confidence) AS mean_confidence
        FROM kv WHERE list_contains(?, k || '=' || coalesce(val, '∅')) GROUP BY ALL ORDER BY key, value, bucket""",
                [[f"{k}={v if v is not None else '∅'}" for k, v in which]])
