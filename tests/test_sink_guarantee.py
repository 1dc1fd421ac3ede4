"""The log's one promise, stated once and checked against every entry point.

    A verdict returned to the caller is in the DuckDB log within ``flush_interval`` seconds; an orderly exit
    (the script simply ends: no ``close()``) loses nothing; a killed process (SIGKILL) loses nothing it
    returned — the next process that opens the log replays its journal.

Every entry point runs one pipeline and hands its outcomes to one sink (``catalyst.sink.LogSink``), so the
promise is the sink's. Each entry point below is a small script that validates answers and prints the id of
every verdict *after* the call returned it; the test then opens the log and looks for each printed id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from catalyst import Decision, Interaction, Store, Validator
from catalyst.flow import Outcome
from catalyst.policy._load import loads_policy
from catalyst.review import ReviewQueue
from catalyst.review.durable import checkpointer
from catalyst.sink import LogSink
from catalyst.store import _store as store_module

POLICY = """
name: rules
checks:
  - non_empty: {}
    on_fail: block
  - denylist: {phrases: ["as an AI language model"]}
    on_fail: review
thresholds: {accept: 0.5, block: 0.1}
on_unverified: accept   # rules only: an answer no rule flags is accepted
"""

PRELUDE = """
import sys
import catalyst
DB, POLICY, N, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
FLUSH = 60.0 if MODE == "kill" else 1.0   # killed runs: nothing reaches DuckDB before the kill but the journal

def answer(i):
    return f"As an AI language model, maybe {i}." if i % 5 == 0 else f"Answer number {i}."

def returned(verdict_id):
    print(verdict_id, flush=True)

def finish():
    if MODE == "kill":
        print("DONE", flush=True)
        sys.stdin.read()   # wait to be killed
    # MODE == "end": the script simply ends, without close()
"""

#: entry point → the script body (after PRELUDE); each prints every verdict id it got back
ENTRY_POINTS: dict[str, str] = {
    "validate": """
v = catalyst.Validator(POLICY, store=DB, flush_interval=FLUSH)
for i in range(N):
    returned(v.validate({"id": f"q{i}", "input": "q", "output": answer(i)}).id)
finish()
""",
    "avalidate": """
import asyncio
v = catalyst.Validator(POLICY, store=DB, flush_interval=FLUSH)
async def main():
    for i in range(N):
        returned((await v.avalidate({"id": f"q{i}", "output": answer(i)})).id)
asyncio.run(main())
finish()
""",
    "validate_many": """
v = catalyst.Validator(POLICY, store=DB, flush_interval=FLUSH)
for i in range(0, N, 50):
    for verdict in v.validate_many([{"id": f"q{j}", "output": answer(j)} for j in range(i, min(N, i + 50))]):
        returned(verdict.id)
finish()
""",
    "wrap": """
@catalyst.wrap(policy=POLICY, store=DB, on_block="return", flush_interval=FLUSH)
def ask(question: str) -> str:
    return answer(int(question))
for i in range(N):
    returned(ask(str(i)).verdict.id)
finish()
""",
    "wrap_async": """
import asyncio
@catalyst.wrap(policy=POLICY, store=DB, on_block="return", flush_interval=FLUSH)
async def ask(question: str) -> str:
    return answer(int(question))
async def main():
    for i in range(N):
        returned((await ask(str(i))).verdict.id)
asyncio.run(main())
finish()
""",
    "wrap_client": """
from catalyst.openai import wrap_client
from catalyst.testing import ScriptedServer
srv = ScriptedServer({"*": "Answer from the model."}).start()
client = wrap_client(srv.client(), POLICY, store=DB, flush_interval=FLUSH)
for i in range(N):
    resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"question {i}"}],
                                          catalyst_metadata={"i": i})
    returned(resp.catalyst_verdict.id)
finish()
srv.stop()  # the test server's thread (not the client's log) would keep the interpreter alive
""",
    "validation_node": """
from catalyst.langgraph import validation_node
node = validation_node(POLICY, store=DB, flush_interval=FLUSH)
for i in range(N):
    returned(node({"question": "q", "answer": answer(i)})["catalyst_verdict"]["id"])
