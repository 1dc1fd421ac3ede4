"""Shadow, canary, replay, compare, promote and rollback on real validators and a real DuckDB log."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from catalyst import Validator
from catalyst.cli import app
from catalyst.errors import PolicyError
from catalyst.monitor import canary_draw
from catalyst.monitor._sql import Window
from catalyst.monitor.compare import compare_canary, compare_run
from catalyst.monitor.versions import Canary, Shadow, active, promote, replay, rollback
from catalyst.policy import Policy
from catalyst.store import open_db

# rules only (no evidence check): an answer that passes them goes out as unverified (on_unverified: accept)
BASE = Policy.model_validate({"name": "base", "checks": ["non_empty",
                                                       {"length": {"max_chars": 60}, "on_fail": "review"}],
                              "on_unverified": "accept"})
STRICT = Policy.model_validate({"name": "strict", "checks": ["non_empty",
                                                           {"length": {"max_chars": 40}, "on_fail": "review"}],
                                "on_unverified": "accept"})


def answers(prefix: str, n: int = 400) -> list[dict]:
    return [{"id": f"{prefix}{i}", "output": "x" * (10 + i % 50)} for i in range(n)]


def label_by_length(con, limit: int = 45) -> None:
    """Ground truth for the test: answers longer than ``limit`` characters are wrong."""
    con.execute(f"""INSERT INTO labels SELECT i.id, CASE WHEN length(i.output) > {limit} THEN 0 ELSE 1 END, NULL,
                    'test', now(), 'review', NULL, i.verdict_id, v.policy, v.confidence, 'approve'
                    FROM interactions i JOIN verdicts v USING (verdict_id)""")


class Broken:
    """A challenger whose every call raises (e.g. its model endpoint is down)."""

    policy = BASE

    def validate_many(self, recs):
        raise RuntimeError("challenger endpoint down")


def test_shadow_logs_both_verdicts_and_never_changes_a_decision(tmp_path):
    with Validator(BASE, store=tmp_path / "log.duckdb") as v:
        plain = [x.decision for x in Validator(BASE).validate_many(answers("s"))]
        sh = Shadow(v, STRICT)
        got = sh.validate_many(answers("s"))
        one = sh.validate({"id": "single", "output": "y" * 50})
        assert [x.decision for x in got] == plain and one.policy == BASE.version
        assert sh.flush() == 401
        rows = v.store.query("SELECT mode, policy, baseline_policy, count(*) AS n, count(error) AS errors "
                             "FROM challenger_verdicts GROUP BY ALL")
        assert rows == [{"mode": "shadow", "policy": STRICT.version, "baseline_policy": BASE.version, "n": 401,
                         "errors": 0}]
        assert v.store.query("SELECT count(*) AS n FROM verdicts")[0]["n"] == 401  # only the live verdicts
        sh.close()


def test_a_broken_challenger_never_reaches_the_live_path(tmp_path):
    with Validator(BASE, store=tmp_path / "log.duckdb") as v:
        sh = Shadow(v, Broken())
        got = sh.validate_many(answers("b", 50))
        assert len(got) == 50 and all(x.policy == BASE.version for x in got)
        sh.flush()
        assert sh.stats["errors"] == 50
        err = v.store.query("SELECT DISTINCT error FROM challenger_verdicts")[0]["error"]
        assert "challenger endpoint down" in err


def test_a_challenger_that_fails_to_load_says_so(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nchecks: [no_such_check]\n")
    with Validator(BASE) as v, pytest.raises(PolicyError, match=r"challenger policy .*bad.yaml.* failed to load"):
        Shadow(v, str(bad))
    r = CliRunner().invoke(app, ["replay", "--db", str(tmp_path / "x.duckdb"), "--policy", str(tmp_path / "nope.yaml")])
    assert r.exit_code != 0 and "failed to load" in str(r.exception)


def test_replay_compare_promote_rollback(tmp_path):
    db = tmp_path / "log.duckdb"
    with Validator(BASE, store=db) as v:
        v.validate_many(answers("r"))
    con = open_db(db)
    label_by_length(con)
    run = replay(con, STRICT, Window.last("1d"))
    assert run["replayed"] == 400 and run["errors"] == 0
    rep = compare_run(con, run["run_id"])
    assert rep["agreement"] == pytest.approx(1 - 19 / 50)  # outputs of 41..59 chars now go to review
    assert rep["test"]["challenger_only_errors"] == 0 and rep["test"]["baseline_only_errors"] > 0
    assert rep["test"]["p"] < 1e-6
    assert not rep["promote"] and "guardrail" in rep["recommendation"]  # it flags far more: the guardrail holds
    loose = compare_run(con, run["run_id"], max_flag_increase=0.5)
    assert loose["promote"]
    assert promote(con, BASE) == BASE.version and promote(con, STRICT) == STRICT.version
    assert active(con)["policy"] == STRICT.version
    assert rollback(con, note="too many reviews") == BASE.version
    assert active(con)["policy"] == BASE.version
    actions = [r[0] for r in con.execute("SELECT action FROM policy_versions ORDER BY ts").fetchall()]
    assert actions == ["promote", "promote", "rollback"]
    rollback(con)
    with pytest.raises(PolicyError, match="nothing to roll back"):
        rollback(con)
    con.close()


def test_canary_routes_by_a_stable_hash_in_steps(tmp_path):
    db = tmp_path / "log.duckdb"
    with Validator(BASE, store=db) as v:
        can = Canary(v, STRICT, share=0.1, steps=(0.1, 0.5, 1.0))
        recs = answers("c", 1000)
        got = can.validate_many(recs)
        routed = {r["id"] for r in recs if canary_draw(r["id"], 0.1)}
        assert {r["id"] for r, x in zip(recs, got, strict=True) if x.policy == STRICT.version} == routed
        assert can.step() == 0.5 and can.step() == 1.0 and can.step() == 1.0
        assert can.validate({"id": "later", "output": "hi there"}).policy == STRICT.version
        v.store.flush()
    con = open_db(db)
    label_by_length(con)
    rep = compare_canary(con, BASE.version, STRICT.version, Window.last("1d"))
    assert rep["stable"]["n"] + rep["challenger"]["n"] == 1001
    assert rep["challenger"]["flag_rate"] > rep["stable"]["flag_rate"] and not rep["promote"]
    con.close()


def test_cli_replay_compare_promote_rollback(tmp_path):
    db = tmp_path / "log.duckdb"
    with Validator(BASE, store=db) as v:
        v.validate_many(answers("k", 200))
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict\nchecks:\n  - non_empty\n  - length: {max_chars: 40}\n    on_fail: review\n"
                      "on_unverified: accept\n")
    runner = CliRunner()
    r = runner.invoke(app, ["replay", "--db", str(db), "--policy", str(strict)], env={"COLUMNS": "150"})
    assert r.exit_code == 0, r.output
    assert "replayed 200 interactions" in r.output and "promotion: NO" in r.output
    r = runner.invoke(app, ["compare", "--db", str(db)], env={"COLUMNS": "150"})
    assert r.exit_code == 0 and "agreement" in r.output
    r = runner.invoke(app, ["promote", "--db", str(db), "--policy", str(strict), "--by", "ana"])
    assert r.exit_code == 0 and "promoted strict@" in r.output
    r = runner.invoke(app, ["rollback", "--db", str(db)])
    assert r.exit_code == 0 and "no promoted version" in r.output


def test_cli_compare_canary_and_nothing_to_compare(tmp_path):
    db = tmp_path / "log.duckdb"
    with Validator(BASE, store=db) as v:
        Canary(v, STRICT, share=0.5).validate_many(answers("z", 300))
        v.store.flush()
    runner = CliRunner()
    r = runner.invoke(app, ["compare", "--db", str(db), "--stable", BASE.version, "--challenger", STRICT.version,
                            "--json"])
    assert r.exit_code == 0, r.output
    assert '"promote": false' in r.output and '"flag_rate"' in r.output
    r = runner.invoke(app, ["compare", "--db", str(db)])
    assert r.exit_code != 0 and "no challenger verdicts in this log" in str(r.exception)
    r = runner.invoke(app, ["compare", "--db", str(db), "--stable", BASE.version, "--challenger", "other@0000000"])
    assert r.exit_code != 0 and "no verdicts of other@0000000" in str(r.exception)
