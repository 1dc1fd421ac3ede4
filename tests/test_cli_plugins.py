"""A user's own `@catalyst.check` from the command line: `plugins:` in the policy, or `--import` on any command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CLI = [sys.executable, "-m", "catalyst"]

PLUGIN = '''
import catalyst


@catalyst.check
def no_refunds(ctx, max_mentions: int = 0, words: list[str] = ["refund"]):
    """Answers must not promise refunds."""
    text = ctx.output.lower()
    return sum(text.count(w) for w in words) <= max_mentions


@catalyst.check(evidence=True)
def sounds_sure(ctx):
    """A toy evidence signal (confidence comes from evidence checks only, so eval and tune need one)."""
    return 0.2 if "refund" in ctx.output.lower() else 0.9
'''


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}, stdin=subprocess.DEVNULL)


@pytest.fixture
def project(tmp_path):
    """policies/ holds the policy and the plugin beside it; commands run from another folder."""
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "mychecks.py").write_text(PLUGIN)
    (pol / "with_plugin.yaml").write_text("name: mine\nplugins:\n  - mychecks\nchecks:\n  - non_empty\n"
                                          "  - no_refunds: {max_mentions: 0}\n    on_fail: block\n")
    (pol / "bare.yaml").write_text("name: bare\nchecks:\n  - non_empty\n  - no_refunds: {words: [refund, money back]}\n"
                                   "    on_fail: block\n")
    (pol / "scored.yaml").write_text("name: scored\nchecks:\n  - non_empty\n  - no_refunds: {words: [refund]}\n"
                                     "  - sounds_sure\n")
    work = tmp_path / "work"
    work.mkdir()
    rows = [{"id": f"r{i}", "output": "We refund you." if i % 2 else "Thanks for asking.",
             "label": 0 if i % 2 else 1} for i in range(60)]
    (work / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, pol, work


def test_policy_plugins_are_found_beside_the_policy(project):
    _, pol, work = project
    ok = run("policy", "check", str(pol / "with_plugin.yaml"), cwd=work)
    assert ok.returncode == 0, ok.stderr
    assert "no_refunds" in ok.stdout and "plugins" in ok.stdout
    out = work / "out.jsonl"
    p = run("validate", "in.jsonl", "--policy", str(pol / "with_plugin.yaml"), "--db", "l.duckdb", "--out", str(out),
            cwd=work)
    assert p.returncode == 0, p.stderr
    decisions = {json.loads(x)["id"]: json.loads(x)["decision"] for x in out.read_text().splitlines()}
    assert decisions["r1"] == "block" and decisions["r0"] != "block"


def test_import_after_the_command_with_a_file_path(project):
    _, pol, work = project
    p = run("validate", "in.jsonl", "--policy", str(pol / "bare.yaml"), "--db", "l.duckdb", "--json",
            "--import", str(pol / "mychecks.py"), cwd=work)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["checks"]["no_refunds"]["failed"] == 30 and summary["decisions"]["block"] == 30
    without = run("validate", "in.jsonl", "--policy", str(pol / "bare.yaml"), "--db", "l2.duckdb", cwd=work)
    assert without.returncode == 2 and "unknown check `no_refunds`" in without.stderr and "--import" in without.stderr


def test_eval_and_tune_take_import_too(project):
    _, pol, work = project
    ev = run("eval", str(work / "in.jsonl"), "--policy", str(pol / "scored.yaml"), "--import", "mychecks", cwd=pol)
    assert ev.returncode == 0, ev.stderr
    assert "no_refunds" in ev.stdout and "sounds_sure" in ev.stdout
    tu = run("tune", "--policy", str(pol / "scored.yaml"), "--data", str(work / "in.jsonl"), "--review-budget", "0.2",
             "--import", "mychecks", cwd=pol)
    assert tu.returncode == 0, tu.stderr


def test_a_broken_plugin_names_its_file_line_and_the_policy_line(project):
    _, pol, work = project
    (pol / "broken.py").write_text("import catalyst\n\nvalue = 1 / 0\n")
    (pol / "b.yaml").write_text("checks:\n  - non_empty\nplugins:\n  - ./broken.py\n")
    p = run("policy", "check", str(pol / "b.yaml"), cwd=work)
    assert p.returncode == 2
    line = next(ln for ln in p.stderr.splitlines() if ln.startswith("error:"))
    assert "broken.py:3" in line and "ZeroDivisionError" in line and f"{pol / 'b.yaml'}:4" in line


def test_a_plugin_cannot_shadow_a_builtin(project):
    _, pol, work = project
    (pol / "shadow.py").write_text("import catalyst\n\n@catalyst.check\ndef non_empty(ctx):\n    return True\n")
    p = run("validate", "in.jsonl", "--import", str(pol / "shadow.py"), "--db", "l.duckdb", cwd=work)
    assert p.returncode == 2
    assert "a check named `non_empty` already exists" in p.stderr and "override=True" in p.stderr


def test_workers_import_the_plugins_too(project, monkeypatch):
    """Worker processes rebuild the policy from data and import the same plugin files."""
    from catalyst import parallel
    from catalyst.cli.validate import _for_workers
    from catalyst.policy import load_policy

    _, pol, work = project
    compiled, workers = _for_workers(load_policy(pol / "with_plugin.yaml"), 2, quiet=True)
    assert workers == 2 and compiled.policy.plugins == [str(pol / "mychecks.py")]
    monkeypatch.setattr(parallel, "LOCAL_FIRST", False)
    results = list(parallel.validate_file(work / "in.jsonl", compiled, workers=2, batch_size=20))
    assert sum(r.summary.n for r in results) == 60
    assert all(r.pid != os.getpid() for r in results)
    assert sum(r.summary.check_fail["no_refunds"] for r in results) == 30


@pytest.mark.slow
def test_serve_takes_import(project):
    _, pol, work = project
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*CLI, "serve", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(pol / "bare.yaml"),
                             "--db", str(work / "p.duckdb"), "--port", str(port), "--import", "mychecks"],
                            cwd=pol, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "catalyst serve did not come up"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def test_the_exported_policy_schema_documents_plugins(tmp_path):
    p = run("policy", "schema", cwd=tmp_path)
    assert p.returncode == 0
    plugins = json.loads(p.stdout)["properties"]["plugins"]
    assert plugins["type"] == "array" and plugins["items"]["type"] == "string"
    assert "@catalyst.check" in plugins["description"]
