"""Every evaluation number for one confidence score on labelled records, as one JSON-ready dict.

:func:`evaluate` computes, on the same records: ranking (AUROC, AUPRC for correct answers and for errors),
calibration (Brier, log loss, ECE with reliability-diagram bins), selective prediction (risk-coverage curve,
accuracy at 80% coverage, the review rate that keeps accepted answers under a target error), decision
rates when decisions are known, per-check AUROC, the answer-length baseline, and all of it per segment
(``metadata.segment``), flagging segments that do worse than overall by at least ``flag_delta`` on any metric
(the worst-off one marked ``most_different``) and reporting segments under ``min_segment`` as too small.

Answers no evidence check could score (``evidence: none``: no confidence) are left out of every metric of the
confidence and reported on their own under ``unverified`` (how many, their accuracy, their decisions); the
``decisions`` rates cover every labelled answer, verified or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from catalyst.evaluation.data import EvalData
from catalyst.evaluation.errors import InvalidScoresError
from catalyst.evaluation.metrics import (
    Binning,
    accuracy_at_coverage,
    as_scores,
    auprc,
    auroc,
    brier,
    log_loss,
    reliability,
    review_rate_for_error,
    risk_coverage,
)

__all__ = ["DEFAULTS", "decision_summary", "evaluate", "length_baseline", "score_summary", "unverified_summary"]

#: Defaults stated in every report so a reader knows how the numbers were made.
DEFAULTS: dict[str, Any] = {"n_bins": 10, "binning": "width", "target_error": 0.05, "coverage": 0.8,
                            "min_segment": 30, "flag_delta": 0.05, "max_segment_values": 50}


def score_summary(y: np.ndarray, s: np.ndarray, *, probability: bool = True, n_bins: int = 10,
                  binning: Binning = "width", target_error: float = 0.05, coverage: float = 0.8,
                  curve: bool = True) -> dict[str, Any]:
    """Ranking, calibration and selective-prediction numbers for score ``s`` against labels ``y``."""
    out: dict[str, Any] = {
        "n": int(y.size), "accuracy": float(y.mean()), "mean_score": float(s.mean()),
        "auroc": auroc(y, s), "auprc": auprc(y, s), "auprc_error": auprc(y, s, positive=0),
        f"accuracy_at_{round(coverage * 100)}": accuracy_at_coverage(y, s, coverage),
    }
    rc = risk_coverage(y, s)
    out["aurc"] = rc.aurc
    out["review_for_target"] = review_rate_for_error(y, s, target_error).to_dict()
    if probability:
        rel = reliability(y, s, n_bins=n_bins, strategy=binning)
        out.update(brier=brier(y, s), log_loss=log_loss(y, s), ece=rel.ece, mce=rel.mce)
        if curve:
            out["reliability"] = rel.to_dict()
    if curve:
        out["risk_coverage"] = {"coverage": rc.coverage, "accuracy": rc.accuracy}
        lo, hi = (0.0, 1.0) if probability else (float(s.min()), float(s.max()) or 1.0)
        edges = np.linspace(lo, hi, 21)
        out["histogram"] = {"edges": [float(e) for e in edges],
                            "correct": [int(c) for c in np.histogram(s[y == 1], edges)[0]],
                            "incorrect": [int(c) for c in np.histogram(s[y == 0], edges)[0]]}
    return out


def length_baseline(y: np.ndarray, chars: np.ndarray, *, coverage: float = 0.8) -> dict[str, Any] | None:
    """How well answer length alone ranks the answers, in whichever direction works better here.

    The direction is picked on these same records, so the baseline is slightly optimistic — that is the
    point: a detector must beat the best a one-number shortcut can do.
    """
    known = np.isfinite(chars)
    if known.sum() < 2 or len(set(y[known].tolist())) < 2:
        return None
    yy, cc = y[known], chars[known]
    a = auroc(yy, -cc)
    direction, s = ("shorter is more often correct", -cc) if a >= 0.5 else ("longer is more often correct", cc)
    rc = risk_coverage(yy, s, points=101)
    return {"n": int(yy.size), "auroc": max(a, 1 - a), "direction": direction,
            f"accuracy_at_{round(coverage * 100)}": accuracy_at_coverage(yy, s, coverage), "aurc": rc.aurc,
            "risk_coverage": {"coverage": rc.coverage, "accuracy": rc.accuracy}}


def decision_summary(y: np.ndarray, decision: np.ndarray) -> dict[str, Any] | None:
    """Accept/review/block rates and the precision of accepted answers, when decisions are known."""
    known = np.array([d is not None for d in decision], dtype=bool)
    if not known.any():
        return None
    d = decision[known].astype(str)
    yy = y[known]
    out: dict[str, Any] = {"n": int(known.sum())}
    for name in ("accept", "review", "block", "retry"):
        out[f"{name}_rate"] = float(np.mean(d == name))
    acc = d == "accept"
    out["precision_accepted"] = float(yy[acc].mean()) if acc.any() else None
    out["error_accepted"] = float(1 - yy[acc].mean()) if acc.any() else None
    blk = d == "block"
    out["correct_blocked_rate"] = float(yy[blk].mean()) if blk.any() else None
    return out


def unverified_summary(y: np.ndarray, decision: np.ndarray, n_labelled: int) -> dict[str, Any]:
    """The labelled answers no evidence check scored: how many, how often right, what happened to them."""
    n = int(y.size)
    return {"n": n, "share": n / max(1, n_labelled), "accuracy": float(y.mean()) if n else None,
            "decisions": decision_summary(y, decision) if n else None}


def _check_aurocs(d: EvalData, y: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j, name in enumerate(d.check_names):
        col = d.scores[:, j]
        ok = np.isfinite(col)
        n = int(ok.sum())
        entry: dict[str, Any] = {"n": n, "coverage": n / max(1, y.size)}
        if n == 0:
            entry["note"] = "no scores (never ran or always errored)"
        elif len(set(y[ok].tolist())) < 2:
            entry["note"] = "records it scored are all one class"
        else:
            entry["auroc"] = auroc(y[ok], col[ok], name=name)
            entry["mean_score"] = float(col[ok].mean())
        out[name] = entry
    return out


def _segment_entry(y: np.ndarray, s: np.ndarray, chars: np.ndarray, opts: dict[str, Any]) -> dict[str, Any]:
    n = int(y.size)
    entry: dict[str, Any] = {"n": n, "n_correct": int(y.sum())}
    if n < opts["min_segment"]:
        entry["status"] = "too_small"
        entry["note"] = f"{n} records, fewer than the {opts['min_segment']} needed to compare; not a disparity"
        return entry
    entry.update(accuracy=float(y.mean()), mean_confidence=float(s.mean()), brier=brier(y, s))
    entry["ece"] = reliability(y, s, n_bins=opts["n_bins"], strategy=opts["binning"]).ece
    if len(set(y.tolist())) < 2:
        entry["status"] = "single_class"
        entry["note"] = "all labels are one class here; AUROC is undefined"
        return entry
    entry["status"] = "ok"
    entry["auroc"] = auroc(y, s)
    entry["accuracy_at_80"] = accuracy_at_coverage(y, s, 0.8)
    base = length_baseline(y, chars)
    entry["length_auroc"] = base["auroc"] if base else None
    return entry


def _segments(d: EvalData, y: np.ndarray, s: np.ndarray, overall: dict[str, Any],
              opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, col in d.segments.items():
        vals = np.array(["(none)" if v is None else str(v) for v in col], dtype=object)
        uniq, inv, counts = np.unique(vals, return_inverse=True, return_counts=True)
        order = np.argsort(-counts, kind="mergesort")
        rows: list[dict[str, Any]] = []
        limit = opts["max_segment_values"]
        for rank, g in enumerate(order):
            if rank >= limit:
                rows.append({"value": f"({uniq.size - limit} more values not shown)",
                             "n": int(counts[order[limit:]].sum()), "status": "truncated"})
                break
            m = inv == g
            entry = _segment_entry(y[m], s[m], d.output_chars[m], opts)
            entry["value"] = str(uniq[g])
            rows.append(entry)
        ok = [r for r in rows if r.get("status") in ("ok", "single_class")]
        for r in ok:
            deltas = {"accuracy": r["accuracy"] - overall["accuracy"], "ece": r["ece"] - overall["ece"],
                      "brier": r["brier"] - overall["brier"]}
            if "auroc" in r:
                deltas["auroc"] = r["auroc"] - overall["auroc"]
            # a segment is flagged for being *worse* than overall: lower AUROC/accuracy, higher ECE/Brier
            shortfall = {k: (-v if k in ("auroc", "accuracy") else v) for k, v in deltas.items()}
            worst = max(shortfall, key=lambda k: shortfall[k])
            r["delta"] = deltas
            r["disparity"] = shortfall[worst]
            r["worst_metric"] = worst
            r["flagged"] = r["disparity"] >= opts["flag_delta"]
        if len(ok) >= 2:
            top = max(ok, key=lambda r: r["disparity"])
            if top["disparity"] > 0:
                top["most_different"] = True
        out[key] = {"values": rows, "n_too_small": sum(r.get("status") == "too_small" for r in rows),
                    "flagged": [r["value"] for r in ok if r.get("flagged")]}
    return out


def evaluate(data: EvalData, confidence: np.ndarray | None = None, *, name: str = "confidence",
             **options: Any) -> dict[str, Any]:
    """The full report for ``confidence`` (default: the data's own) on the labelled rows of ``data``.

    Options (defaults in :data:`DEFAULTS`): ``n_bins``, ``binning`` ("width" = equal-width bins, the
    default; "mass" = equal-count bins), ``target_error``, ``coverage``, ``min_segment``, ``flag_delta``.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown evaluate options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    conf_all = data.confidence if confidence is None else np.asarray(confidence, dtype=float)
    lab_mask = data.label >= 0
    d_all = data.labelled()
    conf = conf_all[lab_mask]
    verified = np.isfinite(conf)
    if not verified.any():
        raise InvalidScoresError(
            f"no `{name}` on any of the {len(d_all)} labelled records: none was verified (evidence: none). Give "
            "scored lines (a verdict's `confidence`, or `checks` with scores of the policy's evidence checks such "
            "as grounding), or raw records with their context plus a policy so they can be validated first")
    # the metrics of a probability are measured where there is one; unverified answers are reported apart
    d = d_all.take(verified)
    s = as_scores(conf[verified], name=name)
    y = d.label.astype(np.int8)
    y_all = d_all.label.astype(np.int8)
    overall = score_summary(y, s, n_bins=opts["n_bins"], binning=opts["binning"],
                            target_error=opts["target_error"], coverage=opts["coverage"])
    report: dict[str, Any] = {
        "settings": opts, "n_records": len(data), "n_labelled": len(d_all), "n_verified": len(d),
        "base_rate": float(y.mean()),
        "overall": overall,
        "unverified": unverified_summary(y_all[~verified], d_all.decision[~verified], len(d_all)),
        "baseline": {"length": length_baseline(y, d.output_chars, coverage=opts["coverage"])},
        "decisions": decision_summary(y_all, d_all.decision),
        "checks": _check_aurocs(d, y),
        "segments": _segments(d, y, s, overall, opts),
    }
    return report
