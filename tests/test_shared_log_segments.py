"""Many machines without a route to the owner: Parquet segments on shared storage, ingested exactly once."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys

import pytest

import catalyst
from catalyst.errors import ConfigError
from catalyst.records import Interaction
from catalyst.store import Store
from catalyst.store._store import to_arrow
from catalyst.store.segments import ingest, write_segment


def _tables(prefix: str, n: int) -> dict:
    recs = [Interaction(id=f"{prefix}{i}", output=f"answer {i}" if i % 4 else "As an AI language model, no.")
            for i in range(n)]
    verdicts = catalyst.Validator("default").validate_many(recs)
    return to_arrow(list(zip(recs, verdicts, strict=True)))


def write_many(directory: str, prefix: str, batches: int) -> None:
    """A 'machine': validates and writes its batches as segments (importable under spawn)."""
    for b in range(batches):
        write_segment(directory, _tables(f"{prefix}-{b}-", 25), key=f"{prefix}-{b}")


def test_segments_from_several_writers_are_logged_once(tmp_path):
    shared = tmp_path / "segments"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(str(shared), f"m{k}", 3)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    write_segment(shared, _tables("m0-0-", 25), key="m0-0")  # a retried task: the same key again
    db = tmp_path / "log.duckdb"
    with Store(db) as s:
        res = ingest(s, shared, keep=True)
        assert (res.logged, res.verdicts, res.bad) == (6, 150, [])
        again = ingest(s, shared)  # a second ingest (or a second ingester) logs nothing twice
        assert (again.logged, again.already) == (0, 6)
        assert s.query("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM verdicts") == [{"n": 150, "ids": 150}]
        assert s.query("SELECT count(*) AS n FROM review_items")[0]["n"] > 0  # review items came along
    assert not [p for p in shared.iterdir() if not p.name.startswith(".")]  # logged segments are removed


def test_a_truncated_segment_is_set_aside_and_the_rest_logged(tmp_path):
    shared = tmp_path / "segments"
    good = write_segment(shared, _tables("g", 10), key="good")
    cut = write_segment(shared, _tables("c", 10), key="cut")
    data = (cut / "verdicts.parquet").read_bytes()
    (cut / "verdicts.parquet").write_bytes(data[: len(data) // 2])  # a crash mid-write on non-atomic storage
    db = tmp_path / "log.duckdb"
    out = subprocess.run([sys.executable, "-m", "catalyst", "log", "ingest", str(shared), "--db", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "1 segment(s) logged (10 verdicts)" in out.stdout and "1 unreadable" in out.stdout
    assert "set aside" in out.stderr and "cut:" in out.stderr
    assert (shared / ".bad" / "cut").is_dir() and not good.exists()
    assert Store(db, keep_open=False).query("SELECT count(*) AS n FROM verdicts") == [{"n": 10}]


def test_a_segment_key_cannot_escape_the_directory(tmp_path):
    with pytest.raises(ConfigError, match="must not contain"):
        write_segment(tmp_path, _tables("x", 1), key="../evil")
