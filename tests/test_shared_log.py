"""One log, many processes: the process holding the DuckDB file serves it, every other goes through it.

Real processes (the `catalyst` CLI, spawned owners), real DuckDB files, real TCP on 127.0.0.1.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from catalyst.errors import LogOwnerUnreachableError
from catalyst.review import ReviewQueue
from catalyst.review.demo import fill
from catalyst.store import Store, open_db
from catalyst.store._procs import hold_without_serving, serve_and_report
from catalyst.store._remote import RemoteConnection

CLI = [sys.executable, "-m", "catalyst"]


def _records(path: Path, prefix: str, n: int) -> Path:
    with path.open("wb") as f:
        for i in range(n):
            f.write(orjson.dumps({"id": f"{prefix}{i}", "input": "q", "output": f"answer {i}" if i % 9 else " ",
                                 "label": i % 2})
                    + b"\n")
    return path


def _run(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def _ok(p: subprocess.Popen[bytes]) -> bytes:
    out, err = p.communicate(timeout=240)
    assert p.returncode == 0, err.decode()[-2000:]
    return out


def _count(db: Path, where: str = "true") -> tuple[int, int]:
    r = Store(db, keep_open=False).query(f"SELECT count(*) AS n, count(DISTINCT id) AS ids FROM verdicts WHERE {where}")
    return r[0]["n"], r[0]["ids"]


def _spawn(target, db):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(str(db), child), daemon=True)
    proc.start()
    assert parent.poll(60), f"{target.__name__} did not start"
    return parent, proc


@pytest.fixture
def owner(tmp_path):
    """`catalyst log serve`'s loop in a spawned process; yields (db, conn, process)."""
    db = tmp_path / "log.duckdb"
    parent, proc = _spawn(serve_and_report, db)
    msg = parent.recv()
    assert msg[0] == "ready"
    yield db, parent, proc
    if proc.is_alive():
        parent.send("stop")
        proc.join(30)


def test_a_second_process_goes_through_the_owner_instead_of_waiting(tmp_path):
    db = tmp_path / "log.duckdb"
    with Store(db) as store:  # this process holds the file and serves it
        store.query("SELECT 1")
        assert store.owner is not None and (tmp_path / "log.duckdb.owner").exists()
        info = orjson.loads((tmp_path / "log.duckdb.owner").read_bytes())
        assert info["pid"] == os.getpid() and oct((tmp_path / "log.duckdb.owner").stat().st_mode)[-3:] == "600"
        inp = _records(tmp_path / "a.jsonl", "a", 300)
        _ok(_run("validate", str(inp), "--db", str(db)))
        token = _ok(_run("review", "token", "add", "ana", "--role", "admin", "--db", str(db))).decode().strip()
        assert token
        rows = orjson.loads(_ok(_run("sql", "SELECT count(*) AS n FROM verdicts", "--db", str(db), "--json")))
        assert rows == {"n": 300}
        assert store.query("SELECT name, role FROM review_users") == [{"name": "ana", "role": "admin"}]
    assert not (tmp_path / "log.duckdb.owner").exists()  # an orderly close stops advertising


@pytest.mark.slow
def test_two_batch_runs_reviewers_and_admin_commands_at_once(owner, tmp_path):
    db, _conn, _proc = owner
    with Store(db, keep_open=False) as s:
        fill(s, 80)  # a queue for the reviewer below
    a = _records(tmp_path / "a.jsonl", "a", 2000)
    b = _records(tmp_path / "b.jsonl", "b", 2000)
    runs = [_run("validate", str(a), "--db", str(db), "--batch-size", "250"),
            _run("validate", str(b), "--db", str(db), "--batch-size", "250")]
    admin = [_run("review", "token", "add", "ana", "--role", "admin", "--db", str(db)),
             _run("review", "resume", "--db", str(db), "--policy", "default")]
    q = ReviewQueue(Store(db, keep_open=False))
    decided = []
    while (c := q.claim("rev")) is not None:  # a reviewer works while the runs write
        q.decide(c.item_id, reviewer="rev", action="approve" if len(decided) % 2 else "reject")
        decided.append(c.item_id)
    for p in runs + admin:
        _ok(p)
    _ok(_run("calibrate", "--db", str(db), "--policy", "default", "--write", str(tmp_path / "cal.yaml")))
    assert Store(db, keep_open=False).query("SELECT count(*) AS n FROM calibrators")[0]["n"] == 1
    assert _count(db, "id[1] IN ('a', 'b')") == (4000, 4000)  # no verdict lost, none twice
    assert len(q.decisions()) == len(set(decided)) == len(decided)
    assert len(q.labels(latest=False)) >= len(decided)
    assert Store(db, keep_open=False).query("SELECT count(*) AS n FROM review_users")[0]["n"] == 1


