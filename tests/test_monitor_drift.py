"""Drift tests: thresholds from each statistic's null distribution, FDR control, text drift by a classifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from catalyst.monitor._sql import Window, benjamini_hochberg
from catalyst.monitor.drift import DriftSettings, drift_report, psi_null_test
from catalyst.monitor.simulate import simulate
from catalyst.store import open_db

END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """28 days; everything shifts on day 21 (drift_at = 0.75)."""
    path = tmp_path_factory.mktemp("drift") / "log.duckdb"
    simulate(str(path), 16_000, days=28, end=END, drift_at=0.75)
    return path


def week(k: int) -> Window:
    """Week k (0-based) of the 28 simulated days."""
    start = END - timedelta(days=28) + timedelta(days=7 * k)
    return Window(start, start + timedelta(days=7))


def test_a_no_drift_week_raises_no_alarm(log):
    con = open_db(log)
    rep = drift_report(con, week(1), week(2), DriftSettings(resamples=499))
    assert rep["drifted"] == []
    judged = [t for t in rep["tests"] if t["status"] == "ok"]
    assert {t["metric"] for t in judged} >= {"confidence", "input_length", "output_length", "check:grounding",
                                             "metadata:model", "metadata:segment.region", "text:input"}
    con.close()


def test_a_shifted_week_is_caught_and_explained(log):
    con = open_db(log)
    rep = drift_report(con, week(2), week(3), DriftSettings(resamples=499))
    assert {"confidence", "output_length", "metadata:model", "text:input"} <= set(rep["drifted"])
    assert "metadata:segment.region" not in rep["drifted"]  # the region mix did not change
    model = next(t for t in rep["tests"] if t["metric"] == "metadata:model")
    assert model["appeared"] == ["m-2"]
    text = next(t for t in rep["tests"] if t["metric"] == "text:input")
    assert set(text["words_current"][:5]) & {"refund", "invoice", "billing", "charged", "card", "payment"}
    assert text["statistic"] > 0.55 and text["examples_current"]
    con.close()


def test_metadata_fields_that_appear_or_vanish_are_reported(log):
    con = open_db(log)
    w = week(3)
    con.execute("""UPDATE interactions SET metadata = json_merge_patch(metadata, '{"tenant": "acme"}')
                   WHERE created_at >= ? AND created_at < ?""", w.params())
    rep = drift_report(con, week(2), w, DriftSettings(resamples=199), text=False)
    assert {"field": "tenant", "ref_rows": 0, "cur_rows": 4000, "change": "appeared"} in rep["fields"]
    con.close()


def test_tiny_windows_are_reported_as_too_small(log):
    con = open_db(log)
    tiny = Window(week(0).start, week(0).start + timedelta(minutes=20))
    rep = drift_report(con, tiny, Window(tiny.end, tiny.end + timedelta(minutes=20)), text=False)
    conf = next(t for t in rep["tests"] if t["metric"] == "confidence")
    assert conf["status"] == "too_small" and "needs 30 values" in conf["note"]
    con.close()


def test_psi_null_test_holds_its_level_where_a_fixed_psi_rule_does_not():
    """Same distribution, 40 vs 60 values: PSI > 0.1 fires most of the time, the null test at ~5%."""
    rng = np.random.default_rng(1)
    fixed = honest = 0
    reps = 200
    for _ in range(reps):
        a, b = rng.normal(size=40), rng.normal(size=60)
        edges = np.quantile(a, np.linspace(0.1, 0.9, 9))
        ha, hb = np.bincount(np.searchsorted(edges, a), minlength=10), np.bincount(np.searchsorted(edges, b),
                                                                                    minlength=10)
        stat, p, _thr = psi_null_test(ha, hb, 199, rng)
        fixed += stat > 0.1
        honest += p < 0.05
    assert fixed / reps > 0.5
    assert honest / reps <= 0.09


def test_benjamini_hochberg():
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert benjamini_hochberg([]) == []
