"""A validation waits at ``interrupt()``; a decision made in *another process* after a restart resumes it."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path

import orjson
import pytest

from catalyst import Decision, Store, Validator
from catalyst.review import ReviewQueue
from catalyst.review._workers import decide_and_resume
from catalyst.review.durable import checkpoint_path, checkpointer

DOUBTFUL = {"id": "q-1", "input": "Are you sure?", "output": "As an AI language model I think it is 1899."}


def _wait_for_review(db: str, thread: str) -> None:
    v = Validator("default", store=Store(db, keep_open=False), checkpointer=checkpointer(db))
    pending = v.validate(DOUBTFUL, thread_id=thread)
    assert pending.decision is Decision.REVIEW
    snap = v.interactive_graph.get_state({"configurable": {"thread_id": thread}})
    assert snap.next == ("review",)  # the flow is parked at interrupt()
    v.close()
    [row] = ReviewQueue(db).items()
    assert row.id == "q-1" and row.thread_id == thread
    assert checkpoint_path(db).exists()


@pytest.mark.slow
@pytest.mark.parametrize("resume_later", [False, True])
def test_decision_from_another_process_resumes_the_flow(tmp_path, monkeypatch, resume_later):
    monkeypatch.setenv("LANGGRAPH_STRICT_MSGPACK", "true")  # our allowlist must be enough
    db = str(tmp_path / "log.duckdb")
    cb = str(tmp_path / "callback.jsonl")
    _wait_for_review(db, "thread-1")
    ctx = mp.get_context("spawn")  # a fresh interpreter: nothing survives but the files
    with ctx.Pool(1) as pool:
        item = pool.apply(decide_and_resume, (db, "default", "ana", "correct", "It is 1889.", cb),
                          {"resume_later": resume_later})
    assert item == "q-1"
    [delivered] = [orjson.loads(line) for line in Path(cb).read_bytes().splitlines()]
    assert delivered["output"] == "It is 1889." and delivered["verdict"]["decision"] == "accept"
    assert 0 <= delivered["verdict"]["ms"] < 60_000  # Catalyst's time, not the wait nor another process's clock
    assert "ana: correct (checked the source)" in delivered["verdict"]["reasons"]
    store = Store(db, keep_open=False)
    final = store.verdicts(decision="accept")
    assert [(v["id"], v["output"]) for v in final] == [("q-1", "It is 1889.")]
    q = ReviewQueue(store)
    [d] = q.decisions()
    assert d["thread_id"] == "thread-1" and d["resumed_at"] is not None and d["final_decision"] == "accept"
    [label] = q.labels()
    assert label["label"] == 0 and label["corrected_output"] == "It is 1889."
    assert [a["action"] for a in q.audit(item_id="q-1")][:2] == ["resume", "decide:correct"]
    assert q.resume_decided(Validator("default", store=store, checkpointer=checkpointer(db))) == []  # once only


def test_checkpoint_round_trips_flow_state_under_strict_msgpack(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGGRAPH_STRICT_MSGPACK", "true")
    db = str(tmp_path / "log.duckdb")
    # a service that cannot be serialized (a lock, like a model client) must stay out of the checkpoint
    v = Validator("default", store=Store(db, keep_open=False), checkpointer=checkpointer(db),
                  services={"llm": threading.Lock()})
    v.validate(DOUBTFUL, thread_id="t")
    fresh = Validator("default", checkpointer=checkpointer(db))  # a new saver: read back from the file
    [item] = fresh.interactive_graph.get_state({"configurable": {"thread_id": "t"}}).values["items"]
    assert item.record.output == DOUBTFUL["output"] and item.decision is Decision.REVIEW
    assert {r.name for r in item.results} >= {"denylist", "length"}
    # no context: not verified (confidence None round-trips), sent to review by the denylist rule
    assert item.results[0].evidence is not None and item.confidence is None
    assert item.reasons[0].startswith("sent to review by denylist")
    time.sleep(1.0)  # the reviewer's wait
    reject = fresh.resume("t", {"decision": "reject", "reviewer": "bo"})
    assert reject.decision is Decision.BLOCK
    assert 0 <= reject.ms < 1000  # Catalyst's own time only: the wait is not in the verdict's ms


def test_a_reopened_item_does_not_resume_its_finished_thread(tmp_path):
    db = str(tmp_path / "log.duckdb")
    store = Store(db, keep_open=False)
    v = Validator("default", store=store, checkpointer=checkpointer(db))
    v.validate(DOUBTFUL, thread_id="old")
    seen = []
    q = ReviewQueue(store, validator=v, on_decision=lambda d, verdict: seen.append((d.action, verdict)))
    q.claim("ana")
    q.decide("q-1", reviewer="ana", action="approve")  # resumes and finishes thread `old`
    [(action, final)] = seen
    assert action == "approve" and final.decision is Decision.ACCEPT and final.id == "q-1"
    Validator("default", store=store).validate_many([DOUBTFUL])  # re-validated in a batch: the item reopens
    assert [r.id for r in q.items()] == ["q-1"]
    q.claim("bo")
    q.decide("q-1", reviewer="bo", action="reject")
    [_, second] = q.decisions()
    assert second["final_decision"] == "not-waiting" and seen[1] == ("reject", None)
    assert q.audit(item_id="q-1")[0]["action"] == "resume_skipped"
