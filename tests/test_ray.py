"""Batch validation on Ray: a local 2-CPU Ray cluster started by the tests, verdicts in a real DuckDB log."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import catalyst
from catalyst.ray import VERDICT_SCHEMA, ValidateActor, validate_batch, validate_dataset, validate_path
from catalyst.store import Store

ray = pytest.importorskip("ray")
# Ray Data warns about its own deprecated settings while it builds its context (not ours to fix)
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray(\..*)?")

RECORDS = [{"id": f"r{i}", "input": "q", "output": f"answer {i}" if i % 5 else "  ",
            "context": ["answer one", "answer two"]} for i in range(240)]


def _jsonl(path: Path) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    return path


def _logged(db: Path) -> tuple[int, int]:
    r = Store(db, keep_open=False).query("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM verdicts")[0]
    return r["n"], r["ids"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def test_validate_batch_matches_the_validator_and_needs_no_engine():
    batch = pa.RecordBatch.from_pylist(RECORDS[:20])
    out = validate_batch(batch, "default")
    assert out.schema == VERDICT_SCHEMA and out.num_rows == 20
    expected = catalyst.Validator("default").validate_many(RECORDS[:20])
    assert out.column("id").to_pylist() == [v.id for v in expected]
    assert out.column("decision").to_pylist() == [v.decision.value for v in expected]
    assert out.column("confidence").to_pylist() == pytest.approx([v.confidence for v in expected])
    checks = orjson.loads(out.column("checks")[0].as_py())
    assert {c["name"] for c in checks} == {c.name for c in expected[0].checks}


def test_jsonl_lines_as_one_text_column_are_parsed_like_a_file():
    lines = pa.table({"text": [orjson.dumps(r).decode() for r in RECORDS[:5]]})
    assert validate_batch(lines).column("id").to_pylist() == [r["id"] for r in RECORDS[:5]]


@pytest.mark.slow
def test_a_jsonl_file_and_a_parquet_dataset_on_ray_log_every_verdict_once(local_ray, tmp_path):
    db = tmp_path / "log.duckdb"
    res = validate_path(_jsonl(tmp_path / "in.jsonl"), "default", str(db), concurrency=2, batch_size=50)
    assert res["verdicts"] == len(RECORDS) and sum(res["decisions"].values()) == len(RECORDS)
    assert _logged(db) == (240, 240)
    parts = tmp_path / "parquet"
    parts.mkdir()
    for k in range(2):  # a directory of Parquet files, one column per record field
        pq.write_table(pa.Table.from_pylist([{**r, "id": f"p{k}-{r['id']}"} for r in RECORDS[k::2]]),
                       parts / f"part-{k}.parquet")
    res = validate_path(parts, "default", str(db), concurrency=2, batch_size=50)
    assert res["verdicts"] == 240
    assert _logged(db) == (480, 480)
    again = validate_path(parts, "default", str(db), concurrency=2, batch_size=50)  # the same batches again
    assert again["verdicts"] == 240 and _logged(db) == (480, 480)  # written once


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing_and_writes_nothing_twice(local_ray, tmp_path):
    db = tmp_path / "log.duckdb"
    owner = Store(db)
    owner.query("SELECT 1")  # the driver owns the log; the actors write through it
    marker = str(tmp_path / "died")

    class DiesOnce(ValidateActor):  # defined here, so Ray ships it by value to its workers
        """Writes its first batch, then the worker process dies before answering (a crash mid-batch)."""

        def write(self, records, verdicts):
            written = super().write(records, verdicts)
            if not os.path.exists(marker):
                Path(marker).write_text(str(os.getpid()))
                os._exit(1)
            return written

    ds = ray.data.from_arrow(pa.Table.from_pylist(RECORDS))
    out = validate_dataset(ds, "default", db=str(db), concurrency=1, batch_size=60, actor=DiesOnce,
                           num_cpus=0.5)
    ids = [i for b in out.iter_batches(batch_format="pyarrow", batch_size=None) for i in b.column("id").to_pylist()]
    assert os.path.exists(marker)  # a worker really died
    assert sorted(ids) == sorted(r["id"] for r in RECORDS)  # Ray retried the batch: every verdict came back
    assert _logged(db) == (240, 240)  # and the retried batch was not logged twice
    assert owner.query("SELECT count(*) AS n, sum(verdicts) AS v FROM log_batches") == [{"n": 4, "v": 240}]
    owner.close()


def test_dask_map_partitions_over_validate_batch():
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    def validate_partition(df: pd.DataFrame) -> pd.DataFrame:
        return validate_batch(pa.Table.from_pandas(df, preserve_index=False), "default").to_pandas()

    records = dd.from_pandas(pd.DataFrame({"id": ["a", "b", "c"], "output": ["Paris.", "  ", "Rome."]}), npartitions=2)
    verdicts = records.map_partitions(validate_partition, meta=VERDICT_SCHEMA.empty_table().to_pandas()).compute()
    assert sorted(zip(verdicts["id"], verdicts["decision"], strict=True)) == [
        ("a", "accept"), ("b", "block"), ("c", "accept")]


@pytest.mark.slow
def test_ray_actors_can_write_segments_for_a_log_they_cannot_reach(local_ray, tmp_path):
    from catalyst.store.segments import ingest

    shared = tmp_path / "segments"
    ds = ray.data.from_arrow(pa.Table.from_pylist(RECORDS[:120]))
    out = validate_dataset(ds, "default", segments=str(shared), concurrency=1, batch_size=40, num_cpus=0.5)
    assert sum(b.num_rows for b in out.iter_batches(batch_format="pyarrow", batch_size=None)) == 120
    with Store(tmp_path / "log.duckdb") as s:
        res = ingest(s, shared)
        assert (res.verdicts, res.bad) == (120, [])
        assert s.query("SELECT count(DISTINCT id) AS ids, count(*) AS n FROM verdicts") == [{"ids": 120, "n": 120}]
