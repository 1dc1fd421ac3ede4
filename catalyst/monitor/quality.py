"""Quality without waiting for labels, and the labels that check it.

* **Expected error of auto-accepted answers** (the CBPE idea): with a calibrated confidence ``c``, an accepted
  answer is wrong with probability ``1 − c``, so a window's expected error rate is ``mean(1 − c)`` over its
  accepted answers, and the realised rate lies within ``± 1.96 · sqrt(Σ c(1 − c)) / n`` of it (normal
  approximation to the Poisson-binomial). It is only as good as the calibration — which the next two check.
* **Audit labels** (accepted answers sampled at random for review, ``review.audit_sample``): their observed
  error rate (Wilson interval) is an unbiased estimate of the accepted error; a z-test of observed against
  expected errors *on the same items* raises the **concept-drift alarm** when reviewers disagree with what the
  confidence promised (Benjamini–Hochberg over the buckets).
* **Calibration over time**: ECE (10 equal-width bins, computed in DuckDB) of every labelled verdict per
  bucket; the alarm fires when a bucket with enough labels exceeds ``ece_alarm``.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from catalyst.monitor._sql import (
    Z95,
    Schema,
    Window,
    benjamini_hochberg,
    normal_sf,
    prepare,
    rows,
    wilson,
    window_table,
)
from catalyst.monitor._sql import (
    bucket as bucket_sql,
)


def quality(con: duckdb.DuckDBPyConnection, window: Window, *, by: str = "day", alpha: float = 0.05,
            min_labels: int = 30, ece_alarm: float = 0.1) -> dict[str, Any]:
    schema: Schema = prepare(con)
    bucket = bucket_sql("v.created_at", by)
    est = rows(con, f"""
        SELECT {bucket} AS bucket, count(*) AS accepted, avg(1 - confidence) AS expected_error,
               sum(confidence * (1 - confidence)) AS var_sum
        FROM verdicts v WHERE v.created_at >= ? AND v.created_at < ? AND decision = 'accept'
             AND confidence IS NOT NULL
        GROUP BY bucket ORDER BY bucket""", window.params())
    for r in est:
        half = Z95 * math.sqrt(r.pop("var_sum")) / r["accepted"]
        r["low"], r["high"] = max(0.0, r["expected_error"] - half), min(1.0, r["expected_error"] + half)
    out: dict[str, Any] = {"expected": est, "audit": [], "calibration": [], "alarms": []}
    if not schema.has("labels"):
        out["note"] = "no labels table: audit and calibration need reviewer labels"
        return out
    w = window_table(con, schema, window)
    aud = rows(con, f"""
        SELECT {bucket} AS bucket, count(*) AS n, count_if(v.label = 0) AS errors,
               sum(1 - v.confidence) AS expected_errors, sum(v.confidence * (1 - v.confidence)) AS var_sum
        FROM {w} v WHERE v.audit AND v.label IS NOT NULL AND v.confidence IS NOT NULL
        GROUP BY bucket ORDER BY bucket""")
    for r in aud:
        r["error_rate"] = r["errors"] / r["n"]
        r["low"], r["high"] = wilson(r["errors"], r["n"])
        r["z_var"] = r.pop("var_sum")
        sd = math.sqrt(r["z_var"])
        r["z"] = (r["errors"] - r["expected_errors"]) / sd if sd > 0 else 0.0
        r["p"] = 2 * normal_sf(abs(r["z"])) if r["n"] >= min_labels else None
    if aud:
        n, errors, exp = (sum(r[k] for r in aud) for k in ("n", "errors", "expected_errors"))
        var = sum(r["z_var"] for r in aud)
        lo, hi = wilson(errors, n)
        z = (errors - exp) / math.sqrt(var) if var > 0 else 0.0
        out["audit_total"] = {"n": n, "errors": errors, "error_rate": errors / n, "low": lo, "high": hi,
                              "expected_error": exp / n, "z": z,
                              "p": 2 * normal_sf(abs(z)) if n >= min_labels else None}
    judged = [r for r in aud if r["p"] is not None]
    for r, q in zip(judged, benjamini_hochberg([r["p"] for r in judged]), strict=True):
        r["q"] = q
        if q < alpha:
            out["alarms"].append({"kind": "concept_drift", "bucket": r["bucket"], "observed": r["error_rate"],
                                  "expected": r["expected_errors"] / r["n"], "n": r["n"], "q": q})
    out["audit"] = aud
    cal = rows(con, f"""
        WITH lab AS (
            SELECT {bucket} AS bucket, least(floor(v.confidence * 10), 9) AS bin, v.label, v.confidence
            FROM {w} v WHERE v.label IS NOT NULL AND v.confidence IS NOT NULL),
        bins AS (SELECT bucket, bin, count(*) AS n, avg(label) AS acc, avg(confidence) AS conf FROM lab GROUP BY ALL)
        SELECT bucket, sum(n) AS n, sum(n * abs(acc - conf)) / sum(n) AS ece FROM bins GROUP BY bucket
        ORDER BY bucket""")
    for r in cal:
        r["judged"] = r["n"] >= min_labels
        if r["judged"] and r["ece"] > ece_alarm:
            out["alarms"].append({"kind": "calibration", "bucket": r["bucket"], "ece": r["ece"], "n": r["n"]})
    out["calibration"] = cal
    out["settings"] = {"alpha": alpha, "min_labels": min_labels, "ece_alarm": ece_alarm}
    return out
