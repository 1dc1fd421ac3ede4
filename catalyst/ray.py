"""Batch validation on Ray (extra ``ray``), over one engine-neutral function any engine can wrap.

* :func:`validate_batch` — ``pa.RecordBatch`` of records in, ``pa.RecordBatch`` of verdicts out
  (:data:`VERDICT_SCHEMA`). Pure: no log, no I/O; the policy and its models load once per process.
  Spark (``mapInArrow``) and Dask (``map_partitions``) adapters are a few lines around it (README).
* :func:`validate_dataset` — a Ray Dataset of records → a Ray Dataset of verdicts, by ``map_batches``
  over Arrow batches with a pool of actors (:class:`ValidateActor`), each loading the policy once and
  writing its verdicts into the shared log (through the log's owner: ``catalyst.store._server``).
* :func:`validate_path` — what ``catalyst validate --engine ray`` runs: a JSONL file or a Parquet file or
  directory, on the Ray cluster at ``address`` (or a local one).

Exactly once: each batch is written with ``Store.write_once`` under a key made of the policy version and
the batch's record ids, so a batch Ray retries after a worker died mid-batch, or a second run over the
same input, writes nothing twice.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from catalyst.errors import ConfigError
from catalyst.jsonl import parse_record, read_records
from catalyst.records import Interaction, Verdict

__all__ = ["VERDICT_SCHEMA", "ValidateActor", "validate_batch", "validate_dataset", "validate_path"]

#: the columns :func:`validate_batch` returns (JSON text for the nested parts)
VERDICT_SCHEMA = pa.schema([("id", pa.string()), ("decision", pa.string()), ("confidence", pa.float64()),
                            ("policy", pa.string()), ("attempts", pa.int32()), ("output", pa.string()),
                            ("reasons", pa.string()), ("checks", pa.string())])
#: the same, as Spark DDL for ``mapInArrow(fn, schema)``
SPARK_SCHEMA = ("id string, decision string, confidence double, policy string, attempts int, output string, "
                "reasons string, checks string")

_validators: dict[str, Any] = {}


def _validator(policy: Any) -> Any:
    """One Validator per policy per process (models load once, lazily). ``policy``: a shipped name or a
    path, a policy as data (``Policy.model_dump``), or a compiled policy (in this process only)."""
    from catalyst.policy import Policy, compile_policy
    from catalyst.validator import Validator, as_policy

    key = policy if isinstance(policy, str) else orjson.dumps(policy, option=orjson.OPT_SORT_KEYS).decode() \
        if isinstance(policy, dict) else str(id(policy))
    if key not in _validators:
        compiled = compile_policy(Policy.model_validate(policy)) if isinstance(policy, dict) else as_policy(policy)
        _validators[key] = Validator(compiled)
    return _validators[key]


def records_from_arrow(batch: pa.RecordBatch | pa.Table) -> list[Interaction]:
    """Records from Arrow: a single ``text`` column of JSONL lines (``read_text``), or one column per field."""
    if batch.num_columns == 1 and batch.schema.names == ["text"]:
        lines = [(x or "").encode() for x in batch.column(0).to_pylist()]
        return list(read_records(lines))
    return [parse_record({k: v for k, v in row.items() if v is not None}) for row in batch.to_pylist()]


def verdicts_to_arrow(verdicts: Iterable[Verdict]) -> pa.RecordBatch:
    vs = list(verdicts)
    cols = [[v.id for v in vs], [v.decision.value for v in vs], [v.confidence for v in vs], [v.policy for v in vs],
            [v.attempts for v in vs], [v.output for v in vs], [orjson.dumps(v.reasons).decode() for v in vs],
            [orjson.dumps([c.model_dump(mode="json", exclude_none=True) for c in v.checks]).decode() for v in vs]]
    return pa.RecordBatch.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, VERDICT_SCHEMA, strict=True)],
                                      schema=VERDICT_SCHEMA)


def _validate(policy: Any, records: list[Interaction]) -> list[Verdict]:
    if not records:
        return []
    return [v for batch in _validator(policy).iter_batches(records, batch_size=len(records)) for v in batch]


def validate_batch(batch: pa.RecordBatch | pa.Table, policy: Any = "default") -> pa.RecordBatch:
    """Validate one Arrow batch of records; returns one verdict row per record, in order (no log write)."""
    return verdicts_to_arrow(_validate(policy, records_from_arrow(batch)))


def batch_key(policy_version: str, records: list[Interaction]) -> str:
    """The name under which a batch is written once: the policy version and the batch's record ids."""
    h = hashlib.sha256(policy_version.encode())
    for r in records:
        h.update(b"\0" + r.id.encode())
    return f"{policy_version}:{h.hexdigest()[:32]}"


