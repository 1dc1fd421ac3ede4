"""Evaluation metrics against independent references (scikit-learn), tie handling, bad input, segments."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from catalyst.errors import UserError
from catalyst.evaluation import (
    InvalidScoresError,
    MissingLabelsError,
    SingleClassError,
    accuracy_at_coverage,
    auprc,
    auroc,
    brier,
    ece,
    evaluate,
    from_columns,
    reliability,
    review_rate_for_error,
    risk_coverage,
)


@pytest.fixture
def sample() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 5000)
    s = np.round(np.clip(rng.normal(0.4 + 0.25 * y, 0.2), 0, 1), 2)  # rounded: many ties
    return y, s


def test_ranking_metrics_match_sklearn(sample):
    y, s = sample
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert auprc(y, s, positive=0) == pytest.approx(average_precision_score(1 - y, -s), abs=1e-12)
    assert brier(y, s) == pytest.approx(brier_score_loss(y, s), abs=1e-12)


def test_ece_is_small_when_calibrated_and_large_when_not():
    rng = np.random.default_rng(0)
    p = rng.random(50_000)
    y = (rng.random(p.size) < p).astype(int)
    assert ece(y, p) < 0.02
    assert ece(y, p, strategy="mass") < 0.02
    over = np.clip(p + 0.2, 0, 1)
    assert ece(y, over) > 0.15
    rel = reliability(y, p, n_bins=10)
    assert sum(rel.count) == p.size and len(rel.accuracy) == 10
    assert rel.lower[0] == 0.0 and rel.upper[-1] == 1.0


def test_ece_by_hand():
    y = np.array([1, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    # bin 0: conf .05, acc .5 -> gap .45 (weight .5); bin 9: conf .95, acc 1 -> gap .05 (weight .5)
    assert ece(y, p) == pytest.approx(0.25)


def test_selective_prediction_with_ties():
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    s = np.array([0.9, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    # top 2 of 10 falls inside the tie at 0.9 (2 of 3 correct): expected accuracy 2/3
    assert accuracy_at_coverage(y, s, 0.2) == pytest.approx(2 / 3)
    assert accuracy_at_coverage(y, s, 1.0) == pytest.approx(0.4)
    rc = risk_coverage(y, s, points=10)
    assert rc.coverage[-1] == 1.0 and rc.accuracy[-1] == pytest.approx(0.4)
    t = review_rate_for_error(y, s, target_error=0.25)
    # thresholds only between distinct scores: accept >= 0.8 keeps 4 with 1 error (0.25)
    assert t.achievable and t.threshold == 0.8 and t.review_rate == pytest.approx(0.6)
    assert t.accepted_error == pytest.approx(0.25)
    none = review_rate_for_error(np.array([0, 0, 1]), np.array([0.9, 0.8, 0.1]), 0.1)
    assert not none.achievable and none.review_rate == 1.0 and none.threshold is None


@pytest.mark.parametrize("y, s, err, words", [
    ([], [], MissingLabelsError, "no `label`"),
    ([1, 1, 1], [0.2, 0.5, 0.9], SingleClassError, "all 3 labels are correct"),
    ([0, 1, 0], [0.2, float("nan"), 0.9], InvalidScoresError, "NaN"),
    ([0, 1, 2], [0.2, 0.5, 0.9], MissingLabelsError, "must be 0 or 1"),
    ([0, 1], [0.2, 0.5, 0.9], InvalidScoresError, "pair up"),
])
def test_bad_input_is_a_user_error(y, s, err, words):
    with pytest.raises(err, match=words) as e:
        auroc(y, s)
    assert isinstance(e.value, UserError)


def test_probability_metrics_reject_out_of_range():
    with pytest.raises(InvalidScoresError, match=r"\[0, 1\]"):
        brier([0, 1], [0.5, 1.5])


def _data(n: int = 2000, seed: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    region = np.where(rng.random(n) < 0.5, "EU", "US").astype(object)
    region[:3] = "APAC"
    eu = region == "EU"
    conf = np.clip(0.3 + 0.35 * y + rng.normal(0, 0.15, n) + 0.25 * eu * (1 - y), 0, 1)  # EU: confident errors
    chars = rng.lognormal(5 - 0.3 * y, 0.4)
    a = np.where(rng.random(n) < 0.2, np.nan, np.clip(conf + rng.normal(0, 0.1, n), 0, 1))
    return y, conf, from_columns(y, conf, checks={"a": a}, output_chars=chars, segments={"region": region})


def test_evaluate_report_has_everything_beside_the_length_baseline():
    y, conf, d = _data()
    r = evaluate(d)
    o = r["overall"]
    assert o["auroc"] == pytest.approx(roc_auc_score(y, conf))
    for key in ("auprc", "auprc_error", "brier", "ece", "accuracy_at_80", "aurc", "review_for_target",
                "reliability", "risk_coverage", "histogram"):
        assert key in o
    base = r["baseline"]["length"]
    assert base["direction"] == "shorter is more often correct" and 0.5 < base["auroc"] < 1
    assert r["checks"]["a"]["n"] < len(y)  # missing check scores are skipped, not errors
    seg = {v["value"]: v for v in r["segments"]["region"]["values"]}
    assert seg["APAC"]["status"] == "too_small" and "auroc" not in seg["APAC"] and not seg["APAC"].get("flagged")
    assert seg["EU"]["flagged"] and seg["EU"].get("most_different")
    assert "EU" in r["segments"]["region"]["flagged"] and "APAC" not in r["segments"]["region"]["flagged"]


def test_evaluate_bad_input():
    y, conf, d = _data(200)
    with pytest.raises(MissingLabelsError, match="none of the 200 records has a `label`"):
        evaluate(from_columns(np.full(200, np.nan), conf))
    with pytest.raises(SingleClassError):
        evaluate(from_columns(np.ones(200), conf))
    bad = conf.copy()
    bad[5] = 1.5
    with pytest.raises(InvalidScoresError, match="row 5"):
        evaluate(from_columns(y, bad))
    bad[5] = np.nan  # no confidence: an answer no evidence check could score, reported apart (not an error)
    r = evaluate(from_columns(y, bad))
    assert r["n_verified"] == 199 and r["unverified"]["n"] == 1
    with pytest.raises(InvalidScoresError, match="no `confidence`"):
        evaluate(from_columns(y))
    with pytest.raises(TypeError, match="unknown evaluate options"):
        evaluate(d, nbins=3)


def test_single_class_segment_is_reported_not_flagged():
    y, conf, _ = _data(400)
    seg = np.where(np.arange(400) < 100, "x", "y").astype(object)
    y = y.copy()
    y[:100] = 1
    r = evaluate(from_columns(y, conf, segments={"s": seg}))
    x = next(v for v in r["segments"]["s"]["values"] if v["value"] == "x")
    assert x["status"] == "single_class" and "auroc" not in x