finish()
""",
    "waiting_review": """
from catalyst.review.durable import checkpointer
v = catalyst.Validator(POLICY, store=catalyst.Store(DB, keep_open=False), checkpointer=checkpointer(DB),
                       flush_interval=FLUSH)
for i in range(N):
    returned(v.validate({"id": f"q{i}", "output": answer(i)}, thread_id=f"t{i}").id)
finish()
""",
}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text(POLICY)
    return p


def _script(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / f"{entry}.py"
    path.write_text(textwrap.dedent(PRELUDE) + textwrap.dedent(ENTRY_POINTS[entry]))
    return path


def _logged(db: Path) -> set[str]:
    with Store(db) as store:  # opening for writing replays what a killed process left in the journal
        return {r["id"] for r in store.query("SELECT DISTINCT id FROM verdicts")}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_an_orderly_exit_loses_nothing(entry, tmp_path, policy_file):
    db = tmp_path / "log.duckdb"
    n = 40
    out = subprocess.run([sys.executable, str(_script(tmp_path, entry)), str(db), str(policy_file), str(n), "end"],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "failed" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    returned = set(out.stdout.split())
    assert len(returned) == n
    assert not list((tmp_path / "log.duckdb.journal").glob("*.jsonl")), "the journal is emptied on an orderly exit"
    assert _logged(db) == returned


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_killed_process_loses_nothing_it_returned(entry, tmp_path, policy_file):
    db = tmp_path / "log.duckdb"
    returned = []
    with subprocess.Popen([sys.executable, str(_script(tmp_path, entry)), str(db), str(policy_file), "30", "kill"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.strip() == "DONE":
                break
            returned.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)  # flush_interval is 60 s: nothing was written to DuckDB but the journal
        proc.wait(timeout=30)
        assert len(returned) == 30, proc.stderr.read()
    assert _logged(db) == set(returned)
    assert _logged(db) == set(returned)  # replayed once: a second open finds nothing more, and no duplicates
    with Store(db) as store:
        assert store.query("SELECT count(*) AS n FROM verdicts")[0]["n"] == 30


def test_a_kill_mid_stream_loses_nothing_returned(tmp_path, policy_file):
    """Killed while answering (not at rest): every id printed before the kill is in the log."""
    db = tmp_path / "log.duckdb"
    with subprocess.Popen([sys.executable, str(_script(tmp_path, "validate")), str(db), str(policy_file),
                           "100000", "kill"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for i, _line in enumerate(proc.stdout):
            if i == 2000:
                os.kill(proc.pid, signal.SIGKILL)
                break
        rest = proc.stdout.read()  # what it printed before it died is still in the pipe
        proc.wait(timeout=30)
    with Store(db) as store:
        logged = {r["id"] for r in store.query("SELECT id FROM verdicts")}
    printed = [f"q{i}" for i in range(2001)] + rest.split()
    assert len(printed) >= 2001
    assert set(printed) <= logged


def test_returned_verdicts_reach_duckdb_within_the_flush_interval(db_path):
    sink = LogSink(Store(db_path), flush_interval=0.2)
    v = Validator(rules(), sink=sink)
    for i in range(20):
        v.validate({"id": f"q{i}", "output": f"answer {i}"})
    assert sink.wait_durable(timeout=2.0)  # the sink's timer, not a flush call, wrote them
    assert sink.store is not None and sink.store.query("SELECT count(*) AS n FROM verdicts")[0]["n"] == 20
    v.close()


def test_a_context_manager_exit_flushes(db_path):
    with Validator(rules(), store=db_path, flush_interval=3600) as v:
        v.validate({"id": "a", "output": "fine"})
    assert _logged(db_path) == {"a"}


def test_a_failed_write_keeps_rows_for_the_next_try(tmp_path):
    target = tmp_path / "later" / "log.duckdb"
    sink = LogSink(Store(target), flush_interval=0)
    rec = Interaction(output="answer")
    verdict = Validator(rules()).validate(rec)
    sink.put([Outcome(rec, verdict)])  # the folder does not exist yet: the write fails, nothing is lost
    assert sink.errors == 1 and "does not exist" in (sink.last_error or "") and sink.pending == 1
    target.parent.mkdir()
    sink.close()
    assert _logged(target) == {rec.id}


def rules():
    return loads_policy(POLICY)


def test_the_review_link_is_written_with_the_item(tmp_path, monkeypatch):
    """A reviewer who decides the moment the item appears still resumes the waiting flow: the thread link is
    in the item's own transaction (it used to follow in another one, and such a decision stored no thread)."""
    db = str(tmp_path / "log.duckdb")
    store = Store(db, keep_open=False)
    v = Validator(rules(), store=store, checkpointer=checkpointer(db))
    reviewer = ReviewQueue(Store(db, keep_open=False))
    original = store_module._write
    decided = []

    def write_then_decide(con, tables):
        original(con, tables)  # committed: the item is visible to reviewers from here on
        if not decided and con.execute("SELECT count(*) FROM review_items").fetchone()[0]:  # decide at once
            claim = reviewer.claim("ana")
            assert claim is not None
            decided.append(reviewer.decide(claim.item_id, reviewer="ana", action="approve"))

    monkeypatch.setattr(store_module, "_write", write_then_decide)
    pending = v.validate({"id": "q-1", "output": "As an AI language model, maybe."}, thread_id="t-1")
    assert pending.decision is Decision.REVIEW and decided
    assert decided[0].thread_id == "t-1"
    [final] = reviewer.resume_decided(v)
    assert final.decision is Decision.ACCEPT and final.id == "q-1"
    v.close()