@pytest.mark.slow
def test_the_owner_crashing_mid_run_loses_nothing(owner, tmp_path):
    db, conn, proc = owner
    inp = _records(tmp_path / "a.jsonl", "a", 1500)
    run = _run("validate", str(inp), "--db", str(db))
    assert conn.poll(240), "the run never wrote through the owner"
    assert conn.recv() == "write"
    os.kill(proc.pid, signal.SIGKILL)  # mid-write: the client's transaction never commits
    proc.join(30)
    _ok(run)  # the run found the file free, took it over, and wrote its batch once
    assert _count(db) == (1500, 1500)
    assert not (tmp_path / "log.duckdb.owner").exists()


def test_an_orderly_owner_exit_hands_the_file_over(tmp_path):
    db = tmp_path / "log.duckdb"
    first = Store(db)
    first.query("SELECT 1")
    second = Store(db)  # another long-running user: a client of the first
    assert second.query("SELECT 1 AS x") == [{"x": 1}]
    assert second.owner is None
    first.close()
    fill(second, 5)  # goes through the first, finds it gone, takes the file
    assert second.owner is not None
    assert second.query("SELECT count(*) AS n FROM review_items") == [{"n": 5}]
    second.close()


def test_a_stale_owner_file_is_removed(tmp_path):
    db = tmp_path / "log.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "log.duckdb.owner").write_bytes(orjson.dumps(
        {"pid": int(dead.stdout), "host": "127.0.0.1", "port": 9, "token": "x"}))
    with Store(db) as s:
        assert s.query("SELECT 1 AS x") == [{"x": 1}]
        assert orjson.loads((tmp_path / "log.duckdb.owner").read_bytes())["pid"] == os.getpid()


def test_an_owner_that_holds_the_file_but_does_not_answer_is_named(tmp_path):
    db = tmp_path / "log.duckdb"
    parent, proc = _spawn(hold_without_serving, db)
    try:
        assert parent.recv() == "holding"
        (tmp_path / "log.duckdb.owner").write_bytes(orjson.dumps(
            {"pid": proc.pid, "host": "127.0.0.1", "port": 9, "token": "x"}))
        with pytest.raises(LogOwnerUnreachableError, match=rf"process {proc.pid} .*does not answer"):
            open_db(db, lock_timeout=0.3)
    finally:
        parent.send("stop")
        proc.join(30)


def test_a_wrong_token_is_refused(tmp_path, monkeypatch):
    db = tmp_path / "log.duckdb"
    with Store(db) as s:
        s.query("SELECT 1")
        host, port = s.owner.address
        monkeypatch.setenv("CATALYST_LOG_OWNER", f"{host}:{port}")
        monkeypatch.setenv("CATALYST_LOG_TOKEN", "not-the-token")
        with pytest.raises(LogOwnerUnreachableError, match="refused"):
            Store(tmp_path / "other.duckdb", keep_open=False).query("SELECT 1")
        monkeypatch.setenv("CATALYST_LOG_TOKEN", s.owner.token)  # another machine, with the token
        con = open_db(tmp_path / "anywhere.duckdb")
        assert isinstance(con, RemoteConnection) and con.execute("SELECT 41 + 1").fetchone() == (42,)
        con.close()


