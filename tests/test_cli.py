"""The CLI as a user runs it: real processes, real files, real DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

CLI = [sys.executable, "-m", "catalyst"]


def run(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    p = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=180)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_validate_logs_every_verdict_and_writes_jsonl(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "q-1", "input": "Capital of France?", "output": "Paris.", "context": ["Paris is the capital."]},
        {"id": "q-2", "output": "As an AI language model I cannot say."},
        {"id": "q-3", "output": ""},
    ])
    db, out = tmp_path / "log.duckdb", tmp_path / "out.jsonl"
    p = run("validate", str(src), "--db", str(db), "--out", str(out), check=True)
    assert "3 verdicts" in p.stdout and "mean confidence" in p.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {v["id"]: v["decision"] for v in lines} == {"q-1": "accept", "q-2": "review", "q-3": "block"}
    assert all(v["policy"].startswith("default@") for v in lines)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM check_results").fetchone()[0] == sum(len(v["checks"]) for v in lines)
    assert con.execute("SELECT id FROM review_items").fetchall() == [("q-2",)]
    con.close()
    shown = run("show", "q-2", "--db", str(db), check=True).stdout
    assert "review" in shown and "denied: 'As an AI language model'" in shown
    as_json = json.loads(run("show", "q-2", "--db", str(db), "--json", check=True).stdout)
    deny = next(c for c in as_json["checks"] if c["name"] == "denylist")
    assert deny["evidence"][0]["end"] == len("As an AI language model")


def test_malformed_line_stops_with_line_and_field(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"output": "ok"}, {"input": "no output here"}, {"output": "x"}])
    p = run("validate", str(src), "--db", str(tmp_path / "l.duckdb"))
    assert p.returncode == 2
    assert "line 2, field `output`: missing required field" in p.stderr
    assert "--skip-bad" in p.stderr
    assert "Traceback" not in p.stderr


def test_skip_bad_sets_lines_aside_and_reports_the_count(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"output": "ok"}\n{"output": "caf\xe9"}\n{"output": "a", "colour": 1}\nnot json\n'
                    b'{"output": "fine"}\n')
    db = tmp_path / "l.duckdb"
    p = run("validate", str(src), "--db", str(db), "--skip-bad", check=True)
    assert "3 bad lines skipped" in p.stderr
    rejects = src.with_name("in.jsonl.rejects.jsonl")
    assert len(rejects.read_bytes().splitlines()) == 3
    errors = rejects.with_suffix(".errors.txt").read_text()
    assert "line 2: not UTF-8" in errors and "line 3, field `colour`: unknown field" in errors
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2
    con.close()


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "is empty"),
    (b"\n\n", "no records"),
])
def test_empty_input_is_a_clear_error(tmp_path, content, needle):
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    p = run("validate", str(src), "--db", str(tmp_path / "l.duckdb"))
    assert p.returncode == 2 and needle in p.stderr


def test_missing_input_and_unknown_policy_are_clear(tmp_path):
    p = run("validate", str(tmp_path / "nope.jsonl"))
    assert p.returncode == 2 and "does not exist" in p.stderr
    src = write_jsonl(tmp_path / "in.jsonl", [{"output": "ok"}])
    bad = tmp_path / "a.yaml"
    bad.write_text("checks:\n  - non_empty: {}\n  - toxicty: {}\n")
    p = run("validate", str(src), "--policy", str(bad), "--db", str(tmp_path / "l.duckdb"))
    assert p.returncode == 2
    assert f"unknown check `toxicty` at {bad}:3" in p.stderr and "known: " in p.stderr


def test_resume_skips_ids_already_logged(tmp_path):
    rows = [{"id": f"r{i}", "output": f"answer {i}"} for i in range(50)]
    src = write_jsonl(tmp_path / "in.jsonl", rows[:20])
    db = tmp_path / "l.duckdb"
    run("validate", str(src), "--db", str(db), check=True)
    write_jsonl(src, rows)
    p = run("validate", str(src), "--db", str(db), "--resume", check=True)
    assert "skipped 20 records already in the log" in p.stdout
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM verdicts").fetchone() == (50, 50)
    con.close()


def test_policy_schema_and_check(tmp_path, repo):
    schema = json.loads(run("policy", "schema", check=True).stdout)
    assert schema["title"] == "Catalyst policy"
    ok = run("policy", "check", str(repo / "policies" / "strict.yaml"), check=True)
    assert "strict@" in ok.stdout
    bad = tmp_path / "b.yaml"
    bad.write_text("checks:\n  - length: {max_chars: -3}\n")
    p = run("policy", "check", str(bad))
    assert p.returncode == 2 and f"{bad}:2" in p.stderr and "max_chars" in p.stderr


def test_demo_runs_on_embedded_defaults(tmp_path):
    p = run("demo", cwd=tmp_path, check=True)
    assert (tmp_path / "catalyst.duckdb").exists()
    assert "300 verdicts" in p.stdout
    assert "catalyst show" in p.stdout and "review queue" in p.stdout
    con = duckdb.connect(str(tmp_path / "catalyst.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM interactions WHERE label IS NOT NULL").fetchone()[0] == 300
    con.close()


def test_sql_queries_the_log_read_only(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "output": "fine"}, {"id": "b", "output": ""}])
    db = tmp_path / "l.duckdb"
    run("validate", str(src), "--db", str(db), check=True)
    rows = run("sql", "SELECT id, decision FROM verdicts ORDER BY id", "--db", str(db), "--json", check=True)
    assert [json.loads(line) for line in rows.stdout.splitlines()] == [
        {"id": "a", "decision": "accept"}, {"id": "b", "decision": "block"}]
    bad = run("sql", "DELETE FROM verdicts", "--db", str(db))
    assert bad.returncode == 2 and "read-only" in bad.stderr
