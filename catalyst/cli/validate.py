"""``catalyst validate``: a JSONL file of answers in, verdicts logged to DuckDB (and JSONL) out."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, TaskID

from catalyst.errors import RecordError, UserError
from catalyst.jsonl import ReadStats, Rejected, read_records
from catalyst.records import Interaction

if TYPE_CHECKING:
    from catalyst.policy import CompiledPolicy
    from catalyst.store import Store


#: verdicts written (and reported) together: one commit costs about as much as inserting 2,000 verdicts
WRITE_ROWS = 10_000
#: groups of batches that may wait for the log at once (bounded memory)
IN_FLIGHT = 2


def _done() -> Future[int]:
    f: Future[int] = Future()
    f.set_result(0)
    return f


def run_validate(input: Path, policy: str, db: str | None, out: Path | None, *, skip_bad: bool, resume: bool,
                 batch_size: int, quiet: bool = False, rejects: Path | None = None,
                 workers: int = 1) -> dict[str, object]:
    """Validate a file. A batch counts (progress, ``--out``, summary) only once the log has it, so a run
    killed halfway loses nothing it reported. With ``workers > 1`` worker processes validate and this
    process, the file's one writer, logs."""
    from catalyst.cli._ui import Summary, console, err, progress
    from catalyst.store import Store
    from catalyst.validator import as_policy

    if not input.exists():
        raise RecordError(f"input file `{input}` does not exist")
    if workers > 1:
        from catalyst.parallel import start_workers_early

        start_workers_early()  # its imports overlap with counting lines, loading the policy, opening the log
    total = _count_lines(input)
    if total == 0:
        raise RecordError(f"input file `{input}` is empty; it needs one JSON record per line")
    if resume and not db:
        raise UserError("--resume needs --db (the log is where finished ids are looked up)")
    compiled = as_policy(policy)
    store = Store(db, buffer_rows=2 * WRITE_ROWS + batch_size) if db else None
    if store is not None:
        from catalyst.store.runs import claim_input

        try:
            finish_run = claim_input(store, input)  # a second run over this file would log its verdicts twice
        except BaseException:
            store.close()
            raise
    skip: set[str] = store.seen_ids() if (resume and store is not None) else set()
    summary = Summary()
    counts = {"skipped": 0, "records": 0}
    rejected: list[Rejected] = []
    want_lines = out is not None
    batches = (_parallel(input, compiled, store, workers, batch_size, skip, skip_bad, want_lines) if workers > 1
               else _sequential(input, compiled, store, batch_size, skip, skip_bad, want_lines))
    out_fh = out.open("ab" if resume else "wb") if out else None
    t0 = time.perf_counter()
    pending: deque[_Done] = deque()

    def report(bar: Progress, task: TaskID, *, window: int) -> None:
        """Report batches in order once durable; wait only when more than ``window`` are still being written
        (several in flight let the log group them into one transaction)."""
        while pending and (len(pending) > window or pending[0].written.done()):
            done = pending.popleft()
            done.written.result()  # durable first (raises if the write failed)
            if out_fh is not None and done.lines:
                out_fh.write(done.lines)
                out_fh.flush()
            summary.merge(done.summary)
            counts["skipped"] += done.skipped
            rejected.extend(done.rejected)
            rate = summary.n / max(1e-9, time.perf_counter() - t0)
            bar.update(task, completed=done.last_line, rate=f"{rate:,.0f} rec/s")

    try:
        with progress() as bar:
            task = bar.add_task("validating", total=total, rate="")
            for done in batches:  # the log writes earlier batches on its own thread while the next is validated
                pending.append(done)
                report(bar, task, window=IN_FLIGHT)
            report(bar, task, window=0)
            bar.update(task, completed=total)
    finally:
        if out_fh is not None:
            out_fh.close()
        if store is not None:
            try:
                store.flush()
                finish_run()  # the input is free for the next run once everything is logged
            finally:
                store.close()
    elapsed = time.perf_counter() - t0
    if summary.n == 0 and not rejected and not counts["skipped"]:
        raise RecordError(f"input file `{input}` has no records (only blank lines)")
    if rejects is None:
        rejects = input.with_name(input.name + ".rejects.jsonl")
    if rejected:
        with rejects.open("wb") as fh:
            for r in rejected:
                fh.write(r.raw.rstrip(b"\r\n") + b"\n")
        rejects.with_suffix(".errors.txt").write_text("".join(f"{r.error}\n" for r in rejected))
    if not quiet:
        console.print(f"[bold]{summary.n:,} verdicts[/] in {elapsed:.2f}s ({summary.n / max(elapsed, 1e-9):,.0f}/s)"
                      f" · policy {compiled.version}")
        for t in summary.tables():
            console.print(t)
        if counts["skipped"]:
            console.print(f"[dim]--resume: skipped {counts['skipped']:,} records already in the log[/]")
        if rejected:
            err.print(f"[yellow]{len(rejected)} bad lines skipped[/] → {rejects} (first: {rejected[0].error})")
        if summary.errors:
            err.print(f"[yellow]{summary.errors} check errors[/]: those answers went to review")
    return {"verdicts": summary.n, "skipped": counts["skipped"], "rejected": len(rejected), "summary": summary,
            "policy": compiled.version, "seconds": elapsed}


