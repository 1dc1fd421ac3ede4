"""Reviewer processes for the multi-process test and the throughput benchmark (importable under ``spawn``)."""

from __future__ import annotations

import os
import time
from typing import Any

from catalyst.review.queue import ReviewError, ReviewQueue
from catalyst.store import Store

ACTIONS = ("approve", "reject", "correct")


def reviewer_loop(db: str, name: str, lease_seconds: float = 300.0, limit: int | None = None,
                  seconds: float | None = None, barrier: Any = None) -> dict[str, Any]:
    """Claim and decide until the queue is empty (or ``limit`` items, or ``seconds``); report what was done.

    Each process takes the DuckDB file only for each claim and each decision (``keep_open=False``).
    """
    q = ReviewQueue(Store(db, keep_open=False, lock_timeout=120.0), lease_seconds=lease_seconds)
    return review_with(q, name, limit=limit, seconds=seconds, barrier=barrier)


def review_with(q: ReviewQueue, name: str, *, limit: int | None = None, seconds: float | None = None,
                barrier: Any = None) -> dict[str, Any]:
    """The reviewer loop over a given queue (threads of one process share one held-open store)."""
    claimed: list[str] = []
    decided: list[str] = []
    errors: list[str] = []
    latency: list[float] = []
    if barrier is not None:
        barrier.wait()
    t0 = time.perf_counter()
    while (limit is None or len(decided) < limit) and (seconds is None or time.perf_counter() - t0 < seconds):
        t1 = time.perf_counter()
        c = q.claim(name)
        if c is None:
            break
        claimed.append(c.item_id)
        action = ACTIONS[len(claimed) % 3]
        try:
            q.decide(c.item_id, reviewer=name, action=action,
                     output=f"corrected by {name}" if action == "correct" else None)
        except ReviewError as e:  # reported, so a lost decision would show up
            errors.append(f"{c.item_id}: {e}")
            continue
        decided.append(c.item_id)
        latency.append(time.perf_counter() - t1)
    return {"name": name, "pid": os.getpid(), "claimed": claimed, "decided": decided, "errors": errors,
            "seconds": time.perf_counter() - t0, "latency": latency}


def claim_at_once(db: str, name: str, item_ids: list[str], barrier: Any) -> list[str]:
    """For each item: wait for the others, then claim it. Returns ``won`` or the error class name per item."""
    q = ReviewQueue(Store(db, keep_open=False, lock_timeout=60.0))
    out = []
    for item_id in item_ids:
        barrier.wait()
        try:
            q.claim(name, item_id=item_id)
        except ReviewError as e:
            out.append(type(e).__name__)
        else:
            out.append("won")
        barrier.wait()  # everyone has tried this item
        if out[-1] == "won":
            q.release(item_id, name)  # free the winner for the next round (one item at a time)
    return out


def decide_and_resume(db: str, policy: str, reviewer: str, action: str, output: str | None,
                      callback_file: str, *, resume_later: bool = False) -> str:
    """Another process, after a restart: claim the waiting item, decide, and resume the flow.

    ``resume_later`` decides through a queue without a validator (like the terminal UI) and then resumes
    with ``resume_decided``. The validator's ``on_verdict`` appends the final verdict to ``callback_file``.
    """
    import orjson

    from catalyst.review.durable import checkpointer
    from catalyst.validator import Validator

    def on_verdict(rec: Any, verdict: Any) -> None:
        with open(callback_file, "ab") as f:
            f.write(orjson.dumps({"id": rec.id, "output": rec.output, "verdict": verdict.model_dump(mode="json")})
                    + b"\n")

    store = Store(db, keep_open=False)
    validator = Validator(policy, store=store, checkpointer=checkpointer(db), on_verdict=on_verdict)
    q = ReviewQueue(store, validator=None if resume_later else validator)
    c = q.claim(reviewer)
    assert c is not None, "nothing to review"
    q.decide(c.item_id, reviewer=reviewer, action=action, output=output, reason="checked the source")
    if resume_later:
        q.resume_decided(validator)
    return c.item_id


def claim_and_die(db: str, name: str, lease_seconds: float) -> None:
    """Claim an item, then die without deciding or releasing (a crashed reviewer)."""
    q = ReviewQueue(Store(db, keep_open=False), lease_seconds=lease_seconds)
    q.claim(name)
    os._exit(0)