def test_remote_results_keep_their_types_and_errors_their_class(tmp_path):
    import duckdb

    from catalyst.review.queue import ItemNotFoundError

    db = tmp_path / "log.duckdb"
    with Store(db) as s:
        fill(s, 3)
        con = RemoteConnection(orjson.loads((tmp_path / "log.duckdb.owner").read_bytes()))
        row = con.execute("SELECT created_at, confidence, id FROM review_items ORDER BY id LIMIT 1").fetchone()
        local = s.query("SELECT created_at, confidence, id FROM review_items ORDER BY id LIMIT 1")[0]
        assert row == (local["created_at"], local["confidence"], local["id"])
        assert len(con.execute("SELECT * FROM range(5000)").fetchall()) == 5000  # past one prefetch
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM no_such_table")
        with pytest.raises(ItemNotFoundError):
            ReviewQueue(Store(db, keep_open=False)).claim("ana", item_id="nope")
        ro = RemoteConnection(orjson.loads((tmp_path / "log.duckdb.owner").read_bytes()), read_only=True)
        with pytest.raises(duckdb.Error, match="read-only"):
            ro.execute("DELETE FROM review_items")
        con.close()
        ro.close()
        assert s.query("SELECT count(*) AS n FROM review_items") == [{"n": 3}]


def test_two_runs_over_the_same_input_do_not_both_log_it(tmp_path):
    from catalyst.cli.validate import run_validate
    from catalyst.store.runs import InputBusyError, claim_input

    db = tmp_path / "log.duckdb"
    inp = _records(tmp_path / "a.jsonl", "a", 50)
    with Store(db) as owner:
        finish = claim_input(owner, inp)  # a run in progress (this process: alive)
        second = _run("validate", str(inp), "--db", str(db), "--resume")
        _out, err = second.communicate(timeout=240)
        assert second.returncode == 2 and b"is being validated into this log by another run" in err
        assert owner.query("SELECT count(*) AS n FROM verdicts") == [{"n": 0}]  # nothing written twice
        with pytest.raises(InputBusyError, match="wait for it, or stop it"):
            claim_input(owner, inp)  # this process's run is alive
        finish()
    res = run_validate(inp, "default", str(db), None, skip_bad=False, resume=True, batch_size=20, quiet=True)
    assert res["verdicts"] == 50
    again = run_validate(inp, "default", str(db), None, skip_bad=False, resume=True, batch_size=20, quiet=True)
    assert again["verdicts"] == 0 and again["skipped"] == 50
    assert _count(db) == (50, 50)


def test_a_run_whose_process_died_gives_its_input_up(tmp_path):
    from catalyst.store.runs import claim_input

    db = tmp_path / "log.duckdb"
    inp = _records(tmp_path / "a.jsonl", "a", 10)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with Store(db) as s:
        claim_input(s, inp)
        s.query("SELECT 1")
        with s.connect() as con:
            con.execute("UPDATE log_runs SET pid = ?", [int(dead.stdout)])  # that run was killed
        claim_input(s, inp)()  # taken over, then finished
        assert s.query("SELECT finished_at IS NOT NULL AS done FROM log_runs") == [{"done": True}]


def test_a_cursor_of_a_remote_connection_is_its_own_session(tmp_path):
    db = tmp_path / "log.duckdb"
    with Store(db) as s:
        fill(s, 3)
        con = RemoteConnection(orjson.loads((tmp_path / "log.duckdb.owner").read_bytes()))
        cur = con.cursor()
        cur.execute("SELECT id FROM review_items ORDER BY id")
        con.execute("BEGIN TRANSACTION")
        con.execute("UPDATE review_items SET severity = 9 WHERE id = ?", [cur.fetchone()[0]])
        con.execute("COMMIT")
        assert [r[0] for r in cur.fetchall()] == ["item-00001", "item-00002"]  # the stream went on
        cur.close()
        con.close()
        assert s.query("SELECT max(severity) AS m FROM review_items") == [{"m": 9}]
