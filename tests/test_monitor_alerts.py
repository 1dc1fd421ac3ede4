"""Alerts: rules from the policy, hysteresis, every firing logged, delivered to a real webhook on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from _webhook import Receiver
from typer.testing import CliRunner

from catalyst.cli import app
from catalyst.errors import PolicyError
from catalyst.monitor.alerts import alert_notifier, evaluate
from catalyst.monitor.rules import AlertRule
from catalyst.monitor.simulate import simulate
from catalyst.policy import loads_policy
from catalyst.store import open_db

END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def log(tmp_path):
    """30 days; confidence drops from day 15 to day 21, then recovers."""
    path = tmp_path / "log.duckdb"
    simulate(str(path), 30_000, end=END, drift_at=0.5, drift_until=0.7)
    return path


def test_alert_fires_after_for_evaluations_and_recovers_with_hysteresis(log):
    receiver = Receiver()
    policy = loads_policy(f"""
name: watched
checks: [non_empty]
review: {{notify: {{webhook: "{receiver.url}"}}}}
alerts:
  - {{name: flags, metric: flag_rate, threshold: 0.5, clear: 0.45, window: 1d, for: 2}}
  - {{name: conf-drift, metric: "drift:confidence", window: 1d}}
""")
    notifier = alert_notifier(policy)
    con = open_db(log)
    start = END - timedelta(days=30)
    events = []
    for day in range(10, 30):
        for r in evaluate(con, policy.policy.alerts, now=start + timedelta(days=day), notifier=notifier):
            if r.event:
                events.append((day, r.rule, r.event))
    flags = [(d, e) for d, rule, e in events if rule == "flags"]
    # the flag rate breaches from day 16; with for: 2 it fires on the second breaching evaluation (day 17)
    assert flags == [(17, "fired"), (22, "recovered")]
    assert ("conf-drift", "fired") in {(r, e) for _d, r, e in events}
    logged = con.execute("SELECT rule, event, sent FROM monitor_alerts ORDER BY ts, rule").fetchall()
    assert [(r, e) for r, e, _s in logged] == [(r, e) for _d, r, e in sorted(events)]
    state = dict(con.execute("SELECT rule, firing FROM monitor_alert_state").fetchall())
    assert state == {"flags": False, "conf-drift": False}
    notifier.close()
    bodies = [orjson.loads(b) for b in receiver.bodies]
    assert {b["event"] for b in bodies} == {"alert", "recovered"}
    assert any(b["data"]["rule"] == "flags" and b["data"]["value"] > 0.5 for b in bodies)
    receiver.close()
    con.close()


def test_a_window_without_data_is_not_evaluated_and_keeps_state(log):
    con = open_db(log)
    rule = AlertRule(name="flags", metric="flag_rate", threshold=0.5, window="1h")
    r = evaluate(con, [rule], now=END + timedelta(days=100))[0]
    assert r.breach is None and r.event is None and "not evaluated" in r.message and "needs 30" in r.message
    assert con.execute("SELECT count(*) FROM monitor_alerts").fetchone()[0] == 0
    con.close()


def test_rules_that_cannot_work_fail_when_the_policy_loads():
    with pytest.raises(PolicyError, match=r"unknown metric `flag_rat`; known: .*flag_rate"):
        loads_policy("name: x\nchecks: [non_empty]\nalerts: [{name: a, metric: flag_rat, threshold: 0.1}]\n")
    with pytest.raises(PolicyError, match="needs a `threshold`"):
        loads_policy("name: x\nchecks: [non_empty]\nalerts: [{name: a, metric: flag_rate}]\n")
    with pytest.raises(PolicyError, match="hysteresis"):
        loads_policy("name: x\nchecks: [non_empty]\nalerts: [{name: a, metric: flag_rate, threshold: 0.3, "
                     "clear: 0.4}]\n")
    with pytest.raises(PolicyError, match="window `soon`"):
        loads_policy("name: x\nchecks: [non_empty]\nalerts: [{name: a, metric: volume, threshold: 1, window: soon}]\n")


def test_cli_watch_once(log, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text("name: w\nchecks: [non_empty]\nalerts: [{name: busy, metric: volume, op: '>', threshold: 0, "
                   "window: 1000d, min_count: 1}]\n")
    r = CliRunner().invoke(app, ["watch", "--db", str(log), "--policy", str(pol), "--once"])
    assert r.exit_code == 0, r.output
    assert "ALERT busy" in r.output
    none = tmp_path / "none.yaml"
    none.write_text("name: w\nchecks: [non_empty]\n")
    r = CliRunner().invoke(app, ["watch", "--db", str(log), "--policy", str(none), "--once"])
    assert r.exit_code != 0 and "has no `alerts:` rules" in str(r.exception)
