"""Every CLI failure is one `error:` line naming the cause and the fix, with exit 2 for what the user can fix:
a table of wrong invocations across commands, run as a user runs them (real processes, real files)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "catalyst"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=timeout,
                          stdin=stdin)


def one_error_line(p: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith("validating")]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, p.stderr
    assert errors == [ln for ln in lines if "error" in ln.lower()], p.stderr
    return errors[0]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace: good and bad inputs, policies, a plugin, and a log with a few verdicts."""
    d = tmp_path_factory.mktemp("ws")
    (d / "good.jsonl").write_text("".join(json.dumps({"id": f"g{i}", "output": f"answer {i}"}) + "\n"
                                          for i in range(3)))
    (d / "empty.jsonl").write_text("")
    (d / "badjson.jsonl").write_text('{"output": "ok"}\n{"output": \n')
    (d / "segment.jsonl").write_text('{"output": "ok", "metadata": {"segment": "EU"}}\n')
    (d / "folder").mkdir()
    (d / "unknown.yaml").write_text("checks:\n  - non_empty\n  - toxicty: {}\n")
    (d / "broken.yaml").write_text("checks:\n  - non_empty: {threshold: [\n")
    (d / "missing_plugin.yaml").write_text("plugins: [not_a_module_anywhere]\nchecks:\n  - non_empty\n")
    (d / "broken_plugin.py").write_text("import catalyst\nraise_here = undefined_name\n")
    (d / "junk.duckdb").write_bytes(os.urandom(4096))
    p = run("validate", "good.jsonl", "--db", "log.duckdb", cwd=d)
    assert p.returncode == 0, p.stderr
    return d


# (args, exit code, what the error line must contain: the cause and the fix)
CASES = [
    # validate: input
    (["validate", "nope.jsonl"], 2, ["`nope.jsonl` does not exist", "check the path"]),
    (["validate", "folder", "--db", "x1.duckdb"], 2, ["is a directory", "answers.jsonl"]),
    (["validate", "empty.jsonl", "--db", "x2.duckdb"], 2, ["is empty", "one JSON record per line"]),
    (["validate", "badjson.jsonl", "--db", "x3.duckdb"], 2, ["line 2", "not valid JSON", "--skip-bad"]),
    (["validate", "segment.jsonl", "--db", "x4.duckdb"], 2, ["line 1, field `metadata.segment`",
                                                            '{"region": "EU"}']),
    # validate: policy and plugins
    (["validate", "good.jsonl", "--policy", "nopolicy", "--db", "x5.duckdb"], 2, ["policy file `nopolicy` not found",
                                                                              "shipped policy name"]),
    (["validate", "good.jsonl", "--policy", "unknown.yaml", "--db", "x6.duckdb"], 2,
     ["unknown check `toxicty` at unknown.yaml:3", "did you mean `toxicity`", "--import"]),
    (["validate", "good.jsonl", "--policy", "missing_plugin.yaml", "--db", "x7.duckdb"], 2,
     ["plugin module `not_a_module_anywhere` not found", "missing_plugin.yaml:1"]),
    (["validate", "good.jsonl", "--import", "nothere_mod", "--db", "x8.duckdb"], 2,
     ["--import nothere_mod", "not found", "working directory"]),
    (["validate", "good.jsonl", "--import", "broken_plugin.py", "--db", "x9.duckdb"], 2,
     ["broken_plugin.py:2", "NameError", "fix the plugin"]),
    # validate: the log and --out
    (["validate", "good.jsonl", "--db", "no/such/folder/l.duckdb"], 2, ["folder `no/such/folder` does not exist",
                                                                       "mkdir -p"]),
    (["validate", "good.jsonl", "--db", "/proc/catalyst-test.duckdb"], 2, ["cannot be written",
                                                                         "writable path"]),
    (["validate", "good.jsonl", "--db", "folder"], 2, ["is a directory", "catalyst.duckdb"]),
    (["validate", "good.jsonl", "--db", "junk.duckdb"], 2, ["not a DuckDB file", "--db"]),
    (["validate", "good.jsonl", "--db", "x10.duckdb", "--out", "no/such/out.jsonl"], 2, ["does not exist",
                                                                                        "mkdir -p"]),
    (["validate", "good.jsonl", "--db", "x11.duckdb", "--out", "folder"], 2, ["is a directory", "out.jsonl"]),
    (["validate", "good.jsonl", "--db", "log.duckdb"], 2, ["already have a verdict", "--resume", "--rerun"]),
    (["validate", "good.jsonl", "--resume", "--rerun"], 2, ["contradict", "pick one"]),
    # validate: options
    (["validate", "good.jsonl", "--batch-size", "0"], 2, ["--batch-size", "catalyst validate --help"]),
    (["validate", "good.jsonl", "--bogus"], 2, ["No such option: --bogus", "catalyst validate --help"]),
    (["validate"], 2, ["Missing argument", "catalyst validate --help"]),
    # show / sql
    (["show", "g1", "--db", "none.duckdb"], 2, ["no Catalyst log at `none.duckdb`", "catalyst demo"]),
    (["show", "zzz", "--db", "log.duckdb"], 2, ["no verdict for id `zzz`", "catalyst sql"]),
    (["show", "g1", "--db", "folder"], 2, ["is a directory", "--db"]),
    (["sql", "SELECT 1", "--db", "none.duckdb"], 2, ["no Catalyst log at `none.duckdb`", "--db"]),
    (["sql", "SELEC nothing", "--db", "log.duckdb"], 2, ["query failed", "syntax"]),
    (["sql", "DELETE FROM verdicts", "--db", "log.duckdb"], 2, ["query failed", "read-only"]),
    (["sql", "SELECT 1", "--db", "junk.duckdb"], 2, ["not a DuckDB file", "--db"]),
    # policy / checks
    (["policy", "check", "nopolicy.yaml"], 2, ["policy file `nopolicy.yaml` not found", "shipped policy name"]),
    (["policy", "check", "broken.yaml"], 2, ["not valid YAML", "broken.yaml:"]),
    (["policy", "schema", "--out", "no/such/schema.json"], 2, ["does not exist", "mkdir -p"]),
    (["checks", "bogus"], 2, ["No such command 'bogus'", "catalyst checks --help"]),
    (["nonexistent"], 2, ["No such command 'nonexistent'", "catalyst --help"]),
    # review
    (["review", "--db", "none.duckdb"], 2, ["no Catalyst log at `none.duckdb`", "catalyst demo"]),
    (["review", "--db", "log.duckdb"], 2, ["needs an interactive terminal", "--list"]),
    (["review", "labels", "--db", "none.duckdb"], 2, ["no Catalyst log", "--db"]),
    (["review", "resume", "--db", "log.duckdb"], 2, ["Missing option '--policy'", "catalyst review resume --help"]),
    # eval / tune / serve (their own modules; main() still answers in one line)
    (["eval", "nothere.jsonl", "--policy", "default"], 2, ["nothere.jsonl", "not found"]),
    (["tune", "--policy", "default"], 2, ["Missing option '--data'", "catalyst tune --help"]),
    (["serve", "--upstream", "http://127.0.0.1:9", "--policy", "nopolicy"], 2, ["policy file `nopolicy` not found",
                                                                               "shipped policy name"]),
]


