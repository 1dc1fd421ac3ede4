"""`catalyst eval`, `calibrate` and `tune` end to end: files in, reports and policy files out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import orjson
import pytest
import yaml
from typer.testing import CliRunner

import catalyst
from catalyst.cli import app
from catalyst.evaluation import MissingLabelsError, TooFewLabelsError, load_jsonl
from catalyst.evaluation.synthetic import as_raw, make_records, register_checks, write_jsonl

POLICY = "name: sig\nchecks:\n  - signal_a: {}\n  - signal_b: {}\nthresholds: {accept: 0.8, block: 0.3}\n"


@pytest.fixture
def files(tmp_path):
    register_checks()
    (tmp_path / "p.yaml").write_text(POLICY)
    write_jsonl(tmp_path / "old.jsonl", make_records(1500, seed=1))
    write_jsonl(tmp_path / "new.jsonl", make_records(1500, seed=2, shift=1.5))
    return tmp_path


def _run(*args: str):
    res = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res


def test_eval_writes_json_and_html(files):
    out = files / "rep"
    res = _run("eval", str(files / "new.jsonl"), "--policy", str(files / "p.yaml"), "--out", str(out))
    assert "AUROC" in res.output and "length alone" in res.output and "too small to compare" in res.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["n_labelled"] == 1500 and rep["scores_from"].startswith("check scores")
    assert rep["overall"]["ece"] > 0.05  # shifted scores, no calibration: visibly off
    assert set(rep["checks"]) == {"signal_a", "signal_b"} and rep["decisions"]["accept_rate"] > 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Segment: region" in html and "too small" in html


def test_eval_on_raw_records_validates_them_first(files):
    write_jsonl(files / "raw.jsonl", as_raw(make_records(300, seed=3)))
    out = files / "rep"
    _run("eval", str(files / "raw.jsonl"), "--policy", str(files / "p.yaml"), "--out", str(out))
    rep = json.loads((out / "report.json").read_text())
    assert rep["scores_from"] == "validated now with the policy" and rep["n_labelled"] == 300
    assert rep["baseline"]["length"] is not None


def test_calibrate_then_tune_closes_the_loop(files):
    db = files / "log.duckdb"
    cal_policy = files / "p_cal.yaml"
    res = _run("calibrate", "--policy", str(files / "p.yaml"), "--data", str(files / "new.jsonl"),
               "--db", str(db), "--write", str(cal_policy))
    assert "chosen" in res.output and "identity" in res.output
    written = yaml.safe_load(cal_policy.read_text())
    cal_id = written["calibration"]["id"]
    with catalyst.Store(db) as st, st.connect() as con:
        row = con.execute("SELECT method, n_labels, active FROM calibrators WHERE id = ?", [cal_id]).fetchone()
    assert row[1] == 1500 and row[2] is True
    tuned = files / "p_tuned.yaml"
    res = _run("tune", "--policy", str(cal_policy), "--data", str(files / "new.jsonl"),
               "--target-precision", "0.9", "--write", str(tuned))
    assert "expected outcome on 1500 labelled records" in res.output
    th = yaml.safe_load(tuned.read_text())["thresholds"]
    assert 0 < th["block"] <= th["accept"] < 1
    assert yaml.safe_load(tuned.read_text())["calibration"]["id"] == cal_id  # the calibrator is kept
    # the tuned policy meets the target on the tuning data
    rep_dir = files / "rep"
    _run("eval", str(files / "new.jsonl"), "--policy", str(tuned), "--out", str(rep_dir))
    assert json.loads((rep_dir / "report.json").read_text())["decisions"]["precision_accepted"] >= 0.9
    # a second fit, then rollback re-activates the first
    _run("calibrate", "--policy", str(files / "p.yaml"), "--data", str(files / "old.jsonl"), "--db", str(db))
    _run("calibrate", "--policy", str(files / "p.yaml"), "--db", str(db), "--rollback")
    with catalyst.Store(db) as st, st.connect() as con:
        assert con.execute("SELECT id FROM calibrators WHERE active").fetchall() == [(cal_id,)]


def test_tune_review_budget(files):
    res = _run("tune", "--policy", str(files / "p.yaml"), "--data", str(files / "old.jsonl"),
               "--review-budget", "0.1")
    assert "tuned" in res.output
    from catalyst.cli.evaluate import run_tune

    out = run_tune(str(files / "p.yaml"), files / "old.jsonl", None, 0.1, 0.05, None)
    assert out["tuned"]["review_rate"] <= 0.1 + 1e-9


def test_bad_input(files):
    unl = [{k: v for k, v in r.items() if k != "label"} for r in make_records(50)]
    write_jsonl(files / "unlabelled.jsonl", unl)
    with pytest.raises(MissingLabelsError, match="none of the 50 records has a `label`"):
        _run("eval", str(files / "unlabelled.jsonl"), "--policy", str(files / "p.yaml"))
    write_jsonl(files / "few.jsonl", make_records(20))
    with pytest.raises(TooFewLabelsError, match="cannot calibrate on 20 labels"):
        _run("calibrate", "--policy", str(files / "p.yaml"), "--data", str(files / "few.jsonl"))


def test_cli_exit_code_and_message_in_a_real_process(tmp_path):
    """The shipped policy, scores precomputed for its checks, NaN confidence: one clear line, exit 2."""
    lines = [{"id": f"r{i}", "label": i % 2, "output": "text",
              "checks": [{"name": "non_empty", "score": 1.0, "passed": True},
                         {"name": "grounding", "score": 0.2 + 0.6 * (i % 2), "passed": bool(i % 2)}]}
             for i in range(40)]
    write_jsonl(tmp_path / "ok.jsonl", lines)
    rep = _run("eval", str(tmp_path / "ok.jsonl"), "--policy", "default")
    assert "grounding" in rep.output and "non_empty" in rep.output
    (tmp_path / "nan.jsonl").write_bytes(b"".join(
        orjson.dumps({"label": i % 2, "confidence": 0.5}) + b"\n" for i in range(10))
        + b'{"label": 1, "confidence": "high"}\n')
    bad = subprocess.run([sys.executable, "-c", "from catalyst.cli import main; main()", "eval",
                          str(tmp_path / "nan.jsonl"), "--policy", "default"], capture_output=True, text=True)
    assert bad.returncode == 2 and "line 11" in bad.stderr and "confidence" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_jsonl_loader_columns(tmp_path):
    recs = make_records(100, seed=9)
    recs[0]["checks"][0]["error"] = "boom"
    write_jsonl(tmp_path / "d.jsonl", recs)
    d = load_jsonl(tmp_path / "d.jsonl")
    assert d.check_names == ["signal_a", "signal_b"] and np.isnan(d.score("signal_a")[0])  # errored → no score
    assert d.score("signal_a")[1] == pytest.approx(recs[1]["checks"][0]["score"])
    assert list(d.segments) == ["region"] and d.output_chars[2] == recs[2]["output_chars"]


@pytest.mark.parametrize("text, where", [
    ('{"label":1,"checks":[{"name":"a","score":0.5,"passed":true}]}\n'
     '{"label":0,"checks":[{"name":"a","score":"high","passed":true}]}\n', "line 2, field `checks`"),
    ('{"label":1}\n[1,2]\n', "line 2: each line must be a JSON object"),
    ('{"label":1}\n{"label": 3}\n', "line 2, field `label`"),
    ('{"label":1}\n{"label": 0, "confidence": "high"}\n', "line 2, field `confidence`"),
])
def test_jsonl_loader_names_the_bad_line(tmp_path, text, where):
    from catalyst.errors import RecordError

    (tmp_path / "bad.jsonl").write_text(text)
    with pytest.raises(RecordError, match=where):
        load_jsonl(tmp_path / "bad.jsonl")


# -- the loop's rough edges (issues 11 and 13) ------------------------------------------------------------
def test_calibrate_accepts_raw_labelled_records_and_prints_json(files):
    write_jsonl(files / "raw.jsonl", as_raw(make_records(300, seed=3)))
    res = _run("calibrate", "--policy", str(files / "p.yaml"), "--data", str(files / "raw.jsonl"), "--json")
    cal = json.loads(res.stdout)
    assert cal["n_labels"] == 300 and cal["method"] in ("isotonic", "platt", "logistic")
    assert cal["metrics"]["scores_from"].startswith("check scores") and cal["metrics"]["unverified_left_out"] == 0


def test_eval_and_calibrate_leave_unverified_records_out_and_say_so(files):
    recs = make_records(400, seed=4)
    for r in recs[:40]:  # no evidence check scored these: verdict lines with evidence none
        r["checks"] = [{"name": c["name"], "score": None, "passed": True} for c in r["checks"]]
        r["confidence"] = None
    write_jsonl(files / "mixed.jsonl", recs)
    rep = json.loads(_run("eval", str(files / "mixed.jsonl"), "--policy", str(files / "p.yaml"), "--json",
                          "--out", str(files / "rep")).stdout)
    assert "<b>Not verified:</b> 40 labelled answers" in (files / "rep" / "report.html").read_text()
    assert rep["n_labelled"] == 400 and rep["n_verified"] == 360 and rep["overall"]["n"] == 360
    assert rep["unverified"]["n"] == 40 and rep["unverified"]["decisions"]["review_rate"] == 1.0  # on_unverified
    assert rep["decisions"]["n"] == 400
    cal = json.loads(_run("calibrate", "--policy", str(files / "p.yaml"), "--data", str(files / "mixed.jsonl"),
                          "--json").stdout)
    assert cal["n_labels"] == 360 and cal["metrics"]["unverified_left_out"] == 40
    out = _run("tune", "--policy", str(files / "p.yaml"), "--data", str(files / "mixed.jsonl"),
               "--target-precision", "0.9", "--json")
    assert json.loads(out.stdout)["n_unverified"] == 40


def test_tune_warns_when_the_thresholds_cost_more_than_asked(files):
    from catalyst.cli.evaluate import run_tune

    out = run_tune(str(files / "p.yaml"), files / "new.jsonl", None, 0.05, 0.05, None)
    assert out["tuned"]["precision_accepted"] < out["current"]["precision_accepted"] - 0.02
    assert any("costs precision" in w for w in out["warnings"])
    assert out["tradeoff"].startswith("asked review ≤ 5%; got accept ≥ ")
    strict = run_tune(str(files / "p.yaml"), files / "new.jsonl", 0.97, None, 0.05, None)
    assert any("review rate rises" in w for w in strict["warnings"])


def test_piped_tables_are_never_cut(files):
    env = {**os.environ, "COLUMNS": "60"}
    code = ("from catalyst.evaluation.synthetic import register_checks; register_checks(); "
            "from catalyst.cli import main; main()")
    got = subprocess.run([sys.executable, "-c", code, "tune", "--policy", str(files / "p.yaml"), "--data",
                          str(files / "new.jsonl"), "--review-budget", "0.05"], capture_output=True, text=True,
                         env=env)
    assert got.returncode == 0, got.stderr
    assert "…" not in got.stdout and "prec. accepted" in got.stdout and "correct blocked" in got.stdout
    assert "warning: the review budget 5% costs precision" in " ".join(got.stderr.split())


def test_validate_out_keeps_each_records_label(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": "a", "output": "Paris.", "context": ["Paris is the capital."], "label": 1},
                      {"id": "b", "output": "Lyon.", "label": 0}, {"id": "c", "output": "Nice."}])
    _run("validate", str(src), "--policy", "default", "--out", str(tmp_path / "out.jsonl"), "--db",
         str(tmp_path / "log.duckdb"))
    lines = {r["id"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert lines["a"]["label"] == 1 and lines["b"]["label"] == 0 and "label" not in lines["c"]
    assert lines["b"]["confidence"] is None and lines["b"]["evidence"] == "none"
