"""The loop closes: traffic shifts, reviewers label through the queue, calibrate from the log, tune, and the
new policy version is better calibrated on held-out data and meets its precision target there."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import catalyst
from catalyst.cli import app
from catalyst.evaluation import evaluate, load_jsonl, rescore
from catalyst.evaluation.synthetic import as_raw, make_records, register_checks, write_jsonl
from catalyst.review import ReviewQueue

POLICY = "name: loop\nchecks:\n  - signal_a: {}\n  - signal_b: {}\nthresholds: {accept: 0.8, block: 0.3}\n"


def _cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.slow
def test_reviewer_labels_calibrate_and_tune_a_new_policy_version(tmp_path):
    register_checks()
    v1 = tmp_path / "v1.yaml"
    v1.write_text(POLICY)
    db = tmp_path / "log.duckdb"
    # 1. production traffic after a shift: scores moved up, labels mean the same. 30% got spot-check labels
    #    at ingestion; the rest are unlabelled.
    traffic = as_raw(make_records(1500, seed=21, shift=1.5))
    rng = np.random.default_rng(0)
    truth = {r["id"]: r["label"] for r in traffic}
    for r in traffic:
        if rng.random() > 0.3:
            r.pop("label")
    with catalyst.Validator(catalyst.load_policy(v1), store=catalyst.Store(db)) as v:
        verdicts = v.validate_many(traffic)
    assert any(x.decision == "review" for x in verdicts)
    # 2. reviewers work the queue: their decisions become labels in the log
    queue = ReviewQueue(str(db))
    decided = 0
    while decided < 30:
        claim = queue.claim("ann")
        if claim is None:
            break
        queue.decide(claim.item_id, reviewer="ann", action="approve" if truth[claim.item_id] else "reject")
        decided += 1
    assert decided == 30
    # 3. calibrate from the log (reviewer labels + spot checks), write v2; tune v2 for precision, write v3
    v2, v3 = tmp_path / "v2.yaml", tmp_path / "v3.yaml"
    _cli("calibrate", "--policy", str(v1), "--db", str(db), "--write", str(v2))
    labelled = tmp_path / "labelled.jsonl"  # the labelled slice, scored (what `tune` reads)
    write_jsonl(labelled, [r for r in make_records(1500, seed=21, shift=1.5)
                           if r["id"] in {x["id"] for x in traffic if "label" in x}])
    _cli("tune", "--policy", str(v2), "--data", str(labelled), "--target-precision", "0.9", "--write", str(v3))
    with catalyst.Store(db) as st, st.connect() as con:
        n_labels, active = con.execute("SELECT n_labels, active FROM calibrators").fetchone()
    assert n_labels >= 400 + 30 - 5 and active  # ~30% of 1500 spot checks, plus the reviewed items
    assert yaml.safe_load(v3.read_text())["calibration"]["id"] == yaml.safe_load(v2.read_text())["calibration"]["id"]
    # 4. held-out traffic from the shifted distribution, never seen by calibrate or tune
    held = tmp_path / "held.jsonl"
    write_jsonl(held, make_records(3000, seed=22, shift=1.5))
    data = load_jsonl(held)
    reports = {}
    for name, path in (("v1", v1), ("v3", v3)):
        conf, dec = rescore(data, catalyst.load_policy(path))
        data.decision = dec
        reports[name] = evaluate(data, conf)
    ece1, ece3 = reports["v1"]["overall"]["ece"], reports["v3"]["overall"]["ece"]
    assert ece3 < 0.05 < ece1 and ece3 < ece1 / 2, (ece1, ece3)
    assert reports["v3"]["overall"]["brier"] < reports["v1"]["overall"]["brier"]
    # the tuned thresholds hold their target on held-out data (within sampling noise)
    assert reports["v3"]["decisions"]["precision_accepted"] >= 0.87
    out = _cli("eval", str(held), "--policy", str(v3), "--out", str(tmp_path / "rep"))
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["overall"]["ece"] == ece3
    assert "ECE" in out
