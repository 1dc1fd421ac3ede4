"""Validating a large file on every core: worker processes parse, validate and build Arrow tables; the
parent process owns the DuckDB file (one writer) and writes the tables in order.

Only what a worker can rebuild crosses the process boundary: the policy as data in, Arrow tables, verdict
JSON lines and totals out. Checks therefore come from installed packages (entry points), as in any CLI run;
checks registered in-process with ``@catalyst.check`` need ``workers=1``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from catalyst._gc import gc_paused
from catalyst.jsonl import ReadStats, Rejected, read_records
from catalyst.policy import CompiledPolicy

_worker: dict[str, Any] = {}


@dataclass
class BatchResult:
    """What one batch produced: rows for the log, JSON lines for ``--out``, and totals for the summary."""

    tables: dict[str, pa.Table] | None
    lines: bytes
    summary: Any
    last_line: int
    rejected: list[Rejected] = field(default_factory=list)
    skipped: int = 0


def _die_with_parent() -> None:
    """End this worker when the process that asked for it dies (killed, OOM): no orphans left behind.

    The pool's task pipe never closes for a worker (it holds both ends), and a forked worker's parent is the
    fork server, not the caller; so a daemon thread waits on multiprocessing's sentinel of the *calling*
    process, which becomes readable when that process is gone. On Linux the kernel also ends the worker
    when its own parent dies (PR_SET_PDEATHSIG).
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            os._exit(70)

        threading.Thread(target=watch, name="catalyst-parent-watch", daemon=True).start()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError):  # not glibc: the watch thread above still ends the worker
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _init(policy_data: dict[str, Any], source: str | None, skip: frozenset[str], skip_bad: bool,
          want_lines: bool) -> None:
    _die_with_parent()
    from catalyst.policy import Policy, compile_policy
    from catalyst.validator import Validator

    _worker["validator"] = Validator(compile_policy(Policy.model_validate(policy_data), source=source))
    _worker["skip"] = skip
    _worker["skip_bad"] = skip_bad
    _worker["want_lines"] = want_lines


def _work(first_line: int, raw_lines: list[bytes]) -> BatchResult:
    from catalyst.store._store import to_arrow
    from catalyst.summary import Summary
    v = _worker["validator"]
    skip: frozenset[str] = _worker["skip"]
    stats = ReadStats()
    with gc_paused():
        records = list(read_records(raw_lines, skip_bad=_worker["skip_bad"], stats=stats, first_line=first_line))
        fresh = [r for r in records if r.id not in skip] if skip else records
        verdicts = v._run_batch(fresh) if fresh else []
        tables = to_arrow(list(zip(fresh, verdicts, strict=True))) if verdicts else None
        lines = b"".join(x.to_json().encode() + b"\n" for x in verdicts) if _worker["want_lines"] else b""
        summary = Summary()
        summary.add(verdicts)
    return BatchResult(tables=tables, lines=lines, summary=summary, last_line=first_line + len(raw_lines) - 1,
                       rejected=stats.rejected, skipped=len(records) - len(fresh))


def _chunks(path: Path, size: int) -> Iterator[tuple[int, list[bytes]]]:
    with path.open("rb") as fh:
        first = 1
        chunk: list[bytes] = []
        for raw in fh:
            chunk.append(raw)
            if len(chunk) >= size:
                yield first, chunk
                first += len(chunk)
                chunk = []
        if chunk:
            yield first, chunk


#: what every worker needs, imported once in the fork server instead of once per worker (about 1.5 s each)
PRELOAD = ["catalyst.parallel", "catalyst.validator", "catalyst.store._store", "catalyst.summary",
           "catalyst_agents.nodes", "catalyst.registry"]


def _context() -> Any:
    """Workers fork from a clean server process that imported the flow once (``forkserver``), never from the
    parent itself, which may hold DuckDB and model threads. Where there is no fork server: ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods() or os.environ.get("CATALYST_SPAWN"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # takes effect when this process first starts its fork server
    return ctx


def validate_file(path: Path, policy: CompiledPolicy, *, workers: int, batch_size: int,
                  skip: set[str] | None = None, skip_bad: bool = False,
                  want_lines: bool = True) -> Iterator[BatchResult]:
    """Yield batch results in file order, with ``workers`` processes validating ahead of the caller."""
    ctx = _context()
    args = (policy.policy.model_dump(mode="json", by_alias=True), policy.source, frozenset(skip or ()), skip_bad,
            want_lines)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=args) as pool:
        in_flight: list[Future[BatchResult]] = []
        for first, chunk in _chunks(path, batch_size):
            in_flight.append(pool.submit(_work, first, chunk))
            if len(in_flight) > 2 * workers:
                yield in_flight.pop(0).result()
        while in_flight:
            yield in_flight.pop(0).result()
