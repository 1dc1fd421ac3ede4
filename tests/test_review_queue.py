"""The review queue on a real DuckDB file: priority, claims and leases, decisions, audit, labels, SLA, bad input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from catalyst.errors import UserError
from catalyst.records import CheckResult, Decision, Interaction, Verdict
from catalyst.review import (
    Action,
    AlreadyDecidedError,
    ItemNotFoundError,
    LeaseExpiredError,
    NotHolderError,
    ReviewError,
    ReviewQueue,
)
from catalyst.review._text import InvalidTextError, visible
from catalyst.review.demo import fill, review_pair
from catalyst.store import Store


class Clock:
    def __init__(self) -> None:
        self.t = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


def _verdict(id: str, conf: float, *, failed: bool = False, broke: bool = False, output: str = "x") -> tuple:
    rec = Interaction(id=id, input="q", output=output)
    c = CheckResult(name="c", score=None if broke else conf, passed=not (failed or broke),
                    error="RuntimeError: boom" if broke else None)
    return rec, Verdict(id=id, confidence=conf, decision=Decision.REVIEW, policy="p@1", checks=[c])


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "log.duckdb")  # one process: hold the file (the multi-process tests use keep_open=False)
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(store, clock):
    fill(store, 6)
    return ReviewQueue(store, lease_seconds=60, sla_hours=1, clock=clock)


def _snapshot(q: ReviewQueue):
    return (q.counts(), len(q.audit(limit=10_000)), q.labels(latest=False), q.decisions(),
            [r.to_dict() for r in q.items(status=("pending", "escalated", "decided"))])


def test_priority_is_severity_then_lowest_confidence_then_age(store):
    store.add([_verdict("old-mid", 0.5)])
    store.flush()
    store.add([_verdict("new-mid", 0.5), _verdict("low", 0.35), _verdict("rule", 0.7, failed=True),
               _verdict("broken", 0.75, broke=True)])
    store.flush()
    q = ReviewQueue(store)
    assert [r.id for r in q.items()] == ["broken", "rule", "low", "old-mid", "new-mid"]
    assert [q.claim(f"r{i}").item_id for i in range(5)] == ["broken", "rule", "low", "old-mid", "new-mid"]
    assert q.claim("r9") is None


def test_revalidated_answer_updates_its_item_never_duplicates(store):
    store.add([_verdict("a", 0.6)])
    store.flush()
    store.add([_verdict("a", 0.4)])
    store.flush()
    q = ReviewQueue(store)
    rows = q.items()
    assert [(r.id, r.confidence) for r in rows] == [("a", 0.4)]


def test_claim_lease_renew_release_and_one_item_per_reviewer(queue, clock):
    c1 = queue.claim("ana")
    c2 = queue.claim("bo")
    assert c1 and c2 and c1.item_id != c2.item_id
    assert queue.claim("ana").item_id == c1.item_id  # one item at a time: the same claim back
    held = {r.id: r.claimed_by for r in queue.items() if r.claimed_by}
    assert held == {c1.item_id: "ana", c2.item_id: "bo"}
    clock.advance(seconds=50)
    renewed = queue.renew(c1.item_id, "ana")
    assert renewed.lease_expires == clock() + timedelta(seconds=60)
    queue.release(c2.item_id, "bo")
    assert queue.counts()["held"] == 1
    with pytest.raises(NotHolderError, match="claim it first"):
        queue.release(c2.item_id, "bo")
    with pytest.raises(ReviewError, match="already holds"):
        queue.claim("ana", item_id=c2.item_id)


def test_abandoned_claim_returns_to_the_queue(queue, clock):
    c = queue.claim("ana")
    with pytest.raises(NotHolderError, match="held by ana"):
        queue.claim("bo", item_id=c.item_id)
    clock.advance(seconds=61)
    with pytest.raises(LeaseExpiredError, match="expired"):
        queue.decide(c.item_id, reviewer="ana", action="approve")
    taken = queue.claim("bo")
    assert taken.item_id == c.item_id  # it was the highest priority, and it is free again
    assert queue.audit(item_id=c.item_id)[0]["action"] == "claim_expired_takeover"
    with pytest.raises(NotHolderError, match="held by bo"):
        queue.decide(c.item_id, reviewer="ana", action="approve")
    queue.decide(c.item_id, reviewer="bo", action="approve")


def test_decisions_labels_and_audit(queue):
    ids = {}
    for who, action, extra in (("ana", "approve", {}), ("bo", "reject", {"reason": "made up"}),
                               ("cy", "correct", {"output": "It was completed in 1889.", "tags": ["date", "kb:1"]})):
        c = queue.claim(who)
        d = queue.decide(c.item_id, reviewer=who, action=action, **extra)
        ids[action] = (c.item_id, d)
    labels = {r["id"]: r for r in queue.labels()}
    assert {k: labels[i]["label"] for k, (i, _) in ids.items()} == {"approve": 1, "reject": 0, "correct": 0}
    corr = labels[ids["correct"][0]]
    assert corr["corrected_output"] == "It was completed in 1889." and corr["source"] == "review"
    assert corr["reviewer"] == "cy" and corr["action"] == "correct" and 0.3 <= corr["confidence"] <= 0.8
    assert corr["decision_id"] == ids["correct"][1].decision_id and corr["policy"] == "demo@0000000"
    assert queue.counts()["decided"] == 3
    rows = queue.audit(item_id=ids["reject"][0])
    assert [r["action"] for r in rows] == ["decide:reject", "claim"]
    assert rows[0]["before"]["status"] == "pending" and rows[0]["after"]["status"] == "decided"
    assert rows[0]["after"]["reason"] == "made up" and rows[0]["actor"] == "bo"
    with pytest.raises(AlreadyDecidedError, match="already decided"):
        queue.decide(ids["approve"][0], reviewer="ana", action="reject")


def test_escalate_keeps_the_item_open_raises_it_and_gives_no_label(queue):
    c = queue.claim("ana")
    before = next(r for r in queue.items() if r.id == c.item_id)
    queue.decide(c.item_id, reviewer="ana", action=Action.ESCALATE, reason="needs a doctor")
    row = next(r for r in queue.items() if r.id == c.item_id)
    assert row.status == "escalated" and row.severity == before.severity + 1 and row.escalations == 1
    assert row.claimed_by is None and queue.labels() == []
    assert queue.claim("senior").item_id == c.item_id  # raised above everything else
    queue.decide(c.item_id, reviewer="senior", action="approve")
    assert [r["label"] for r in queue.labels()] == [1]


def test_reassign_is_audited(queue):
    c = queue.claim("ana")
    queue.reassign(c.item_id, to="bo", by="admin")
    with pytest.raises(NotHolderError):
        queue.decide(c.item_id, reviewer="ana", action="approve")
    queue.decide(c.item_id, reviewer="bo", action="approve")
    assert any(r["action"] == "reassign" and r["actor"] == "admin" for r in queue.audit(item_id=c.item_id))


def test_sla_flag_and_one_breach_report_per_item(queue, clock):
    assert not any(r.sla_breached for r in queue.items())
    clock.advance(hours=1, seconds=1)
    assert all(r.sla_breached for r in queue.items()) and queue.counts()["sla_breached"] == 6
    first = queue.sla_breaches(mark=True)
    assert len(first) == 6 and queue.sla_breaches(mark=True) == []
    assert len(queue.sla_breaches()) == 6  # still overdue, just already reported


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"action": "approve", "reviewer": "nobody"}, NotHolderError, "does not hold"),
    ({"action": "maybe"}, ReviewError, "unknown action 'maybe'"),
    ({"action": "correct"}, ReviewError, "needs the corrected answer"),
    ({"action": "approve", "output": "x"}, ReviewError, "only for `correct`"),
    ({"action": "correct", "output": "a" * 1_048_576}, InvalidTextError, "1,048,576 characters"),
    ({"action": "correct", "output": "In 1889.\u202eevil"}, InvalidTextError, "U\\+202E .*RIGHT-TO-LEFT OVERRIDE"),
    ({"action": "correct", "output": "ok\x00"}, InvalidTextError, "U\\+0000"),
    ({"action": "approve", "reason": "fine\x1b[31m"}, InvalidTextError, "U\\+001B"),
    ({"action": "approve", "tags": ["ok", "bad tag!"]}, InvalidTextError, "tag 'bad tag!'"),
    ({"action": "approve", "tags": "notalist"}, InvalidTextError, "list of strings"),
    ({"action": "approve", "reviewer": "ana\u202e"}, InvalidTextError, "reviewer name"),
])
def test_bad_decisions_are_clear_user_errors_and_change_nothing(queue, kwargs, error, match):
    c = queue.claim("ana")
    before = _snapshot(queue)
    kwargs = {"reviewer": "ana", **kwargs}
    with pytest.raises(error, match=match) as info:
        queue.decide(c.item_id, **kwargs)
    assert isinstance(info.value, UserError)
    assert _snapshot(queue) == before
    queue.decide(c.item_id, reviewer="ana", action="approve")  # the queue still works afterwards


def test_unknown_item(queue):
    with pytest.raises(ItemNotFoundError, match="no review item `nope`"):
        queue.decide("nope", reviewer="ana", action="approve")
    with pytest.raises(ItemNotFoundError):
        queue.get("nope")


def test_hostile_and_huge_answers_are_stored_and_shown_intact(store):
    big = "word " * 210_000  # ~1 MB answer from the model
    hostile = "Paris.\u202e<script>alert(1)</script>\x07 <img src=x onerror=alert(2)>"
    store.add([_verdict("big", 0.5, output=big), _verdict("evil", 0.4, output=hostile)])
    store.flush()
    q = ReviewQueue(store)
    assert q.get("big").output == big
    item = q.get("evil")
    assert item.output == hostile  # stored byte for byte; front ends escape it
    assert "\\u202e" in visible(item.output) and "\\u0007" in visible(item.output)
    for who in ("ana", "bo"):
        c = q.claim(who)
        q.decide(c.item_id, reviewer=who, action="reject")
    assert {r["id"] for r in q.labels()} == {"big", "evil"}


def test_item_view_has_question_spans_passages_and_checks(store):
    rec, v = review_pair(1, random.Random(0))
    store.add([(rec, v)])
    store.flush()
    item = ReviewQueue(store).get(rec.id)
    assert item.question == rec.input and item.output == rec.output
    [span] = item.spans
    assert item.output[span.start:span.end] == "Alfred Wallace" and span.checks == ["grounding"]
    assert item.context[0].status == "contradicting" and item.context[1].status == "unreferenced"
    assert {c.name: c.passed for c in item.checks} == {"grounding": False, "length": True}


def test_bad_settings():
    with pytest.raises(ReviewError, match="lease_seconds"):
        ReviewQueue(":memory:", lease_seconds=0)