@pytest.mark.parametrize(("args", "code", "needles"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_a_wrong_invocation_gets_one_error_line_with_the_fix(ws, args, code, needles):
    p = run(*args, cwd=ws)
    line = one_error_line(p)
    assert p.returncode == code, (p.returncode, line)
    for n in needles:
        assert n in line, (n, line)


def test_the_table_is_large_enough():
    assert len(CASES) >= 30
    assert len({c[0][0] for c in CASES}) >= 9  # commands covered


@pytest.mark.skipif(shutil.which("chattr") is None, reason="chattr not available")
def test_an_immutable_log_fails_before_the_work(ws):
    db = ws / "immutable.duckdb"
    db.write_bytes(b"")
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("cannot set the immutable flag here (needs CAP_LINUX_IMMUTABLE)")
    try:
        p = run("validate", "good.jsonl", "--db", str(db), "--out", "imm-out.jsonl", cwd=ws)
        line = one_error_line(p)
        assert p.returncode == 2 and "cannot be written" in line and "immutable" in line and "chattr -i" in line
        assert not (ws / "imm-out.jsonl").exists()  # nothing was validated or written
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_runtime_failures_exit_1_and_debug_shows_the_traceback(capsys):
    from catalyst.cli._errors import handle
    from catalyst.errors import StoreError

    assert handle(StoreError("the disk is full"), [], debug=False) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the disk is full") and "--debug" in err and err.count("\n") == 1
    assert handle(ValueError("boom"), [], debug=False) == 1
    err = capsys.readouterr().err
    assert "unexpected ValueError: boom" in err and "report it" in err and "Traceback" not in err
    try:
        raise ValueError("boom")
    except ValueError as e:
        assert handle(e, [], debug=True) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: unexpected ValueError")
    assert handle(KeyboardInterrupt(), [], debug=False) == 130


def test_catalyst_debug_env_prints_the_traceback_then_the_line(ws):
    p = run("sql", "SELECT 1", "--db", "none.duckdb", cwd=ws, env={"CATALYST_DEBUG": "1"})
    assert p.returncode == 2 and "Traceback" in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("error: no Catalyst log")
