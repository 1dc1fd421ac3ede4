"""`catalyst review`: --list, labels, sla, resume, the --web hook, and clear errors."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from catalyst import Decision, Store, Validator
from catalyst.cli import app
from catalyst.review import ReviewQueue
from catalyst.review.demo import fill
from catalyst.review.durable import checkpointer

runner = CliRunner()


def _db(tmp_path, n=3):
    db = tmp_path / "log.duckdb"
    with Store(db) as s:
        fill(s, n)
    return db


def test_list_and_labels(tmp_path):
    db = _db(tmp_path)
    r = runner.invoke(app, ["review", "--db", str(db), "--list"])
    assert r.exit_code == 0, r.output
    assert "pending 3" in r.output and "item-00000" in r.output
    q = ReviewQueue(db)
    c = q.claim("ana")
    q.decide(c.item_id, reviewer="ana", action="correct", output="fixed")
    r = runner.invoke(app, ["review", "labels", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    [row] = [orjson.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert row["id"] == c.item_id and row["label"] == 0 and row["corrected_output"] == "fixed"


def test_sla_reports_each_breach_once(tmp_path):
    db = _db(tmp_path, 2)
    first = runner.invoke(app, ["review", "sla", "--db", str(db), "--sla-hours", "0.0000001"])
    assert first.exit_code == 0 and "2 item(s) newly past" in first.output
    again = runner.invoke(app, ["review", "sla", "--db", str(db), "--sla-hours", "0.0000001"])
    assert "0 item(s) newly past" in again.output


def test_resume_command_finishes_flows_decided_without_a_validator(tmp_path):
    db = tmp_path / "log.duckdb"
    v = Validator("default", store=Store(db, keep_open=False), checkpointer=checkpointer(db))
    v.validate({"id": "w", "output": "As an AI language model, maybe."}, thread_id="th")
    q = ReviewQueue(db)  # like the terminal UI: no policy, no validator
    q.claim("ana")
    q.decide("w", reviewer="ana", action="reject")
    r = runner.invoke(app, ["review", "resume", "--db", str(db), "--policy", "default"])
    assert r.exit_code == 0, r.output
    assert "w\tblock" in r.output
    assert [x["decision"] for x in Store(db, keep_open=False).verdicts()][:1] == [Decision.BLOCK.value]


def test_web_flag_hands_over_to_the_web_reviewer(tmp_path, monkeypatch):
    import catalyst.review.web.cli as web_cli

    called = {}
    monkeypatch.setattr(web_cli, "run_web", lambda db, host, port, **kw: called.update(db=db, host=host, port=port,
                                                                                         **kw))
    db = _db(tmp_path, 1)
    r = runner.invoke(app, ["review", "--db", str(db), "--web", "--port", "9911", "--sla-hours", "2"])
    assert r.exit_code == 0, r.output
    assert called == {"db": db, "host": "127.0.0.1", "port": 9911, "lease_seconds": 900.0, "sla_hours": 2.0}


def test_missing_db_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["review", "--db", str(tmp_path / "nope.duckdb"), "--list"])
    assert r.exit_code != 0 and "no Catalyst log" in str(r.exception)


def test_sla_hours_come_from_the_policy(tmp_path):
    db = _db(tmp_path, 1)
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nchecks: [non_empty]\nreview: {sla_hours: 0.0000001}\n")
    r = runner.invoke(app, ["review", "--db", str(db), "--list", "--policy", str(policy)])
    assert r.exit_code == 0, r.output
    assert "BREACH" in r.output
    q = ReviewQueue.for_policy(db, str(policy))
    assert q.sla.total_seconds() < 1 and q.notifier is None