@dataclass
class _Done:
    """One validated batch, waiting for its write to finish before it is reported."""

    written: Future[int]
    lines: bytes
    summary: Any
    last_line: int
    skipped: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _merge(written: Future[int], parts: list[_Done]) -> _Done:
    """Batches written in one transaction are reported together."""
    from catalyst.summary import Summary

    summary = Summary()
    for p in parts:
        summary.merge(p.summary)
    return _Done(written, b"".join(p.lines for p in parts), summary, parts[-1].last_line,
                 sum(p.skipped for p in parts), [r for p in parts for r in p.rejected])


def _sequential(input: Path, policy: CompiledPolicy, store: Store | None, batch_size: int, skip: set[str],
                skip_bad: bool, want_lines: bool) -> Iterator[_Done]:
    from catalyst.summary import Summary
    from catalyst.validator import Validator

    validator = Validator(policy, store=store, batch_size=batch_size)
    stats = ReadStats()
    skipped = 0
    seen_rejects = 0
    parts: list[_Done] = []

    def fresh() -> Iterator[Interaction]:
        nonlocal skipped
        for r in read_records(input, skip_bad=skip_bad, stats=stats):
            if r.id in skip:
                skipped += 1
                continue
            yield r

    for verdicts in validator.iter_batches(fresh()):
        part = Summary()
        part.add(verdicts)
        new_rejects = stats.rejected[seen_rejects:]
        seen_rejects = len(stats.rejected)
        lines = b"".join(v.to_json().encode() + b"\n" for v in verdicts) if want_lines else b""
        parts.append(_Done(_done(), lines, part, stats.lines, skipped, list(new_rejects)))
        skipped = 0
        if store is None or store.pending >= WRITE_ROWS:
            yield _merge(store.flush_async() if store is not None else _done(), parts)
            parts = []
    if len(stats.rejected) > seen_rejects or skipped:  # a tail of bad or skipped lines after the last batch
        parts.append(_Done(_done(), b"", Summary(), stats.lines, skipped, stats.rejected[seen_rejects:]))
    if parts:
        yield _merge(store.flush_async() if store is not None else _done(), parts)


def _parallel(input: Path, policy: CompiledPolicy, store: Store | None, workers: int, batch_size: int,
              skip: set[str], skip_bad: bool, want_lines: bool) -> Iterator[_Done]:
    from catalyst.parallel import validate_file

    if store is not None:  # the cores belong to the workers; DuckDB's own thread pool would only compete with them
        with store.connect() as con:
            con.execute("SET threads = 1")
    parts: list[_Done] = []
    tables: list[dict[str, Any]] = []
    rows = 0
    for res in validate_file(input, policy, workers=workers, batch_size=batch_size, skip=skip, skip_bad=skip_bad,
                             want_lines=want_lines):
        parts.append(_Done(_done(), res.lines, res.summary, res.last_line, res.skipped, res.rejected))
        if res.tables is not None:
            tables.append(res.tables)
            rows += res.tables["verdicts"].num_rows
        if rows >= WRITE_ROWS:
            yield _merge(store.write_many_async(tables) if store is not None else _done(), parts)
            parts, tables, rows = [], [], 0
    if parts:
        yield _merge(store.write_many_async(tables) if store is not None and tables else _done(), parts)


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    if n == 0 and path.stat().st_size > 0:
        n = 1
    return n


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        input: Path = typer.Argument(..., help="JSONL file, one record per line (see README: record format)"),
        policy: str = typer.Option("default", "--policy", "-p", help="policy file or shipped name"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log to write verdicts to"),
        out: Path | None = typer.Option(None, "--out", "-o", help="also write verdicts as JSONL here"),
        skip_bad: bool = typer.Option(False, "--skip-bad", help="put malformed lines in a rejects file and go on"),
        resume: bool = typer.Option(False, "--resume", help="skip ids already in the log"),
        batch_size: int = typer.Option(2000, "--batch-size", min=1, help="records per flow invocation"),
        workers: int = typer.Option(0, "--workers", min=0,
                                    help="worker processes; 0 = one per core for files over 20,000 lines, else 1"),
        engine: str = typer.Option("local", "--engine", help="local, or ray: a Ray cluster (RAY_ADDRESS, else a "
                                                             "local one) with --workers actors; JSONL or Parquet"),
    ) -> None:
        """Validate answers from a JSONL file; log every verdict to DuckDB."""
        if engine != "local":
            from catalyst.ray import run_cli

            run_cli(input, policy, db, engine=engine, workers=workers, batch_size=batch_size, out=out,
                    skip_bad=skip_bad)
            return
        if workers == 0:
            workers = min(os.cpu_count() or 1, 4) if input.exists() and _count_lines(input) > 20_000 else 1
        try:
            run_validate(input, policy, db, out, skip_bad=skip_bad, resume=resume, batch_size=batch_size,
                         workers=workers)
        except RecordError as e:
            if e.line is not None and not skip_bad:
                raise UserError(f"{input}: {e} (use --skip-bad to set bad lines aside and go on)") from None
            raise
