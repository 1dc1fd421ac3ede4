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
from catalyst.policy import CompiledPolicy, Policy, compile_policy
from catalyst.summary import Summary

# Start-up time: the CLI imports this module to start the fork server *before* anything heavy, so the flow
# (pipeline, sink, store: LangGraph alone ~1 s) is imported inside the functions that run in the workers,
# where the fork server's PRELOAD has already imported it.

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
    pid: int = field(default_factory=os.getpid)  # the process that validated it


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
    _worker.update(_state(compile_policy(Policy.model_validate(policy_data), source=source), skip, skip_bad,
                          want_lines))


def _state(policy: CompiledPolicy, skip: frozenset[str], skip_bad: bool, want_lines: bool) -> dict[str, Any]:
    from catalyst.pipeline import Pipeline  # see the start-up note at the top
    from catalyst.sink import LogSink

    # the worker's sink keeps what may be written (redacted) for the parent, the log's one writer, and
    # sends the policy's notifications from here
    sink = LogSink.for_policy(policy, None, keep=True)
    return {"pipeline": Pipeline(policy, sink), "sink": sink, "skip": skip, "skip_bad": skip_bad,
            "want_lines": want_lines}


def _ready() -> bool:
    return True


def _work(first_line: int, raw_lines: list[bytes]) -> BatchResult:
    return _validate_chunk(_worker, first_line, raw_lines)


def _validate_chunk(state: dict[str, Any], first_line: int, raw_lines: list[bytes]) -> BatchResult:
    from catalyst.store._store import to_arrow  # see the start-up note at the top

    pipeline = state["pipeline"]
    skip: frozenset[str] = state["skip"]
    stats = ReadStats()
    with gc_paused():
        records = list(read_records(raw_lines, skip_bad=state["skip_bad"], stats=stats, first_line=first_line))
        fresh = [r for r in records if r.id not in skip] if skip else records
        if fresh:
            pipeline.run_batch(fresh)
        pairs = state["sink"].take()
        verdicts = [v for _r, v in pairs]
        tables = to_arrow(pairs) if pairs else None
        lines = b"".join(x.to_json().encode() + b"\n" for x in verdicts) if state["want_lines"] else b""
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


#: what every worker needs, imported once in the fork server instead of once per worker (about 1.5 s each);
#: the CLI too, since a worker re-imports the caller's main script (the ``catalyst`` console script imports it)
PRELOAD = ["catalyst.parallel", "catalyst.validator", "catalyst.store._store", "catalyst.summary",
           "catalyst_agents.nodes", "catalyst.registry", "catalyst.cli"]


#: validate in this process while the workers start (off only to test the workers alone)
LOCAL_FIRST = True


def _context() -> Any:
    """Workers fork from a clean server process that imported the flow once (``forkserver``), never from the
    parent itself, which may hold DuckDB and model threads. Where there is no fork server: ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # takes effect when this process first starts its fork server
    return ctx


def start_workers_early() -> None:
    """Start the fork server now (it imports the flow in the background) so workers are ready sooner."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def validate_file(path: Path, policy: CompiledPolicy, *, workers: int, batch_size: int,
                  skip: set[str] | None = None, skip_bad: bool = False,
                  want_lines: bool = True) -> Iterator[BatchResult]:
    """Yield batch results in file order, with ``workers`` processes validating ahead of the caller.

    A worker takes a second or two to start (imports, policy); until the first one is up, this process
    validates the leading batches itself rather than wait.
    """
    ctx = _context()
    frozen_skip = frozenset(skip or ())
    args = (policy.policy.model_dump(mode="json", by_alias=True), policy.source, frozen_skip, skip_bad, want_lines)
    local: dict[str, Any] | None = None
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=args) as pool:
        # start every worker now, from a thread: starting one waits for the fork server's imports
        ready: list[Future[bool]] = []
        starter = threading.Thread(target=lambda: ready.extend(pool.submit(_ready) for _ in range(workers)),
                                   name="catalyst-start-workers", daemon=True)
        starter.start()
        in_flight: list[Future[BatchResult]] = []
        for first, chunk in _chunks(path, batch_size):
            if LOCAL_FIRST and not in_flight and (starter.is_alive() or not any(f.done() for f in ready)):
                if local is None:
                    local = _state(policy, frozen_skip, skip_bad, want_lines)
                yield _validate_chunk(local, first, chunk)
                continue
            in_flight.append(pool.submit(_work, first, chunk))
            if len(in_flight) > 2 * workers:
                yield in_flight.pop(0).result()
        while in_flight:
            yield in_flight.pop(0).result()
        starter.join()
