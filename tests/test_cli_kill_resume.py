"""Batch truth under SIGKILL: after a kill and `--resume`, the log and `--out` hold every record exactly once.

A batch's `--out` lines wait (fsynced) in a write-ahead file while the batch is committed and go to `--out` once
the log has it; `--resume` moves the lines of batches committed just before a kill. So `--out` never holds a
verdict the log lacks, and after `--resume` neither side misses what the other has. Each kill lands right after a
commit: once `--out` has passed a mark, the test waits for the log's write-ahead file to change (a commit)
and kills at once — the moment an `--out` written after the commit would miss that batch (waiting on
files, not on a clock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

N = 30_000


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> bool:
    """Block until ``path`` holds ``n`` lines; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # --resume rewrites --out (it moves committed lines over from OUT.ahead): it may be absent a moment
            if path.read_bytes().count(b"\n") >= n:
                return True
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            return False
        os.sched_yield()
    raise AssertionError(f"{path} did not reach {n} lines in {timeout}s")


def wait_for_commit(wal: Path, proc: subprocess.Popen, timeout: float = 300) -> bool:
    """Block until the DuckDB write-ahead file changes size (a transaction committed); False if the run ended."""
    def size() -> int:
        try:
            return wal.stat().st_size
        except FileNotFoundError:
            return -1
    before = size()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if size() != before:
            return True
        if proc.poll() is not None:
            return False
        os.sched_yield()
    raise AssertionError(f"no commit to {wal} in {timeout}s")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = tmp_path_factory.mktemp("kill") / "in.jsonl"
    with src.open("w") as fh:
        for i in range(N):
            fh.write(json.dumps({"id": f"r{i}", "output": f"answer number {i}", "input": "q?"}) + "\n")
    return src


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "catalyst", *args]


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "marks"), [("1", (2_500, 11_000)), ("2", (6_000,))])
def test_kill_then_resume_leaves_log_and_out_complete_and_without_duplicates(source, tmp_path, workers, marks):
    db, out = tmp_path / "log.duckdb", tmp_path / "out.jsonl"
    env = {**os.environ, "NO_COLOR": "1"}
    first = True
    for mark in marks:
        args = ["validate", str(source), "--db", str(db), "--out", str(out), "--workers", workers]
        proc = subprocess.Popen(_cli(*args, *([] if first else ["--resume"])), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)
        first = False
        reached = False
        try:
            reached = wait_for_lines(out, mark, proc) and wait_for_commit(Path(f"{db}.wal"), proc)
        finally:
            if reached or proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stderr.close()
        assert reached, "the run finished before it could be killed; raise N"
    done = subprocess.run(_cli("validate", str(source), "--db", str(db), "--out", str(out), "--resume",
                               "--workers", workers), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(db), read_only=True)
    n, distinct = con.execute("SELECT count(*), count(DISTINCT id) FROM verdicts").fetchone()
    con.close()
    assert (n, distinct) == (N, N)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == N and len(set(ids)) == N


def test_rerun_without_resume_is_refused_and_duplicates_in_a_file_are_reported(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "output": "x"}) + "\n" for i in ("a", "b", "a", "c")))
    db = tmp_path / "l.duckdb"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    p = subprocess.run(_cli("validate", str(src), "--db", str(db)), capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "1 id(s) appear more than once" in p.stderr and "`a` 2 times" in p.stderr
    again = subprocess.run(_cli("validate", str(src), "--db", str(db)), capture_output=True, text=True, env=env)
    assert again.returncode == 2 and "3 id(s)" in again.stderr and "--resume" in again.stderr
    forced = subprocess.run(_cli("validate", str(src), "--db", str(db), "--rerun", "--json"), capture_output=True,
                            text=True, env=env)
    assert forced.returncode == 0 and json.loads(forced.stdout)["verdicts"] == 4
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 8
    con.close()


def test_a_stopping_error_says_what_is_committed_and_how_to_resume(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [json.dumps({"id": f"r{i}", "output": f"a{i}"}) for i in range(50)]
    rows[40] = "{broken"
    src.write_text("\n".join(rows) + "\n")
    db, out = tmp_path / "l.duckdb", tmp_path / "o.jsonl"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    p = subprocess.run(_cli("validate", str(src), "--db", str(db), "--out", str(out), "--batch-size", "10"),
                       capture_output=True, text=True, env=env)
    assert p.returncode == 2
    line = next(ln for ln in p.stderr.splitlines() if ln.startswith("error:"))
    assert "line 41" in line and "40 verdict(s) from this run are committed" in line and "--resume" in line
    assert "40/50" in p.stderr  # the progress bar shows where it stopped
    assert len(out.read_text().splitlines()) == 40
    rows[40] = json.dumps({"id": "r40", "output": "fixed"})
    src.write_text("\n".join(rows) + "\n")
    ok = subprocess.run(_cli("validate", str(src), "--db", str(db), "--out", str(out), "--resume"),
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"r{i}" for i in range(50))


DIE_AFTER_COMMIT = """
import os, sys
from catalyst.store import Store

def dying(name):
    orig = getattr(Store, name)
    def call(self, *args, **kwargs):
        fut = orig(self, *args, **kwargs)
        if fut.result():  # the batch group is committed: die before anything else happens (as SIGKILL would)
            os._exit(137)
        return fut
    setattr(Store, name, call)

dying("flush_async")
dying("write_many_async")
from catalyst.cli import main
sys.argv = ["catalyst", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_kill_right_after_a_commit_loses_no_out_line(source, tmp_path, workers):
    """The worst moment for `--out`: its batch group just committed. Deterministic: the run dies right there."""
    db, out = tmp_path / "log.duckdb", tmp_path / "out.jsonl"
    env = {**os.environ, "NO_COLOR": "1"}
    args = ["validate", str(source), "--db", str(db), "--out", str(out), "--workers", workers]
    died = subprocess.run([sys.executable, "-c", DIE_AFTER_COMMIT, *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert died.returncode == 137, died.stderr
    done = subprocess.run(_cli(*args, "--resume"), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM verdicts").fetchone() == (N, N)
    con.close()
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == N and len(set(ids)) == N
