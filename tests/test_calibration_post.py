"""The logistic combination's isotonic post-map: it fixes a misspecified linear form, and it round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from catalyst import calibration
from catalyst.calibration import Calibrator, from_policy
from catalyst.calibration.fit import POST_MIN_LABELS
from catalyst.evaluation import ece


def _saturating(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Labels whose log-odds are *not* linear in the logit of the check score: a score that saturates, as a
    grounding score capped by a rule does (many answers at exactly 0.2 or 1.0), plus a smooth middle."""
    rng = np.random.default_rng(seed)
    q = rng.normal(0, 1.5, n)
    truth = 1 / (1 + np.exp(-np.sign(q) * np.abs(q) ** 2.2))
    y = (rng.random(n) < truth).astype(int)
    s = np.clip(1 / (1 + np.exp(-q)), 0.2, 1.0)
    s[q > 1.2] = 1.0
    other = 1 / (1 + np.exp(-(0.5 * q + rng.normal(0, 1.0, n))))
    return y, (s + other) / 2, {"a": s, "b": other}


def test_post_map_lowers_held_out_ece_of_a_misspecified_logistic():
    y, c, s = _saturating(8000)
    tr, te = slice(0, 4000), slice(4000, None)
    cal = calibration.fit("logistic", y[tr], c[tr], {k: v[tr] for k, v in s.items()})
    assert "post" in cal.params
    plain = Calibrator("logistic", {k: v for k, v in cal.params.items() if k != "post"})
    st = {k: v[te] for k, v in s.items()}
    with_post, without = ece(y[te], cal.apply_many(c[te], st)), ece(y[te], plain.apply_many(c[te], st))
    assert with_post < 0.03 < without
    # the post-map is part of what a policy carries
    assert np.allclose(from_policy(cal.to_policy()).apply_many(c[te], st), cal.apply_many(c[te], st))


def test_no_post_map_below_its_label_minimum_and_bad_post_refused():
    y, c, s = _saturating(POST_MIN_LABELS - 20, seed=1)
    assert "post" not in calibration.fit("logistic", y, c, s).params
    base = {"features": ["__aggregate__"], "coef": [1.0], "intercept": 0.0, "fill": [0.0]}
    with pytest.raises(ValueError, match="post"):
        Calibrator("logistic", {**base, "post": {"x": [0.1, 0.9], "y": [0.2]}})
    ok = Calibrator("logistic", {**base, "post": {"x": [0.0, 1.0], "y": [0.1, 0.9]}})
    assert 0.1 <= float(ok(0.99)) <= 0.9
