"""Verdicts as Parquet segments on shared storage, ingested into the log exactly once.

For machines that cannot (or should not) talk to the log's owner while they work — a batch cluster, a
machine without a route to the owner — a writer puts each batch into a **segment**: a directory
``<dir>/<key>/`` with one Parquet file per table (``verdicts``, ``interactions``, ``check_results``, and
``review`` when the batch has review items). It is written under a hidden temporary name and renamed into
place, so a segment either is complete or is not there. The owner (or any process, through it) then runs
:func:`ingest`: each segment is written with ``Store.write_once`` under the key ``segment:<key>`` — the
same transaction records the key, so ingesting twice, or two ingesters at once, logs nothing twice — and
is removed once logged. A segment that cannot be read (cut short by a crash on storage without atomic
rename, or damaged) is moved to ``<dir>/.bad/`` and reported; the rest go on.

    catalyst log ingest /shared/catalyst-segments --db catalyst.duckdb
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from catalyst.errors import ConfigError

TABLES = ("verdicts", "interactions", "check_results", "review")


def write_segment(directory: str | Path, tables: dict[str, pa.Table], key: str | None = None) -> Path:
    """Write one batch's tables (from ``to_arrow``) as a segment; returns its path. ``key`` names it (a
    retried task that passes the same key writes the same segment, logged once); default: a fresh one."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    name = key or uuid.uuid4().hex
    if "/" in name or name.startswith("."):
        raise ConfigError(f"segment key {name!r} must not contain `/` or start with `.`")
    final = root / name
    if final.exists():
        return final
    tmp = root / f".tmp-{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    for t in TABLES:
        if t in tables:
            pq.write_table(tables[t], tmp / f"{t}.parquet")
    try:
        os.rename(tmp, final)  # atomic on one file system: the segment appears whole or not at all
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists():
            raise
    return final


def read_segment(path: Path) -> dict[str, pa.Table]:
    tables = {t: pq.read_table(path / f"{t}.parquet") for t in TABLES if (path / f"{t}.parquet").exists()}
    for need in ("verdicts", "interactions", "check_results"):
        if need not in tables:
            raise ValueError(f"`{need}.parquet` is missing")
    return tables


@dataclass
class Ingested:
    """What one ``ingest`` did: segments logged now, already logged before, set aside as unreadable."""

    logged: int = 0
    verdicts: int = 0
    already: int = 0
    bad: list[str] = field(default_factory=list)


def ingest(store: Any, directory: str | Path, *, keep: bool = False) -> Ingested:
    """Log every complete segment in ``directory`` once (see the module docstring); returns what it did."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"segment directory `{directory}` does not exist")
    out = Ingested()
    for seg in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            tables = read_segment(seg)
        except (OSError, ValueError, pa.ArrowException) as e:
            bad = root / ".bad"
            bad.mkdir(exist_ok=True)
            os.replace(seg, bad / seg.name)
            out.bad.append(f"{seg.name}: {e}")
            continue
        if store.write_once(tables, f"segment:{seg.name}", source="segment"):
            out.logged += 1
            out.verdicts += tables["verdicts"].num_rows
        else:
            out.already += 1
        if not keep:
            shutil.rmtree(seg, ignore_errors=True)
    return out