class ValidateActor:
    """``map_batches`` callable: loads the policy once per actor, validates, writes the batch to the log once."""

    def __init__(self, policy: Any = "default", db: str | None = None, segments: str | None = None) -> None:
        self.validator = _validator(policy)
        self.policy = policy
        self.db = db
        self.segments = segments  # a shared directory instead of the log's owner (catalyst.store.segments)
        self.store: Any = None

    def _store(self) -> Any:
        if self.store is None and self.db is not None:
            from catalyst.store import Store

            self.store = Store(self.db, keep_open=False)  # through the log's owner (the driver)
        return self.store

    def write(self, records: list[Interaction], verdicts: list[Verdict]) -> bool:
        """Log one batch (at most once, see the module docstring); True when it was written now."""
        from catalyst.store._store import to_arrow

        if not verdicts or (self.db is None and self.segments is None):
            return False
        tables = to_arrow(list(zip(records, verdicts, strict=True)))
        key = batch_key(self.validator.policy.version, records)
        if self.segments is not None:  # the same key for a retried batch: one segment, logged once on ingest
            from catalyst.store.segments import write_segment

            write_segment(self.segments, tables, key=key.replace(":", "-"))
            return True
        return bool(self._store().write_once(tables, key, source="ray"))

    def __call__(self, batch: pa.Table) -> pa.Table:
        records = records_from_arrow(batch)
        verdicts = _validate(self.policy, records)
        self.write(records, verdicts)
        return pa.Table.from_batches([verdicts_to_arrow(verdicts)])


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray engine needs the ray extra: pip install 'catalyst-guard[ray]'") from None
    return ray


def validate_dataset(ds: Any, policy: Any = "default", *, db: str | None = None, segments: str | None = None,
                     concurrency: int = 2, batch_size: int = 1000, actor: type[ValidateActor] = ValidateActor,
                     num_cpus: float = 1.0) -> Any:
    """A Ray Dataset of records → a Ray Dataset of verdicts (lazy: consume it to run), logged to ``db``
    through its owner, or written as Parquet segments to the shared directory ``segments`` (for
    ``catalyst log ingest``) when the cluster's nodes cannot reach the owner."""
    return ds.map_batches(actor, fn_constructor_kwargs={"policy": policy, "db": db, "segments": segments},
                          batch_format="pyarrow",
                          batch_size=batch_size, concurrency=concurrency, num_cpus=num_cpus)


def read(path: str | Path, *, blocks: int = 8) -> Any:
    """A Ray Dataset of records from a JSONL file (one ``text`` row per line) or Parquet file/directory, in
    ``blocks`` blocks at least (one file is one block otherwise, and one block feeds one actor)."""
    ray = _ray()
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"input `{path}` does not exist")
    parquet = p.is_dir() or p.suffix == ".parquet"
    reader = ray.data.read_parquet if parquet else ray.data.read_text
    return reader(str(p)).repartition(blocks)


def validate_path(path: str | Path, policy: Any = "default", db: str | None = None, *, concurrency: int = 2,
                  batch_size: int = 1000, address: str | None = None, num_cpus: int | None = None) -> dict[str, Any]:
    """Validate a file or Parquet dataset on Ray; returns decision counts. The log's owner is this process."""
    from catalyst.store import Store
    from catalyst.validator import as_policy

    ray = _ray()
    compiled = as_policy(policy)
    store = Store(db) if db else None
    if store is not None:
        store.query("SELECT 1")  # hold the file and serve it: the actors write through this process
    started = False
    try:
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        t0 = time.perf_counter()
        counts: dict[str, int] = {}
        # the actors leave one CPU free, or reading the input (a 1-CPU task) would wait for them forever
        per_actor = min(1.0, max(0.1, (float(ray.cluster_resources().get("CPU", 2)) - 1) / concurrency))
        out = validate_dataset(read(path, blocks=4 * concurrency), policy if isinstance(policy, str) else
                               compiled.policy.model_dump(mode="json", by_alias=True), db=db,
                               concurrency=concurrency, batch_size=batch_size, num_cpus=per_actor)
        for b in out.iter_batches(batch_format="pyarrow", batch_size=None):
            for d in b.column("decision").to_pylist():
                counts[d] = counts.get(d, 0) + 1
        return {"verdicts": sum(counts.values()), "decisions": counts, "policy": compiled.version,
                "seconds": time.perf_counter() - t0}
    finally:
        if started:
            ray.shutdown()
        if store is not None:
            store.close()


def run_cli(input: Path, policy: str, db: str | None, *, engine: str, workers: int, batch_size: int,
            out: Path | None, skip_bad: bool) -> None:
    """``catalyst validate --engine ray``: the summary line, like the local engine's."""
    from catalyst.cli._ui import console

    if engine != "ray":
        raise ConfigError(f"unknown --engine `{engine}`; use local or ray")
    if out is not None or skip_bad:
        raise ConfigError("--out and --skip-bad work with --engine local only; with ray, query the log "
                          "(`catalyst sql`) for the verdicts")
    t0 = time.perf_counter()
    res = validate_path(input, policy, db, concurrency=workers or 2, batch_size=min(batch_size, 1000),
                        address=os.environ.get("RAY_ADDRESS"))
    el = time.perf_counter() - t0
    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(res["decisions"].items()))
    console.print(f"[bold]{res['verdicts']:,} verdicts[/] in {el:.2f}s ({res['verdicts'] / max(el, 1e-9):,.0f}/s) "
                  f"on ray (pipeline {res['seconds']:.2f}s after start-up) · policy {res['policy']} · {shown}")
