"""Label-free quality, the audit sample (decided by a stable hash, wired where review items are made), alarms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalyst import Validator
from catalyst.errors import PolicyError
from catalyst.monitor import audit_draw, canary_draw
from catalyst.monitor._sql import Window
from catalyst.monitor.quality import quality
from catalyst.monitor.simulate import simulate
from catalyst.policy import Policy, loads_policy
from catalyst.store import open_db


def test_draws_are_stable_have_the_asked_rate_and_are_independent():
    ids = [f"id-{i}" for i in range(20_000)]
    a = [audit_draw(i, 0.1) for i in ids]
    assert a == [audit_draw(i, 0.1) for i in ids]
    assert sum(a) / len(a) == pytest.approx(0.1, abs=0.01)
    c = [canary_draw(i, 0.1) for i in ids]
    both = sum(x and y for x, y in zip(a, c, strict=True)) / len(ids)
    assert both == pytest.approx(0.01, abs=0.004)  # the two draws are independent
    assert all(canary_draw(i, 0.25) for i, x in zip(ids, c, strict=True) if x)  # monotone in the share
    assert not any(audit_draw(i, 0.0) for i in ids[:100]) and all(audit_draw(i, 1.0) for i in ids[:100])


def test_audit_sample_sends_accepted_answers_to_review_marked_as_audit(tmp_path):
    policy = Policy.model_validate({"name": "audited", "checks": ["non_empty"], "review": {"audit_sample": 0.2},
                                    "on_unverified": "accept"})
    plain = Policy.model_validate({"name": "audited", "checks": ["non_empty"], "on_unverified": "accept"})
    assert policy.version == plain.version  # routing of audits does not change the version
    recs = [{"id": f"a{i}", "output": "fine answer"} for i in range(500)]
    with Validator(policy, store=tmp_path / "log.duckdb") as v:
        verdicts = v.validate_many(recs)
        assert {str(x.decision) for x in verdicts} == {"accept"}  # the decision is unchanged
        got = v.store.query("SELECT id, audit, status FROM review_items")
    expected = {r["id"] for r in recs if audit_draw(r["id"], 0.2)}
    assert {r["id"] for r in got} == expected
    assert all(r["audit"] and r["status"] == "pending" for r in got)


def test_audit_sample_is_in_the_exported_schema_and_validated():
    from catalyst.policy import schema

    text = str(schema())
    assert "audit_sample" in text and "alerts" in text
    with pytest.raises(PolicyError, match="audit_sample"):
        loads_policy("name: x\nchecks: [non_empty]\nreview: {audit_sample: 2}\n")


def test_expected_error_and_concept_drift_alarm(tmp_path):
    # a fixed end at midnight: day buckets then hold whole simulated days (with `now`, the statistics depended
    # on the time of day the test ran)
    end = datetime(2026, 11, 30, tzinfo=UTC)
    path = tmp_path / "log.duckdb"
    # from day 10 the truth falls below the confidence in the EU, the confidence does not move: only labels tell
    simulate(str(path), 20_000, days=20, end=end, degrade_at=0.5, degrade_segment="EU", degrade=0.3,
             degrade_confidence=0.0,
             audit_sample=0.3)
    simulate(str(path), 1, days=20, end=end, offset=10**6)  # ids stay unique across calls
    con = open_db(path)
    q = quality(con, Window.last("20d", now=end), by="day")
    assert len(q["expected"]) >= 20
    first = q["expected"][1]
    assert 0 < first["low"] <= first["expected_error"] <= first["high"] < 0.3
    alarmed = {a["bucket"].date() for a in q["alarms"] if a["kind"] == "concept_drift"}
    days = sorted({r["bucket"].date() for r in q["audit"]})
    early, late = days[1:8], days[12:18]
    assert not alarmed & set(early)
    assert len(alarmed & set(late)) >= 3
    assert q["audit_total"]["error_rate"] > q["audit_total"]["expected_error"]
    con.close()