# -- the batch command: its workers hand outcomes to the same sink (notifications) and the parent logs ---------
@pytest.mark.parametrize("workers", [1, 2])
def test_catalyst_validate_logs_every_reported_verdict_and_notifies(workers, tmp_path):
    from test_review_notify import Receiver

    receiver = Receiver()
    try:
        policy = tmp_path / "notify.yaml"
        policy.write_text(POLICY + f"review:\n  notify: {{webhook: '{receiver.url}/hook', events: [enqueue, block]}}\n")
        src, db, out = tmp_path / "in.jsonl", tmp_path / "log.duckdb", tmp_path / "out.jsonl"
        src.write_text("".join(f'{{"id": "r{i}", "output": "As an AI language model, {i}."}}\n' if i % 10 == 0
                               else f'{{"id": "r{i}", "output": "answer {i}"}}\n' for i in range(300)))
        done = subprocess.run([sys.executable, "-m", "catalyst", "validate", str(src), "--policy", str(policy),
                               "--db", str(db), "--out", str(out), "--workers", str(workers), "--batch-size", "50"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        reported = {line.split('"id":"')[1].split('"')[0] for line in out.read_text().splitlines()}
        assert len(reported) == 300 and _logged(db) == reported
        events = [body for path, body in receiver.bodies if path == "/hook"]
        assert sorted(e["data"]["id"] for e in events) == sorted(f"r{i}" for i in range(0, 300, 10))
        assert {e["event"] for e in events} == {"enqueue"}
    finally:
        receiver.close()


def test_a_killed_proxy_loses_no_answered_request(tmp_path):
    """The proxy under concurrent clients, killed (SIGKILL) at once with a 60 s flush interval: every request
    it answered is in the log after the next open (the journal), none twice."""
    from concurrent.futures import ThreadPoolExecutor

    import openai
    from test_proxy_serve import start_serve

    from catalyst.testing import ScriptedServer

    db = tmp_path / "proxy.duckdb"
    with ScriptedServer({"*": "Fine."}) as up:
        proc, url = start_serve(up.url, db, flush=60.0)
        try:
            def ask(i: int) -> str:
                with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as c:
                    r = c.chat.completions.with_raw_response.create(
                        model="m", messages=[{"role": "user", "content": f"question {i}"}])
                    return r.parse().id if r.headers.get("x-catalyst-decision") else ""

            with ThreadPoolExecutor(8) as pool:
                answered = [x for x in pool.map(ask, range(120)) if x]
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert len(answered) == 120
    with Store(db) as store:
        n, distinct = store.query("SELECT count(*) AS n, count(DISTINCT id) AS d FROM verdicts")[0].values()
    assert n == distinct == 120
