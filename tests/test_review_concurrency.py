"""Several reviewer *processes* on one DuckDB file: no item is ever held or decided twice, nothing is lost."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from datetime import UTC, datetime

import pytest

from catalyst.review import ReviewQueue
from catalyst.review._workers import claim_and_die, claim_at_once, reviewer_loop
from catalyst.review.demo import fill
from catalyst.store import Store


def _filled(tmp_path, n):
    db = str(tmp_path / "q.duckdb")
    with Store(db) as s:
        fill(s, n)
    return db


@pytest.mark.slow
def test_exactly_one_of_concurrent_claims_wins(tmp_path):
    db = _filled(tmp_path, 3)
    ctx = mp.get_context("spawn")
    items = ["item-00000", "item-00001", "item-00002"]
    with ctx.Manager() as manager, ctx.Pool(3) as pool:
        barrier = manager.Barrier(3)
        per_worker = pool.starmap(claim_at_once, [(db, f"r{i}", items, barrier) for i in range(3)])
    for round_ in zip(*per_worker, strict=True):  # one round per item: all three raced for it
        assert sorted(round_) == ["NotHolderError", "NotHolderError", "won"], per_worker
    q = ReviewQueue(db)
    claims = [a for a in q.audit() if a["action"].startswith("claim")]
    assert sorted(a["item_id"] for a in claims) == items  # one claim per item: the losers wrote nothing


@pytest.mark.slow
def test_four_reviewer_processes_drain_the_queue_without_double_claims(tmp_path):
    n = 40
    db = _filled(tmp_path, n)
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        reports = pool.starmap(reviewer_loop, [(db, f"rev{i}") for i in range(4)])
    claimed = Counter(i for r in reports for i in r["claimed"])
    decided = Counter(i for r in reports for i in r["decided"])
    assert [r["errors"] for r in reports] == [[], [], [], []]
    assert max(claimed.values()) == 1 and len(claimed) == n  # zero double claims
    assert max(decided.values()) == 1 and len(decided) == n  # zero lost decisions
    assert sum(1 for r in reports if r["decided"]) >= 2  # the processes really interleaved
    q = ReviewQueue(db)
    assert q.counts()["decided"] == n and q.counts()["pending"] == 0
    assert len(q.decisions()) == n and len(q.labels(latest=False)) == n
    by_item = Counter(d["item_id"] for d in q.decisions())
    assert max(by_item.values()) == 1
    deciders = {d["item_id"]: d["reviewer"] for d in q.decisions()}
    assert all(deciders[i] == r["name"] for r in reports for i in r["decided"])


@pytest.mark.slow
def test_a_crashed_reviewer_s_claim_returns_to_the_queue(tmp_path):
    import time

    db = _filled(tmp_path, 2)
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=claim_and_die, args=(db, "ghost", 1.5))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    q = ReviewQueue(db, lease_seconds=60)
    [held] = [r for r in q.items() if r.claimed_by]
    assert held.claimed_by == "ghost"
    assert q.claim("ana").item_id != held.id  # still leased: ana gets the other one
    time.sleep(max(0.0, (held.lease_expires - datetime.now(UTC)).total_seconds()) + 0.1)
    assert q.claim("bo").item_id == held.id  # the lease ran out: back in the queue
    q.decide(held.id, reviewer="bo", action="approve")
    assert q.audit(item_id=held.id)[1]["action"] == "claim_expired_takeover"
