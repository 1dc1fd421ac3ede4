"""Ranking and calibration metrics for a confidence score against 0/1 labels, vectorised in numpy.

Conventions used everywhere in Catalyst: ``y = 1`` means the answer is correct/faithful, ``y = 0`` that it
is not; a score is a confidence, higher = more trustworthy. Every function is O(n log n) numpy (one sort),
with no per-record Python loop, so 100k records take milliseconds.

Ties are handled honestly: AUROC uses average ranks, and coverage-based numbers (risk-coverage, accuracy at
80% coverage, review rate for a target error) interpolate inside a group of tied scores — the expected value
under random tie-breaking — because a threshold cannot split records that share a score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from catalyst.evaluation.errors import InvalidScoresError, MissingLabelsError, SingleClassError

__all__ = [
    "ReliabilityBins", "RiskCoverage", "TargetReview", "accuracy_at_coverage", "as_labels", "as_scores",
    "auprc", "auroc", "brier", "ece", "log_loss", "rankdata", "reliability", "review_rate_for_error",
    "risk_coverage",
]

Binning = Literal["width", "mass"]


# -- input validation ---------------------------------------------------------------------------------
def as_labels(y: Any, *, name: str = "label") -> np.ndarray:
    """Labels as an int8 array of 0/1; raises a clear error for empty, missing or non-binary labels."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise MissingLabelsError(f"`{name}` must be a flat list of 0/1 values, got shape {arr.shape}")
    if arr.size == 0:
        raise MissingLabelsError(f"no `{name}` values: add `\"label\": 1` (correct) or `0` (incorrect) to records")
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MissingLabelsError(f"`{name}` must be 0 or 1; row {i} has {arr[i]!r} ({int(bad.sum())} bad rows)")
    return arr.astype(np.int8)


def as_scores(s: Any, *, name: str = "confidence", probability: bool = True, n: int | None = None) -> np.ndarray:
    """Scores as float64; NaN/inf (and, for probabilities, values outside [0, 1]) raise with the first row."""
    arr = np.asarray(s, dtype=float)
    if arr.ndim != 1:
        raise InvalidScoresError(f"`{name}` must be a flat list of numbers, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise InvalidScoresError(f"`{name}` has {arr.size} values but there are {n} labels; they must pair up")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidScoresError(
            f"`{name}` has {int(bad.sum())} NaN/missing/infinite values (first at row {i}); drop those records "
            "or fix what produced the score")
    if probability:
        out = (arr < 0.0) | (arr > 1.0)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise InvalidScoresError(f"`{name}` must lie in [0, 1]; row {i} has {arr[i]!r}")
    return arr


def _pair(y: Any, s: Any, name: str, probability: bool) -> tuple[np.ndarray, np.ndarray]:
    yy = as_labels(y)
    return yy, as_scores(s, name=name, probability=probability, n=yy.size)


def _both_classes(y: np.ndarray, what: str) -> tuple[int, int]:
    n1 = int(y.sum())
    n0 = int(y.size - n1)
    if n1 == 0 or n0 == 0:
        cls = "correct (1)" if n0 == 0 else "incorrect (0)"
        raise SingleClassError(
            f"{what} needs both correct and incorrect answers, but all {y.size} labels are {cls}; "
            "label some answers of the other kind")
    return n1, n0


