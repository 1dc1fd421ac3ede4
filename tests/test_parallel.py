"""`catalyst validate --workers N`: worker processes give the same verdicts, in file order, as one process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from catalyst import parallel
from catalyst.cli.validate import run_validate

POLICY = """
name: cheap
checks:
  - non_empty: {}
    on_fail: block
  - length: {min_chars: 1, max_chars: 200}
    on_fail: review
  - denylist:
      phrases: ["as an AI language model"]
    on_fail: review
on_unverified: accept
"""


def _write_input(path: Path, n: int) -> set[int]:
    """``n`` lines: mostly good answers, some denied, empty, too long, and a few malformed lines."""
    bad: set[int] = set()
    with path.open("w") as fh:
        for i in range(n):
            if i % 997 == 5:
                fh.write('{"id": "broken", "output": \n')  # not JSON
                bad.add(i + 1)
                continue
            if i % 1499 == 7:
                fh.write(json.dumps({"id": f"x{i}", "outptu": "typo"}) + "\n")  # unknown field, no output
                bad.add(i + 1)
                continue
            out = f"Answer {i}: the capital of France is Paris."
            if i % 7 == 0:
                out = "As an AI language model I cannot answer that."
            elif i % 11 == 0:
                out = "   "
            elif i % 13 == 0:
                out = "long " * 60
            fh.write(json.dumps({"id": f"r{i}", "input": f"question {i}", "output": out,
                                 "metadata": {"segment": {"shard": i % 3}}}) + "\n")
    return bad


def _run(src: Path, policy: Path, tmp: Path, workers: int, tag: str = "") -> tuple[list[dict],
                                                                                  duckdb.DuckDBPyConnection, dict]:
    db, out = tmp / f"w{workers}{tag}.duckdb", tmp / f"w{workers}{tag}.jsonl"
    res = run_validate(src, str(policy), str(db), out, skip_bad=True, resume=False, batch_size=400, quiet=True,
                       rejects=tmp / f"w{workers}{tag}.rejects.jsonl", workers=workers)
    return [json.loads(line) for line in out.read_text().splitlines()], duckdb.connect(str(db), read_only=True), res


@pytest.mark.slow
@pytest.mark.parametrize("local_first", [True, False], ids=["local-then-workers", "workers-only"])
def test_workers_give_the_same_verdicts_in_file_order_as_one_process(tmp_path, monkeypatch, local_first):
    src = tmp_path / "in.jsonl"
    bad = _write_input(src, 12_000)
    policy = tmp_path / "cheap.yaml"
    policy.write_text(POLICY)
    one, con1, res1 = _run(src, policy, tmp_path, workers=1)
    pids: set[int] = set()
    real = parallel.validate_file

    def spy(*a: Any, **k: Any) -> Iterator[parallel.BatchResult]:
        for r in real(*a, **k):
            pids.add(r.pid)
            yield r

    monkeypatch.setattr(parallel, "validate_file", spy)
    monkeypatch.setattr(parallel, "LOCAL_FIRST", local_first)
    two, con2, res2 = _run(src, policy, tmp_path, workers=2, tag="x")
    if not local_first:
        assert os.getpid() not in pids and len(pids) == 2  # both workers validated, this process did not

    assert len(one) == 12_000 - len(bad)
    assert [v["id"] for v in two] == [v["id"] for v in one]  # file order, through local and worker batches
    strip = [{k: v[k] for k in ("id", "decision", "confidence", "reasons")} | {"checks": [
        {k: c[k] for k in ("name", "score", "passed")} for c in v["checks"]]} for v in one]
    assert [{k: v[k] for k in ("id", "decision", "confidence", "reasons")} | {"checks": [
        {k: c[k] for k in ("name", "score", "passed")} for c in v["checks"]]} for v in two] == strip
    assert {v["decision"] for v in one} == {"accept", "review", "block"}

    assert res2["rejected"] == res1["rejected"] == len(bad)
    errs1 = (tmp_path / "w1.rejects.errors.txt").read_text().splitlines()
    errs2 = (tmp_path / "w2x.rejects.errors.txt").read_text().splitlines()
    assert errs2 == errs1 and len(errs1) == len(bad)
    assert all(f"line {n}" in e for n, e in zip(sorted(bad), errs1, strict=True))

    for sql in ("SELECT count(*), count(DISTINCT id) FROM verdicts",
                "SELECT decision, count(*) FROM verdicts GROUP BY ALL ORDER BY ALL",
                "SELECT count(*) FROM check_results",
                "SELECT name, passed, count(*) FROM check_results GROUP BY ALL ORDER BY ALL",
                "SELECT id FROM review_items ORDER BY id",
                "SELECT count(*) FROM interactions WHERE metadata->>'$.segment.shard' IS NOT NULL"):
        assert con2.execute(sql).fetchall() == con1.execute(sql).fetchall(), sql
    assert con2.execute("SELECT count(*) FROM verdicts").fetchone()[0] == len(one)
