"""``catalyst serve`` as a real process: it owns the DuckDB file, flushes on shutdown, loses at most one interval."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

import catalyst
from catalyst.testing import ScriptedServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(upstream: str, db: Path, flush: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = db.with_suffix(".stderr")
    cmd = [sys.executable, "-c", "from catalyst.cli import main; main()", "serve", "--upstream", upstream,
           "--db", str(db), "--port", str(port), "--flush-interval", str(flush)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"catalyst serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                return proc, f"{base}/v1"
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("catalyst serve did not come up in 60 s")


def count(db: Path) -> int:
    with catalyst.Store(db) as s:
        return int(s.query("SELECT count(*) AS n FROM verdicts")[0]["n"])


@pytest.mark.slow
def test_serve_owns_the_log_and_flushes_every_verdict_on_shutdown(tmp_path):
    db = tmp_path / "proxy.duckdb"
    with ScriptedServer(lambda r: f"Answer: {r.last_user_message}") as up:
        proc, url = start_serve(up.url, db, flush=30.0)  # long interval: only the shutdown flush can save them
        try:
            with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as c:
                for i in range(25):
                    r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{i}"}])
                    assert r.catalyst["decision"] == "accept"
            # a second process goes through the proxy, which owns the log (see tests/test_shared_log.py)
            assert catalyst.Store(db, keep_open=False, lock_timeout=0.5).query("SELECT 1 AS x") == [{"x": 1}]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    assert count(db) == 25


@pytest.mark.slow
def test_a_killed_proxy_loses_no_verdict_it_answered(tmp_path):
    db = tmp_path / "crash.duckdb"
    with ScriptedServer("Fine.") as up:
        proc, url = start_serve(up.url, db, flush=30.0)  # nothing reaches DuckDB on the timer before the kill
        try:
            with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as c:
                for i in range(15):
                    c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{i}"}])
        finally:
            proc.kill()  # SIGKILL right after the last answer: no shutdown flush, no timer flush
            proc.wait(timeout=30)
    assert count(db) == 15  # the journal, replayed when the log is opened