# -- ranking ------------------------------------------------------------------------------------------
def rankdata(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (like ``scipy.stats.rankdata``)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(new) - 1
    counts = np.bincount(group)
    ends = np.cumsum(counts)
    avg = ends - (counts - 1) / 2.0
    ranks = np.empty(x.size, dtype=float)
    ranks[order] = avg[group]
    return ranks


def auroc(y: Any, s: Any, *, name: str = "score") -> float:
    """Area under the ROC curve: P(score of a correct answer > score of an incorrect one), ties count 1/2."""
    yy, ss = _pair(y, s, name, probability=False)
    n1, n0 = _both_classes(yy, "AUROC")
    r = rankdata(ss)
    return float((r[yy == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auprc(y: Any, s: Any, *, name: str = "score", positive: int = 1) -> float:
    """Average precision (step-wise area under precision-recall) for class ``positive``.

    ``positive=1`` ranks correct answers by confidence; ``positive=0`` ranks *errors* by ``-score``, which is
    the detection view (how well low confidence finds the wrong answers) and the informative one when most
    answers are correct.
    """
    yy, ss = _pair(y, s, name, probability=False)
    _both_classes(yy, "AUPRC")
    t = (yy == positive).astype(float)
    key = ss if positive == 1 else -ss
    order = np.argsort(-key, kind="mergesort")
    ks, ts = key[order], t[order]
    ends = np.r_[np.flatnonzero(ks[1:] != ks[:-1]), ks.size - 1]
    tps = np.cumsum(ts)[ends]
    fps = (ends + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / t.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


# -- calibration --------------------------------------------------------------------------------------
def brier(y: Any, p: Any, *, name: str = "confidence") -> float:
    """Mean squared error between confidence and the 0/1 outcome (lower is better; 0.25 = a coin at 0.5)."""
    yy, pp = _pair(y, p, name, probability=True)
    return float(np.mean((pp - yy) ** 2))


def log_loss(y: Any, p: Any, *, name: str = "confidence", eps: float = 1e-6) -> float:
    """Mean negative log-likelihood of the labels, confidence clipped to [eps, 1 - eps]."""
    yy, pp = _pair(y, p, name, probability=True)
    pp = np.clip(pp, eps, 1 - eps)
    return float(-np.mean(yy * np.log(pp) + (1 - yy) * np.log1p(-pp)))


@dataclass(frozen=True)
class ReliabilityBins:
    """The data of a reliability diagram: per bin, how many, mean confidence, observed accuracy."""

    strategy: str
    lower: list[float]
    upper: list[float]
    count: list[int]
    confidence: list[float | None]
    accuracy: list[float | None]
    ece: float
    mce: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bin_index(p: np.ndarray, n_bins: int, strategy: Binning) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if strategy == "width":
        idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        return idx, edges[:-1], edges[1:]
    if strategy == "mass":
        order = np.argsort(p, kind="mergesort")
        idx = np.empty(p.size, dtype=int)
        idx[order] = (np.arange(p.size) * n_bins) // p.size
        lo = np.full(n_bins, np.nan)
        hi = np.full(n_bins, np.nan)
        np.fmin.at(lo, idx, p)
        np.fmax.at(hi, idx, p)
        return idx, lo, hi
    raise ValueError(f"binning must be 'width' or 'mass', got {strategy!r}")


def reliability(y: Any, p: Any, *, n_bins: int = 10, strategy: Binning = "width",
                name: str = "confidence") -> ReliabilityBins:
    """Bin the confidences and compare each bin's mean confidence with its accuracy.

    ``strategy="width"``: bins [0, 0.1), [0.1, 0.2) ... (the classic diagram; ECE as in Guo et al. 2017).
    ``strategy="mass"``: bins holding equal numbers of records (less noisy when scores bunch up).
    """
    yy, pp = _pair(y, p, name, probability=True)
    idx, lo, hi = _bin_index(pp, n_bins, strategy)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=pp, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=yy.astype(float), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = conf_sum / count
        acc = acc_sum / count
    gap = np.where(count > 0, np.abs(acc - conf), 0.0)
    ece_v = float(np.sum(count / pp.size * gap))
    mce_v = float(gap.max()) if count.any() else 0.0
    nn = count > 0
    return ReliabilityBins(
        strategy=strategy, lower=[float(v) for v in lo], upper=[float(v) for v in hi],
        count=[int(c) for c in count],
        confidence=[float(c) if k else None for c, k in zip(conf, nn, strict=True)],
        accuracy=[float(a) if k else None for a, k in zip(acc, nn, strict=True)],
        ece=ece_v, mce=mce_v)


def ece(y: Any, p: Any, *, n_bins: int = 10, strategy: Binning = "width", name: str = "confidence") -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over bins (see ``reliability``)."""
    return reliability(y, p, n_bins=n_bins, strategy=strategy, name=name).ece


# -- selective prediction -----------------------------------------------------------------------------
def _tie_groups(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by score descending; return (kept count, correct count, score) at the end of each tie group."""
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order].astype(float)
    ends = np.r_[np.flatnonzero(ss[1:] != ss[:-1]), ss.size - 1]
    return (ends + 1).astype(float), np.cumsum(yy)[ends], ss[ends]


@dataclass(frozen=True)
class RiskCoverage:
    """Accuracy of the answers kept when only the most confident ``coverage`` share is accepted."""

    coverage: list[float]
    accuracy: list[float]
    aurc: float  # area under the risk (1 - accuracy) vs coverage curve; lower is better

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _correct_at(k: np.ndarray, kept: np.ndarray, correct: np.ndarray) -> np.ndarray:
    return np.interp(k, np.r_[0.0, kept], np.r_[0.0, correct])


def risk_coverage(y: Any, s: Any, *, points: int = 101, name: str = "confidence") -> RiskCoverage:
    """The risk-coverage curve at ``points`` evenly spaced coverages in (0, 1]."""
    yy, ss = _pair(y, s, name, probability=False)
    kept, correct, _ = _tie_groups(yy, ss)
    n = yy.size
    cov = np.linspace(1.0 / points, 1.0, points)
    k = np.maximum(cov * n, 1.0)
    acc = _correct_at(k, kept, correct) / k
    # AURC over every record count (exact up to ties), not just the plotted points.
    kk = np.arange(1, n + 1, dtype=float)
    aurc = float(np.mean(1.0 - _correct_at(kk, kept, correct) / kk))
    return RiskCoverage(coverage=[float(c) for c in cov], accuracy=[float(a) for a in acc], aurc=aurc)


def accuracy_at_coverage(y: Any, s: Any, coverage: float = 0.8, *, name: str = "confidence") -> float:
    """Accuracy of the most confident ``coverage`` share of answers (ties shared out evenly)."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    yy, ss = _pair(y, s, name, probability=False)
    kept, correct, _ = _tie_groups(yy, ss)
    k = max(coverage * yy.size, 1.0)
    return float(_correct_at(np.array([k]), kept, correct)[0] / k)


@dataclass(frozen=True)
class TargetReview:
    """The least human review that keeps the error rate of auto-accepted answers at or under a target."""

    target_error: float
    achievable: bool
    threshold: float | None  # accept when confidence >= threshold; None = nothing can be auto-accepted
    review_rate: float  # share of answers sent to review (1 - coverage)
    accepted_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_rate_for_error(y: Any, s: Any, target_error: float = 0.05, *, name: str = "confidence") -> TargetReview:
    """Pick the lowest accept threshold whose accepted answers have error <= ``target_error``.

    Thresholds are only placed between distinct scores (a threshold cannot split ties). Measured in-sample:
    tune on one split and check on another before trusting it.
    """
    if not 0.0 <= target_error < 1.0:
        raise ValueError(f"target_error must be in [0, 1), got {target_error}")
    yy, ss = _pair(y, s, name, probability=False)
    kept, correct, score = _tie_groups(yy, ss)
    err = 1.0 - correct / kept
    ok = np.flatnonzero(err <= target_error + 1e-12)
    if ok.size == 0:
        return TargetReview(target_error, False, None, 1.0, None)
    j = int(ok[-1])
    return TargetReview(target_error, True, float(score[j]), float(1.0 - kept[j] / yy.size), float(err[j]))
