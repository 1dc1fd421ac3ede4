"""`--help` stays fast: command modules import nothing heavy at their top, and `catalyst CMD` imports only CMD's
module. Timing itself lives in benchmarks/cli_help.py (medians in BENCHMARKS.md), not in a test."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import catalyst.cli

#: modules whose import costs tens to hundreds of milliseconds; a command imports them when it runs
HEAVY = ("numpy", "duckdb", "pyarrow", "yaml", "pydantic", "catalyst.store", "catalyst.records", "catalyst.checks",
         "catalyst.policy", "catalyst.review.queue", "textual", "fastapi", "langgraph", "rich.table")
MODULES = sorted(m.name for m in pkgutil.iter_modules(catalyst.cli.__path__) if not m.name.startswith("_"))


def _heavy_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nimport json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", MODULES)
def test_a_command_module_imports_nothing_heavy(name):
    assert _heavy_after(f"import catalyst.cli.{name}") == []


def test_a_subcommand_imports_only_its_own_module():
    code = ("from catalyst.cli import _load_commands, _loaded\n_load_commands('validate')\n"
            "assert _loaded == {'validate'}, _loaded")
    assert _heavy_after(code) == []


def test_every_command_answers_help():
    import typer.main

    from catalyst.cli import app

    paths: list[list[str]] = []

    def walk(cmd, path):
        paths.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_group(app), [])
    assert len(paths) >= 15
    env = {**os.environ, "COLUMNS": "60", "NO_COLOR": "1"}
    for path in paths:
        p = subprocess.run([sys.executable, "-m", "catalyst", *path, "--help"], capture_output=True, text=True,
                           timeout=120, env=env)
        assert p.returncode == 0 and "Usage: catalyst" in p.stdout, (path, p.stderr[-500:])
