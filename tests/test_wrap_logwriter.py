"""The write side wrappers share: queued verdicts, periodic flush, failures kept, nothing lost on close."""

from __future__ import annotations

import time

import catalyst
from catalyst.records import Decision, Interaction, Verdict
from catalyst.store import Store
from catalyst.wrapping import Guard, LogWriter


def pair(i: int) -> tuple[Interaction, Verdict]:
    rec = Interaction(output=f"answer {i}")
    return rec, Verdict(id=rec.id, confidence=0.9, decision=Decision.ACCEPT, policy="p@1")


def count(db) -> int:
    with Store(db) as s:
        return int(s.query("SELECT count(*) AS n FROM verdicts")[0]["n"])


def test_periodic_flush_writes_without_close(db_path):
    w = LogWriter(Store(db_path), interval=0.05)
    w.put([pair(i) for i in range(5)])
    deadline = time.monotonic() + 5
    while w.store.written < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w.store.written == 5 and w.pending == 0
    w.close()
    assert count(db_path) == 5


def test_interval_zero_writes_before_returning(db_path):
    w = LogWriter(Store(db_path), interval=0)
    w.put([pair(1)])
    assert w.store.written == 1 and w._thread is None
    w.close()


def test_a_failed_write_keeps_rows_and_is_retried(tmp_path):
    target = tmp_path / "later" / "log.duckdb"
    w = LogWriter(Store(target), interval=0)
    w.put([pair(1), pair(2)])  # the folder does not exist yet: the write fails, nothing is lost
    assert w.errors == 1 and "does not exist" in (w.last_error or "") and w.pending == 2
    target.parent.mkdir()
    w.close()
    assert count(target) == 2


def test_guard_logs_failures_as_review_with_the_error(db_path):
    g = Guard("default", store=db_path, flush_interval=0)
    v = g.log_failure(Interaction(input="q", output=""), TimeoutError("upstream timed out"))
    assert v.decision is Decision.REVIEW and v.checks[0].name == "model_call"
    g.close()
    with catalyst.Store(db_path) as s:
        [row] = s.query("SELECT v.decision, c.error FROM verdicts v JOIN check_results c USING (verdict_id)")
    assert row == {"decision": "review", "error": "TimeoutError: upstream timed out"}
