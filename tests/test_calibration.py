"""Calibration: fitting and choosing, refusals, the policy hook, versions in a real DuckDB log, rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

import catalyst
from catalyst import calibration
from catalyst.calibration import Calibrator, apply, from_policy
from catalyst.calibration import store as cal_store
from catalyst.errors import ConfigError, PolicyError, UserError
from catalyst.evaluation import SingleClassError, TooFewLabelsError, ece, load_store
from catalyst.evaluation.synthetic import as_raw, make_records, register_checks


def _miscalibrated(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.7).astype(int)
    q = 1.4 * y + rng.normal(0, 1, n)
    a = 1 / (1 + np.exp(-(2.5 * q + 1.0)))  # overconfident
    b = 1 / (1 + np.exp(-(0.9 * q + rng.normal(0, 0.8, n))))
    b[rng.random(n) < 0.1] = np.nan
    conf = np.where(np.isnan(b), a, (a + b) / 2)
    return y, conf, {"a": a, "b": b}


@pytest.mark.parametrize("method", ["isotonic", "platt", "logistic"])
def test_each_method_lowers_held_out_ece(method):
    y, c, s = _miscalibrated(6000)
    tr, te = slice(0, 3000), slice(3000, None)
    cal = calibration.fit(method, y[tr], c[tr], {k: v[tr] for k, v in s.items()})
    p = cal.apply_many(c[te], {k: v[te] for k, v in s.items()})
    assert ece(y[te], p) < 0.05 < ece(y[te], c[te])
    # the stored params alone reproduce it (what a policy file carries)
    again = from_policy(cal.to_policy())
    assert np.allclose(again.apply_many(c[te], {k: v[te] for k, v in s.items()}), p)
    one = apply(cal.to_policy(), float(c[3000]), {"a": float(s["a"][3000]), "b": None})
    assert 0.0 <= one <= 1.0


def test_choose_cross_validates_and_records_the_table():
    y, c, s = _miscalibrated(2000, seed=1)
    cal = calibration.choose(y, c, s)
    cv = cal.metrics["cv"]
    assert set(cv) == {"identity", "isotonic", "platt", "logistic"}
    assert cal.method == min(("isotonic", "platt", "logistic"), key=lambda m: cv[m]["brier"])
    assert cv[cal.method]["brier"] < cv["identity"]["brier"]
    assert cal.n_labels == 2000 and cal.metrics["folds"] == 5


def test_refuses_too_few_labels_and_one_class():
    y, c, _ = _miscalibrated(20)
    with pytest.raises(TooFewLabelsError, match=f"need at least {calibration.MIN_LABELS} labels") as e:
        calibration.choose(y, c)
    assert isinstance(e.value, UserError) and "20 labels" in str(e.value)
    with pytest.raises(SingleClassError, match="all 100 labels are correct"):
        calibration.fit("platt", np.ones(100), np.linspace(0, 1, 100))


def test_policy_calibration_field_drives_the_validator(tmp_path):
    register_checks()
    y, c, _s = _miscalibrated(500)
    cal = calibration.fit("platt", y, c)
    cal.id = "cal-test"
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(
        "name: cal\nchecks:\n  - signal_a: {}\nthresholds: {accept: 0.8, block: 0.2}\n"
        f"calibration: {{id: cal-test, method: platt, params: {{a: {cal.params['a']}, b: {cal.params['b']}}}}}\n")
    policy = catalyst.load_policy(policy_file)
    assert isinstance(policy.calibrator, Calibrator)
    v = catalyst.Validator(policy).validate({"output": "x", "metadata": {"signals": {"signal_a": 0.9}}})
    assert v.confidence == pytest.approx(cal(0.9, {}), abs=1e-9)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: cal\nchecks:\n  - signal_a: {}\ncalibration: {id: cal-x}\n")
    with pytest.raises(PolicyError, match=r"calibration.*`method` and `params`.*bad.yaml:4"):
        catalyst.load_policy(bad)


def test_versions_in_the_log_and_rollback(db_path):
    y, c, _s = _miscalibrated(400)
    with catalyst.Store(db_path) as st, st.connect() as con:
        first = cal_store.save(con, calibration.fit("platt", y, c), policy="demo@abc1234")
        second = cal_store.save(con, calibration.fit("isotonic", y, c), policy="demo")
        assert second.parent_id == first.id and cal_store.active(con, "demo").id == second.id
        rows = cal_store.history(con, "demo")
        assert [r["id"] for r in rows] == [second.id, first.id] and [r["active"] for r in rows] == [True, False]
        back = cal_store.rollback(con, "demo")
        assert back.id == first.id and cal_store.active(con, "demo").id == first.id
        assert cal_store.load(con, second.id).method == "isotonic"  # kept, just inactive
        with pytest.raises(ConfigError, match="no parent"):
            cal_store.rollback(con, "demo")
        with pytest.raises(ConfigError, match="no calibrator `cal-nope`"):
            cal_store.load(con, "cal-nope")
    # a policy can reference it by id plus the log
    ref = from_policy({"id": first.id, "db": str(db_path)})
    assert ref.method == "platt" and ref.params == first.params


def test_labels_from_the_log_prefer_reviewer_labels(db_path, tmp_path):
    register_checks()
    recs = as_raw(make_records(120, seed=4))
    for r in recs[:60]:
        r.pop("label")  # unlabelled at validation time
    policy = tmp_path / "p.yaml"
    policy.write_text("name: sig\nchecks:\n  - signal_a: {}\n  - signal_b: {}\n")
    with catalyst.Validator(catalyst.load_policy(policy), store=catalyst.Store(db_path)) as v:
        v.validate_many(recs)
    now = datetime.now(UTC)
    with catalyst.Store(db_path) as st, st.connect() as con:
        con.executemany("INSERT INTO labels (id, label, reviewer, decided_at, source) VALUES (?, ?, ?, ?, ?)",
                        [(r["id"], 1, "ann", now, "review") for r in recs[:30]]
                        + [(recs[60]["id"], 0, "ann", now, "review")])
        data = load_store(con, policy="sig")
    by_id = dict(zip(data.ids.tolist(), data.label.tolist(), strict=True))
    assert len(data) == 120 and set(data.check_names) == {"signal_a", "signal_b"}
    assert all(by_id[r["id"]] == 1 for r in recs[:30])  # reviewer labels fill the gaps
    assert all(by_id[r["id"]] == -1 for r in recs[30:60])  # still unlabelled
    assert by_id[recs[60]["id"]] == 0  # a reviewer's label overrides the record's
    assert np.isfinite(data.score("signal_a")).all()
