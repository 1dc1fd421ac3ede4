"""A log held by another process: each command says who holds it and what to do, in one line, exit 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from catalyst.store import Store

CLI = [sys.executable, "-m", "catalyst"]


def run(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=180,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web_reviewer(tmp_path):
    """The real `catalyst review --web`, which owns the log while it runs."""
    pytest.importorskip("fastapi")
    db = tmp_path / "log.duckdb"
    from catalyst.review.demo import fill

    with Store(db) as store:
        fill(store, 2)
    port = free_port()
    proc = subprocess.Popen([*CLI, "review", "--web", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while True:  # wait for the server to answer (the event), checking it did not die
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the web reviewer did not start")
            time.sleep(0.1)
        yield db, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _line(p: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, p.stderr
    return errors[0]


def test_read_only_sql_and_show_name_the_process_holding_the_log(web_reviewer, tmp_path):
    db, pid = web_reviewer
    for args in (["sql", "SELECT count(*) FROM verdicts", "--wait", "0.2"], ["show", "x"]):
        p = run(*args, "--db", str(db), cwd=tmp_path)
        line = _line(p)
        assert p.returncode == 2
        assert f"PID {pid} (catalyst review --web --db {db}" in line and "Stop that process" in line


def test_token_add_while_the_web_reviewer_runs_says_to_stop_it(web_reviewer, tmp_path):
    db, pid = web_reviewer
    p = run("review", "token", "add", "bob", "--db", str(db), cwd=tmp_path)
    line = _line(p)
    assert p.returncode == 2 and f"PID {pid}" in line and "stop it" in line and "start it again" in line


def test_validate_fails_before_the_work_when_the_log_is_held(web_reviewer, tmp_path):
    db, pid = web_reviewer
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "output": "fine"}\n')
    out = tmp_path / "out.jsonl"
    p = run("validate", str(src), "--db", str(db), "--out", str(out), "--wait", "0.2", cwd=tmp_path)
    line = _line(p)
    assert p.returncode == 2 and f"PID {pid}" in line and "write it" in line
    assert not out.exists() or out.read_text() == ""  # nothing validated, nothing written
