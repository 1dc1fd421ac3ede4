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
    Schema,
    Window,
    benjamini_hochberg,
    bucket,
    normal_sf,
    prepare,
    rows,
    two_proportion_p,
    wilson,
    window_table,
)

#: stats of one group of verdicts; every one is a sum, so groups by segment string re-aggregate by key=value
_STATS = """count(*) AS n, count_if(decision <> 'accept') AS flagged, sum(confidence) AS conf_sum,
    sum(confidence * confidence) AS conf_sq, count(confidence) AS conf_n,
    count_if(decision = 'accept' AND confidence IS NOT NULL) AS acc_n,
    sum(CASE WHEN decision = 'accept' THEN 1 - confidence END) AS exp_err"""
_LABELS = """count(label) AS labelled,
    count_if((label = 0 AND confidence >= 0.5) OR (label = 1 AND confidence < 0.5)) AS overturned"""
_SUMS = ("n", "flagged", "conf_sum", "conf_sq", "conf_n", "acc_n", "exp_err")


def _by_key_value(inner: str, cols: tuple[str, ...], extra: str = "") -> str:
    """SQL: ``inner`` grouped by the raw segment string (JSON parsed once per distinct segment, not per verdict),
    then re-aggregated per segment key=value (plus ``extra`` grouping columns)."""
    sums = ", ".join(f"sum({c}) AS {c}" for c in cols)
    return f"""
        WITH seg AS ({inner}),
        kv AS (SELECT *, unnest(json_keys(segment)) AS k FROM seg WHERE json_type(segment) = 'OBJECT')
        SELECT k AS key, json_extract_string(segment, '$."' || k || '"') AS value{extra}, {sums}
        FROM kv GROUP BY ALL"""


def slices(con: duckdb.DuckDBPyConnection, window: Window, *, min_size: int = 200, alpha: float = 0.05,
           by: str = "day", top: int = 10) -> dict[str, Any]:
    schema: Schema = prepare(con)
    p = window.params()
    tot = rows(con, f"SELECT {_STATS} FROM verdicts WHERE created_at >= ? AND created_at < ?", p)[0]
    w = window_table(con, schema, window)
    got = rows(con, _by_key_value(f"""SELECT segment, {_STATS} FROM verdicts WHERE created_at >= ? AND created_at < ?
                                      AND segment IS NOT NULL GROUP BY segment""", _SUMS) + " ORDER BY key, n DESC", p)
    labs = {(r["key"], r["value"]): r for r in rows(con, _by_key_value(
        f"SELECT segment, {_LABELS} FROM {w} WHERE segment IS NOT NULL GROUP BY segment", ("labelled", "overturned")))}
    lab_tot = rows(con, f"SELECT {_LABELS} FROM {w}")[0]
    for r in got:
        lab = labs.get((r["key"], r["value"]), {})
        r["labelled"], r["overturned"] = int(lab.get("labelled") or 0), int(lab.get("overturned") or 0)
    lab_tot = {k: int(v or 0) for k, v in lab_tot.items()}
    out: list[dict[str, Any]] = []
    tests: list[tuple[dict[str, Any], str, float]] = []
    for r in got:
        s = {"key": r["key"], "value": r["value"], "n": int(r["n"])}
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
    timeline = _timeline(con, window, by, [(s["key"], s["value"]) for s in ranked[:top]]) if ranked and top else []
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


def _timeline(con: duckdb.DuckDBPyConnection, window: Window, by: str,
              which: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Flag rate and mean confidence per bucket for the top-ranked slices."""
    got = rows(con, _by_key_value(f"""
        SELECT segment, {bucket('created_at', by)} AS bucket, count(*) AS n, count_if(decision <> 'accept') AS flagged,
               sum(confidence) AS conf_sum, count(confidence) AS conf_n
        FROM verdicts WHERE created_at >= ? AND created_at < ? AND segment IS NOT NULL GROUP BY ALL""",
                                  ("n", "flagged", "conf_sum", "conf_n"), ", bucket") + " ORDER BY key, value, bucket",
               window.params())
    keep = set(which)
    return [{"key": r["key"], "value": r["value"], "bucket": r["bucket"], "n": r["n"],
             "flag_rate": r["flagged"] / r["n"],
             "mean_confidence": r["conf_sum"] / r["conf_n"] if r["conf_n"] else None}
            for r in got if (r["key"], r["value"]) in keep]
