"""``catalyst validate``: a JSONL file of answers in, verdicts logged to DuckDB (and JSONL) out."""

from __future__ import annotations

import time
from concurrent.futures import Future
from pathlib import Path

import typer
from rich.progress import Progress, TaskID

from catalyst.errors import RecordError, UserError
from catalyst.jsonl import ReadStats, read_records
from catalyst.records import Verdict


def _done() -> Future[int]:
    f: Future[int] = Future()
    f.set_result(0)
    return f


def run_validate(input: Path, policy: str, db: str | None, out: Path | None, *, skip_bad: bool, resume: bool,
                 batch_size: int, quiet: bool = False, rejects: Path | None = None) -> dict[str, object]:
    """Validate a file; every batch is flushed to the log (and then to ``out``) before it is counted."""
    from catalyst.cli._ui import Summary, console, err, progress
    from catalyst.store import Store
    from catalyst.validator import Validator

    if not input.exists():
        raise RecordError(f"input file `{input}` does not exist")
    total = _count_lines(input)
    if total == 0:
        raise RecordError(f"input file `{input}` is empty; it needs one JSON record per line")
    store = Store(db) if db else None
    skip: set[str] = store.seen_ids() if (resume and store is not None) else set()
    if resume and store is None:
        raise UserError("--resume needs --db (the log is where finished ids are looked up)")
    validator = Validator(policy, store=store, batch_size=batch_size)
    stats = ReadStats()
    summary = Summary()
    skipped = 0
    records = read_records(input, skip_bad=skip_bad, stats=stats)

    def fresh():
        nonlocal skipped
        for r in records:
            if r.id in skip:
                skipped += 1
                continue
            yield r

    out_fh = out.open("ab" if resume else "wb") if out else None
    t0 = time.perf_counter()
    pending: tuple[Future[int], list[Verdict], int] | None = None

    def report(bar: Progress, task: TaskID) -> None:
        """A batch counts (progress, --out, summary) only once the log has it: a crash loses nothing reported."""
        nonlocal pending
        if pending is None:
            return
        fut, verdicts, lines = pending
        pending = None
        fut.result()
        if out_fh is not None:
            out_fh.write(b"".join(v.to_json().encode() + b"\n" for v in verdicts))
            out_fh.flush()
        summary.add(verdicts)
        rate = summary.n / max(1e-9, time.perf_counter() - t0)
        bar.update(task, completed=lines, rate=f"{rate:,.0f} rec/s")

    try:
        with progress() as bar:
            task = bar.add_task("validating", total=total, rate="")
            for verdicts in validator.iter_batches(fresh()):
                # DuckDB writes this batch on its own thread while the next one is validated
                fut = store.flush_async() if store is not None else _done()
                report(bar, task)
                pending = (fut, verdicts, stats.lines)
            report(bar, task)
            bar.update(task, completed=total)
    finally:
        if out_fh is not None:
            out_fh.close()
        validator.close()
    elapsed = time.perf_counter() - t0
    if stats.records == 0 and not stats.rejected:
        raise RecordError(f"input file `{input}` has no records (only blank lines)")
    if rejects is None:
        rejects = input.with_name(input.name + ".rejects.jsonl")
    if stats.rejected:
        with rejects.open("wb") as fh:
            for r in stats.rejected:
                fh.write(r.raw.rstrip(b"\r\n") + b"\n")
        rejects.with_suffix(".errors.txt").write_text("".join(f"{r.error}\n" for r in stats.rejected))
    if not quiet:
        for t in summary.tables(f"{summary.n:,} verdicts in {elapsed:.2f}s ({summary.n / max(elapsed, 1e-9):,.0f}/s)"
                                f" · policy {validator.policy.version}"):
            console.print(t)
        if skipped:
            console.print(f"[dim]--resume: skipped {skipped:,} records already in the log[/]")
        if stats.rejected:
            err.print(f"[yellow]{len(stats.rejected)} bad lines skipped[/] → {rejects} "
                      f"(first: {stats.rejected[0].error})")
        if summary.errors:
            err.print(f"[yellow]{summary.errors} check errors[/]: those answers went to review")
    return {"verdicts": summary.n, "skipped": skipped, "rejected": len(stats.rejected), "summary": summary,
            "policy": validator.policy.version, "seconds": elapsed}


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
    ) -> None:
        """Validate answers from a JSONL file; log every verdict to DuckDB."""
        try:
            run_validate(input, policy, db, out, skip_bad=skip_bad, resume=resume, batch_size=batch_size)
        except RecordError as e:
            if e.line is not None and not skip_bad:
                raise UserError(f"{input}: {e} (use --skip-bad to set bad lines aside and go on)") from None
            raise
