"""`policy check` reports every problem in one pass; tables survive pipes and 60-column terminals; `--json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "catalyst"]

MANY = """name: bad name with spaces
plugins:
  - not_installed_anywhere
colour: blue
checks:
  - non_empty
  - toxicty: {}
  - length: {max_chars: -3, min_chars: "x"}
  - denylist: {phrases: 5}
    weight: 500
  - grounding:
    on_fail: sometimes
thresholds: {accept: 2, block: 0.3}
segments:
  - match: {region: EU}
    checks:
      length: {max_chars: -1}
"""


def run(*args: str, cwd: Path, columns: str | None = "200") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_policy_check_reports_every_problem_in_one_pass_with_file_and_line(tmp_path):
    (tmp_path / "many.yaml").write_text(MANY)
    p = run("policy", "check", "many.yaml", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    expected = [("name:", ":1"), ("not_installed_anywhere", ":3"), ("unknown key `colour`", ":4"),
                ("unknown check `toxicty`", ":7"), ("setting `min_chars`", ":8"), ("setting `max_chars`", ":8"),
                ("setting `phrases`", ":9"), ("weight", ":10"), ("on_fail", ":12"), ("thresholds.accept", ":13"),
                ("setting `max_chars`", ":17")]
    assert len(errors) == len(expected), errors
    for line, (what, at) in zip(errors, expected, strict=True):
        assert what in line and f"many.yaml{at}" in line, (line, what, at)
    as_json = json.loads(run("policy", "check", "many.yaml", "--json", cwd=tmp_path).stdout)
    assert as_json["ok"] is False and len(as_json["problems"]) == len(expected)
    assert as_json["problems"][3]["where"] is None or "many.yaml" in (as_json["problems"][3]["where"] or "many.yaml")


def test_a_clean_policy_passes_and_agrees_with_load_policy(repo, tmp_path):
    from catalyst.policy import load_policy

    for name in ("default", "strict"):
        p = run("policy", "check", name, "--json", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["ok"] and doc["version"] == load_policy(name).version


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    d = tmp_path_factory.mktemp("out")
    long = "a very long answer " * 12
    rows = [{"id": f"row-with-a-long-identifier-{i}", "output": long + str(i),
             "context": ["a passage that supports nothing in particular"]} for i in range(3)]
    (d / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run("validate", "in.jsonl", "--db", "l.duckdb", cwd=d).returncode == 0
    return d


@pytest.mark.parametrize("columns", [None, "60"], ids=["piped", "60 columns"])
@pytest.mark.parametrize("args", [
    ["sql", "SELECT id, decision, policy, confidence FROM verdicts"],
    ["show", "row-with-a-long-identifier-1"],
    ["checks", "list"],
    ["policy", "check", "strict"],
    ["review", "--list"],
], ids=lambda a: " ".join(a[:2]))
def test_tables_are_never_cut_in_pipes_or_narrow_terminals(logged, args, columns):
    extra = ["--db", "l.duckdb"] if args[0] in ("sql", "show", "review") else []
    p = run(*args, *extra, cwd=logged, columns=columns)
    assert p.returncode == 0, p.stderr
    assert "…" not in p.stdout, p.stdout
    if columns == "60":
        assert max(len(line) for line in p.stdout.splitlines()) <= 60
    if args[0] == "sql" and columns is None:  # piped: one row per line, grep-able
        assert sum("row-with-a-long-identifier-" in line for line in p.stdout.splitlines()) == 3


def test_show_marks_the_context_passages(logged):
    p = run("show", "row-with-a-long-identifier-1", "--db", "l.duckdb", cwd=logged)
    assert "context passage 0" in p.stdout and "a passage that supports nothing" in p.stdout
    assert "✗ unsupported" in p.stdout or "~ closest evidence" in p.stdout


@pytest.mark.parametrize("args", [
    ["sql", "SELECT id FROM verdicts", "--db", "l.duckdb", "--json"],
    ["checks", "list", "--json"],
    ["review", "--db", "l.duckdb", "--list", "--json"],
    ["review", "labels", "--db", "l.duckdb", "--json"],
    ["show", "row-with-a-long-identifier-0", "--db", "l.duckdb", "--json"],
    ["policy", "check", "default", "--json"],
    ["validate", "in.jsonl", "--db", "l.duckdb", "--json", "--resume"],
], ids=lambda a: " ".join(a[:2]))
def test_json_output_is_json_only(logged, args):
    p = run(*args, cwd=logged)
    assert p.returncode == 0, p.stderr
    text = p.stdout.strip()
    if text.startswith("{\n"):
        json.loads(text)
    else:
        for line in text.splitlines():
            json.loads(line)
