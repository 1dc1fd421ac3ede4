"""Every ```python block of README.md runs exactly as written, each in a fresh interpreter and an empty folder.

Where a snippet calls a model, ``catalyst.testing.ScriptedServer`` stands in for OpenAI (``OPENAI_BASE_URL`` /
``OPENAI_API_KEY`` are set for the snippet's process). Afterwards every DuckDB log the snippet created must hold
its verdicts, with nothing left in its journal (the script simply ended: an orderly exit).

A block that cannot run here is fenced as ```python no-run: <the reason>``` — the reason is required.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from catalyst.store import Store
from catalyst.testing import ScriptedServer

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
ANSWER = "The tower was built from 1887 to 1889, for the World's Fair."


def _blocks() -> list[tuple[str, str, str]]:
    """(id, info string, code) of each python block, the id naming the section and the block's line."""
    text = README.read_text()
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        heading = [h for h in re.findall(r"^## (.+)$", text[: m.start()], re.MULTILINE)][-1:] or ["top"]
        out.append((f"{heading[0]} (line {line})", m.group("info").strip(), m.group("code")))
    return out


BLOCKS = _blocks()


def test_the_readme_has_python_snippets():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize(("where", "info", "code"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_snippet_runs_as_written(where, info, code, tmp_path):
    if info.startswith("no-run"):
        reason = info.partition(":")[2].strip()
        assert reason, f"{where}: a `no-run` block must say why (```python no-run: <reason>)"
        pytest.skip(reason)
    assert not info, f"{where}: unknown fence info {info!r}; use ```python or ```python no-run: <reason>"
    (tmp_path / "snippet.py").write_text(code)
    with ScriptedServer({"*": ANSWER}) as srv:
        env = {**os.environ, "OPENAI_BASE_URL": srv.url, "OPENAI_API_KEY": "test-key", "PYTHONWARNINGS": "error"}
        out = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert out.returncode == 0, f"{where} failed:\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr and "failed" not in out.stderr, out.stderr[-3000:]
    for db in tmp_path.glob("*.duckdb"):
        with Store(db) as store:
            n = store.query("SELECT count(*) AS n FROM verdicts")[0]["n"]
        assert n > 0, f"{where}: {db.name} holds no verdicts"
        assert not list(tmp_path.glob(f"{db.name}.journal/*.jsonl")), f"{where}: verdicts left in the journal"
    if "store=" in code:
        assert list(tmp_path.glob("*.duckdb")), f"{where}: the snippet logs to a store, but no log was created"


def test_quickstart_logs_every_verdict(tmp_path):
    [(_where, _info, code)] = [b for b in BLOCKS if b[0].startswith("Quickstart") and "validate_many" in b[2]]
    (tmp_path / "q.py").write_text(code)
    out = subprocess.run([sys.executable, "q.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    with Store(tmp_path / "catalyst.duckdb") as store:
        ids = sorted(r["id"] for r in store.query("SELECT id FROM verdicts"))
    assert len(ids) == 3 and {"q-1", "q-2"} <= set(ids)
