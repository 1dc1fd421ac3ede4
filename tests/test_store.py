"""The DuckDB log: migrations, writes, queries, two processes on one file, and a crash mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from catalyst import Decision, Store, Validator
from catalyst.errors import StoreError, StoreLockedError
from catalyst.store import migrate, open_db
from catalyst.store.migrations import all_migrations


def test_migrations_apply_once_in_order(db_path):
    con = open_db(db_path)
    names = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()]
    assert names == [n for n, _ in all_migrations()]
    assert migrate(con) == []  # second run: nothing to do
    con.close()


def test_verdicts_are_written_and_queried(db_path):
    with Validator("default", store=Store(db_path)) as v:
        v.validate_many([{"id": "a", "output": "fine"}, {"id": "b", "output": ""},
                         {"id": "c", "output": "As an AI language model"}])
    s = Store(db_path, keep_open=False)
    assert {r["id"] for r in s.verdicts()} == {"a", "b", "c"}
    assert [r["id"] for r in s.verdicts(decision="block")] == ["b"]
    assert [r["id"] for r in s.verdicts(decision=Decision.REVIEW, policy="default")] == ["c"]
    assert s.verdicts(since=datetime.now(UTC) + timedelta(hours=1)) == []
    table = s.verdicts(as_="arrow")
    assert table.num_rows == 3 and "confidence" in table.column_names
    one = s.verdict("c")
    assert one["interaction"]["output"] == "As an AI language model"
    deny = next(c for c in one["checks"] if c["name"] == "denylist")
    assert deny["evidence"][0]["start"] == 0 and not deny["passed"]
    assert s.verdict("nope") is None
    assert s.seen_ids() == {"a", "b", "c"}


def test_revalidating_updates_the_review_item_instead_of_duplicating(db_path):
    store = Store(db_path)
    v = Validator("default", store=store)
    v.validate_many([{"id": "x", "output": "As an AI language model, yes"}])
    v.validate_many([{"id": "x", "output": "As an AI language model, no"}])
    v.close()
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM verdicts WHERE id = 'x'").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM review_items WHERE id = 'x'").fetchone()[0] == 1
    con.close()


def test_failed_write_keeps_rows_buffered(tmp_path):
    s = Store(tmp_path / "missing-dir" / "log.duckdb")
    v = Validator("default", store=s)
    v.validate("hello")
    with pytest.raises(StoreError, match="does not exist"):
        s.flush()
    assert s.pending == 1  # nothing lost
    (tmp_path / "missing-dir").mkdir()
    assert s.flush() == 1
    s.close()


def test_a_held_file_gives_a_clear_error_after_waiting(db_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time, sys
        con = duckdb.connect({str(db_path)!r})
        print("held", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        with pytest.raises(StoreLockedError, match="held read-write by another process"):
            open_db(db_path, lock_timeout=0.5)
        assert time.monotonic() - t >= 0.5
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


WRITER = textwrap.dedent("""
    import sys
    from catalyst import Store, Validator
    db, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(db, keep_open=False, buffer_rows=25, lock_timeout=60)
    v = Validator("default", store=store)
    for i in range(0, n, 25):
        v.validate_many([{"id": f"{tag}-{j}", "output": f"answer {j}"} for j in range(i, i + 25)])
    v.close()
    print("done", store.written)
""")


def test_two_processes_share_one_file(db_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), tag, "200"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in ("p1", "p2")]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip() == "done 200"
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM verdicts").fetchone() == (400, 400)
    con.close()


def test_a_run_killed_halfway_loses_no_reported_verdict_and_resumes(tmp_path):
    src = tmp_path / "in.jsonl"
    with src.open("w") as fh:
        for i in range(60_000):
            fh.write(json.dumps({"id": f"r{i}", "output": f"answer number {i}"}) + "\n")
    db, out = tmp_path / "log.duckdb", tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "catalyst", "validate", str(src), "--db", str(db), "--out", str(out),
           "--batch-size", "500"]
    marker = f"catalyst-test-{uuid.uuid4().hex}"  # inherited by the worker processes (60,000 lines: --workers 2)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "CATALYST_TEST_MARKER": marker})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20_000):
        time.sleep(0.05)
    assert _processes_with(marker) - {proc.pid}, "the run should have started worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(marker), "worker processes outlived the killed run"
    reported = {json.loads(line)["id"] for line in out.read_text().splitlines() if line.endswith("}")}
    assert reported, "the run was killed before it reported anything"
    con = duckdb.connect(str(db), read_only=True)
    logged = {r[0] for r in con.execute("SELECT id FROM verdicts").fetchall()}
    con.close()
    # --out is written (fsync) before its batch goes to the log, so after a kill the log holds only reported
    # verdicts, and --resume (which prunes --out to the log first) completes both (tests/test_cli_kill_resume.py)
    assert logged <= reported
    assert len(logged) < 60_000, "the run finished before it was killed; make the input larger"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(DISTINCT id) FROM verdicts").fetchone()[0] == 60_000
    assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 60_000  # no id validated twice
    con.close()
    lines = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(lines) == len(set(lines)) == 60_000


def _processes_with(marker: str) -> set[int]:
    """Live processes whose environment carries ``marker`` (Linux /proc)."""
    found = set()
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in env.read_bytes() and (env.parent / "stat").read_text().split()[2] != "Z":
                found.add(int(env.parent.name))
        except OSError:
            continue
    return found
