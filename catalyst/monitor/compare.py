"""Compare a challenger with the baseline, and decide whether the evidence supports promoting it.

**Same traffic** (a replay or shadow run, ``challenger_verdicts``): agreement of decisions, the confusion of
decisions, the answers where they differ most, and — on items with a reviewer label (audit items first: they
are an unbiased sample of accepted answers) — each policy's accepted error (accepted but labelled wrong).
The promotion test is paired: an exact one-sided McNemar (binomial) test on the labelled items where exactly
one policy accepts a wrong answer. The guardrail is the flag rate (review + block): the challenger may not
flag more than ``max_flag_increase`` (absolute) above the baseline, judged on the upper 95% bound of the
paired difference. Promote = test significant at ``alpha`` AND every guardrail holds.

**Different traffic** (a canary: the two arms are separate ids in ``verdicts``): the same metrics per arm,
with a two-proportion z-test on the accepted error of labelled items and the same guardrail.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from catalyst.errors import NoDataError
from catalyst.monitor._sql import Z95, Window, prepare, rows, two_proportion_p, wilson


def _binom_cdf(k: int, n: int) -> float:
    """P(X ≤ k), X ~ Binomial(n, ½)."""
    from scipy.stats import binom

    return float(binom.cdf(k, n, 0.5))


def compare_run(con: duckdb.DuckDBPyConnection, run_id: str | None = None, *, alpha: float = 0.05,
                max_flag_increase: float = 0.02, examples: int = 10) -> dict[str, Any]:
    """Agreement, differences, labelled metrics and the promotion test for one replay/shadow run."""
    prepare(con)
    if run_id is None:
        got = con.execute("SELECT run_id FROM challenger_verdicts ORDER BY ts DESC LIMIT 1").fetchone()
        if not got:
            raise NoDataError("no challenger verdicts in this log: run `catalyst replay --db D --policy P2` "
                              "or a Shadow first")
        run_id = str(got[0])
    base = "FROM challenger_verdicts WHERE run_id = ?"
    head = rows(con, f"""
        SELECT count(*) AS n, count_if(error IS NOT NULL) AS errors, any_value(mode) AS mode,
               any_value(policy) FILTER (WHERE error IS NULL) AS policy, mode(baseline_policy) AS baseline_policy,
               count_if(decision = baseline_decision) / count(*) AS agreement,
               count_if(baseline_decision <> 'accept') / count(*) AS baseline_flag_rate,
               count_if(decision <> 'accept') / count(*) AS challenger_flag_rate,
               count_if(baseline_decision <> 'accept' AND decision = 'accept') AS unflagged,
               count_if(baseline_decision = 'accept' AND decision <> 'accept') AS newly_flagged,
               avg(confidence - baseline_confidence) AS mean_confidence_shift
        {base}""", [run_id])[0]
    if not head["n"]:
        raise NoDataError(f"no challenger verdicts for run `{run_id}`; list runs with "
                          "`catalyst sql \"SELECT DISTINCT run_id, mode FROM challenger_verdicts\"`")
    confusion = rows(con, f"""SELECT baseline_decision, decision, count(*) AS n {base} AND error IS NULL
                              GROUP BY ALL ORDER BY n DESC""", [run_id])
    differ = rows(con, f"""SELECT id, baseline_decision, decision, baseline_confidence, confidence {base}
                           AND error IS NULL AND decision <> baseline_decision
                           ORDER BY abs(confidence - baseline_confidence) DESC LIMIT {int(examples)}""", [run_id])
    lab = rows(con, """
        SELECT coalesce(i.audit, false) AS audit, count(*) AS n,
               count_if(c.baseline_decision = 'accept') AS base_acc,
               count_if(c.baseline_decision = 'accept' AND l.label = 0) AS base_err,
               count_if(c.decision = 'accept') AS chal_acc, count_if(c.decision = 'accept' AND l.label = 0) AS chal_err,
               count_if(c.baseline_decision = 'accept' AND l.label = 0 AND NOT (c.decision = 'accept')) AS only_base,
               count_if(c.decision = 'accept' AND l.label = 0 AND NOT (c.baseline_decision = 'accept')) AS only_chal
        FROM challenger_verdicts c JOIN labels_latest l ON l.id = c.id LEFT JOIN review_items i ON i.id = c.id
        WHERE c.run_id = ? AND c.error IS NULL GROUP BY ALL""", [run_id])
    labelled = {("audit" if r["audit"] else "review"): r for r in lab}
    for r in labelled.values():
        r["baseline_accepted_error"] = r["base_err"] / r["base_acc"] if r["base_acc"] else None
        r["challenger_accepted_error"] = r["chal_err"] / r["chal_acc"] if r["chal_acc"] else None
    b = sum(r["only_base"] for r in lab)
    c = sum(r["only_chal"] for r in lab)
    p = _binom_cdf(c, b + c) if b + c else 1.0
    n = head["n"] - head["errors"]
    diff = (head["newly_flagged"] - head["unflagged"]) / n if n else 0.0
    se = math.sqrt(max(0.0, (head["newly_flagged"] + head["unflagged"]) / n - diff * diff) / n) if n else 0.0
    upper = diff + Z95 * se
    guard = {"metric": "flag_rate", "difference": diff, "upper95": upper, "limit": max_flag_increase,
             "ok": upper <= max_flag_increase}
    test = {"kind": "McNemar exact, one-sided (challenger accepts fewer wrong answers)",
            "baseline_only_errors": b, "challenger_only_errors": c, "p": p, "alpha": alpha}
    promote = p < alpha and guard["ok"]
    why = (f"challenger accepts fewer wrong answers (p={p:.3g}) and flags within the guardrail" if promote
           else f"guardrail breached: the challenger flags {diff:+.1%} more answers (upper bound {upper:+.1%} > "
                f"{max_flag_increase:+.1%})" if not guard["ok"]
           else f"no evidence the challenger is better: {c} vs {b} labelled wrong answers accepted only by one "
                f"(p={p:.3g} ≥ {alpha})")
    return {"run_id": run_id, **head, "confusion": confusion, "differences": differ, "labelled": labelled,
            "test": test, "guardrails": [guard], "promote": promote, "recommendation": why}


def compare_canary(con: duckdb.DuckDBPyConnection, stable: str, challenger: str, window: Window, *,
                   alpha: float = 0.05, max_flag_increase: float = 0.02) -> dict[str, Any]:
    """Two arms on different ids (a canary): per-arm metrics and a two-proportion test on labelled accepted error."""
    prepare(con)
    arms = rows(con, """
        SELECT v.policy, count(*) AS n, count_if(v.decision <> 'accept') AS flagged,
               avg(v.confidence) AS mean_confidence,
               count_if(v.decision = 'accept' AND l.label IS NOT NULL) AS acc_labelled,
               count_if(v.decision = 'accept' AND l.label = 0) AS acc_wrong, quantile_cont(v.ms, 0.95) AS p95_ms
        FROM verdicts v LEFT JOIN labels_latest l ON l.verdict_id = v.verdict_id
        WHERE v.created_at >= ? AND v.created_at < ? AND v.policy IN (?, ?) GROUP BY v.policy""",
                [*window.params(), stable, challenger])
    by = {r["policy"]: r for r in arms}
    missing = [p for p in (stable, challenger) if p not in by]
    if missing:
        raise NoDataError(f"no verdicts of {', '.join(missing)} between {window.label()}; the canary arms are "
                          "told apart by verdicts.policy — check the versions with `catalyst sql`")
    s, c = by[stable], by[challenger]
    for r in (s, c):
        r["flag_rate"] = r["flagged"] / r["n"]
        r["accepted_error"] = r["acc_wrong"] / r["acc_labelled"] if r["acc_labelled"] else None
        r["accepted_error_low"], r["accepted_error_high"] = wilson(r["acc_wrong"], r["acc_labelled"])
    z, p2 = two_proportion_p(c["acc_wrong"], c["acc_labelled"], s["acc_wrong"], s["acc_labelled"])
    p = p2 / 2 if z < 0 else 1 - p2 / 2  # one-sided: challenger's accepted error lower
    diff = c["flag_rate"] - s["flag_rate"]
    se = math.sqrt(c["flag_rate"] * (1 - c["flag_rate"]) / c["n"] + s["flag_rate"] * (1 - s["flag_rate"]) / s["n"])
    guard = {"metric": "flag_rate", "difference": diff, "upper95": diff + Z95 * se, "limit": max_flag_increase,
             "ok": diff + Z95 * se <= max_flag_increase}
    promote = p < alpha and guard["ok"]
    return {"stable": s, "challenger": c, "test": {"kind": "two-proportion z, one-sided", "z": z, "p": p,
                                                   "alpha": alpha},
            "guardrails": [guard], "promote": promote}
