"""``catalyst validate``: a JSONL file of answers in, verdicts logged to DuckDB (and JSONL) out."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from catalyst.errors import RecordError, UserError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from catalyst.flow import Outcome
    from catalyst.jsonl import Rejected
    from catalyst.policy import CompiledPolicy
    from catalyst.records import Interaction, Verdict
    from catalyst.sink import LogSink
    from catalyst.store import Store


#: verdicts written (and reported) together: one commit costs about as much as inserting 2,000 verdicts
WRITE_ROWS = 10_000
#: groups of batches that may wait for the log at once (bounded memory)
IN_FLIGHT = 2


def _done() -> Future[int]:
    f: Future[int] = Future()
    f.set_result(0)
    return f


def _ids_in(input: Path) -> tuple[list[str], dict[str, int]]:
    """Ids written in the file (records without one get a content id later) and those that repeat."""
    import orjson

    ids: list[str] = []
    with input.open("rb") as fh:
        for raw in fh:
            if b'"id"' not in raw:
                continue
            try:
                rid = orjson.loads(raw).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                continue  # a bad line is reported, with its line number, by the validation itself
            if isinstance(rid, str) and rid:
                ids.append(rid)
    seen: set[str] = set()
    dup: dict[str, int] = {}
    for rid in ids:
        if rid in seen:
            dup[rid] = dup.get(rid, 1) + 1
        seen.add(rid)
    return ids, dup


def _already_logged(store: Store, ids: list[str], version: str) -> list[str]:
    """Ids of this file the log already has a verdict for, under this very policy version."""
    if not ids or not Path(store.path).exists():
        return []
    import pyarrow as pa

    with store.connect() as con:
        con.register("_catalyst_ids", pa.table({"id": list(dict.fromkeys(ids))}))
        try:
            rows = con.execute("SELECT DISTINCT v.id FROM verdicts v JOIN _catalyst_ids USING (id) WHERE v.policy = ?"
                               " LIMIT 1000000", [version]).fetchall()
        finally:
            con.unregister("_catalyst_ids")
    return [r[0] for r in rows]


def _ahead_of(out: Path) -> Path:
    """Where ``--out`` lines wait while their batch is being committed (the ``--out`` write-ahead file)."""
    return out.with_name(out.name + ".ahead")


def _recover_out(out: Path, committed: set[str]) -> int:
    """After a killed or stopped run: move to ``--out`` the lines whose batch reached the log but which the run
    could not append any more. ``--out`` then holds exactly what the log holds. Returns lines recovered."""
    import orjson

    ahead = _ahead_of(out)
    if not ahead.exists():
        return 0
    with ahead.open("rb") as fh:
        head = fh.readline()
        try:
            offset = int(orjson.loads(head)["catalyst_out_offset"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            offset = None
        lines = fh.readlines()
    moved = 0
    if offset is not None and out.exists():
        with out.open("rb") as fh:
            fh.seek(offset)
            tail = fh.read()  # this run's lines already in --out: a prefix of the ahead file's lines
        if tail and not tail.endswith(b"\n"):  # a line cut by the kill
            tail = tail[:tail.rfind(b"\n") + 1]
            os.truncate(out, offset + len(tail))
        done = tail.count(b"\n")
        with out.open("ab") as fh:
            for raw in lines[done:]:
                try:
                    rid = orjson.loads(raw).get("id")
                except orjson.JSONDecodeError:  # the last line, cut by the kill: its batch never committed
                    continue
                if rid in committed and raw.endswith(b"\n"):
                    fh.write(raw)
                    moved += 1
            fh.flush()
            os.fsync(fh.fileno())
    ahead.unlink()
    return moved


def run_validate(input: Path, policy: str, db: str | None, out: Path | None, *, skip_bad: bool, resume: bool,
                 batch_size: int, quiet: bool = False, rejects: Path | None = None,
                 workers: int = 1, rerun: bool = False, lock_timeout: float = 10.0,
                 json_out: bool = False) -> dict[str, object]:
    """Validate a file. ``--out`` lines are written before their batch is committed to the log, so after a
    kill the log never has a verdict ``--out`` lacks (``--resume`` drops the extra lines and redoes them).
    Everything that can be checked (paths, the log's lock, the policy, ids already logged) is checked before
    the work starts. With ``workers > 1`` worker processes validate and this process, the file's one
    writer, logs."""
    from catalyst.cli._paths import db_for_write, input_file, locked, writable_file
    from catalyst.cli._ui import console, err, progress
    from catalyst.errors import StoreLockedError
    from catalyst.store import Store
    from catalyst.summary import Summary
    from catalyst.validator import as_policy

    input_file(input)
    if resume and not db:
        raise UserError("--resume needs --db (the log is where finished ids are looked up)")
    if db:
        db_for_write(db)
    if out is not None:
        writable_file(out, "--out")
    if workers > 1:
        from catalyst.parallel import start_workers_early

        start_workers_early()  # its imports overlap with counting lines, loading the policy, opening the log
    total = _count_lines(input)
    if total == 0:
        raise RecordError(f"input file `{input}` is empty; it needs one JSON record per line")
    compiled = as_policy(policy)
    if workers > 1:
        compiled, workers = _for_workers(compiled, workers, quiet)
    store = Store(db, buffer_rows=2 * WRITE_ROWS + batch_size, lock_timeout=lock_timeout) if db else None
    ids, dups = _ids_in(input)
    try:
        if store is not None:
            with store.connect():  # opens (and holds) the log now: a lock or a bad file fails before the work
                pass
            from catalyst.store.runs import claim_input

            finish_run = claim_input(store, input)  # a second run over this file would log its verdicts twice
        skip: set[str] = store.seen_ids() if (resume and store is not None) else set()
        if store is not None and not resume and not rerun:
            again = _already_logged(store, ids, compiled.version)
            if again:
                raise UserError(
                    f"{len(again):,} id(s) of `{input}` already have a verdict from policy {compiled.version} in "
                    f"`{db}` (e.g. `{again[0]}`); running again would log them twice. Use --resume to skip them "
                    "(after a stopped run), --rerun to log new verdicts anyway, or another --db")
    except StoreLockedError:
        if store is not None:
            store.close()
        raise locked(str(db), reading=False) from None
    except BaseException:
        if store is not None:
            store.close()
        raise
    recovered = _recover_out(out, skip) if (resume and out is not None) else 0
    summary = Summary()
    counts = {"skipped": 0, "records": 0, "validated": 0, "line": 0}
    rejected: list[Rejected] = []
    out_fh = out.open("ab" if resume else "wb") if out else None
    ahead_fh = None
    if out is not None and out_fh is not None:
        import orjson

        ahead_fh = _ahead_of(out).open("wb")
        ahead_fh.write(orjson.dumps({"catalyst_out_offset": out_fh.tell()}) + b"\n")

    bar_state: dict[str, Any] = {}

    def emit(lines: bytes, last_line: int | None, n: int) -> None:
        """A batch was validated: its ``--out`` lines go to the write-ahead file (durable) before the batch can
        reach the log; ``--out`` itself gets them once the log has them. Progress moves."""
        if ahead_fh is not None and lines:
            ahead_fh.write(lines)
            ahead_fh.flush()
            os.fsync(ahead_fh.fileno())
        if last_line is None:
            return
        counts["validated"] += n
        counts["line"] = last_line
        if bar_state:
            rate = counts["validated"] / max(1e-9, time.perf_counter() - t0)
            bar_state["bar"].update(bar_state["task"], completed=last_line, rate=f"{rate:,.0f} rec/s")

    sink = _out_first_sink(compiled, store, emit) if workers <= 1 else None
    batches = (_parallel(input, compiled, store, workers, batch_size, skip, skip_bad, emit) if sink is None
               else _sequential(input, compiled, sink, batch_size, skip, skip_bad, emit))
    t0 = time.perf_counter()
    pending: deque[_Done] = deque()

    def report(window: int) -> None:
        """Count batches in order once durable; wait only when more than ``window`` are still being written
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

    stopped: BaseException | None = None
    try:
        with progress() as bar:
            bar_state.update(bar=bar, task=bar.add_task("validating", total=total, rate=""))
            try:
                for done in batches:  # the log writes earlier batches on its own thread while the next is validated
                    pending.append(done)
                    report(IN_FLIGHT)
                report(0)
                bar.update(bar_state["task"], completed=total)
            except BaseException as e:
                stopped = e
    finally:
        if out_fh is not None:
            out_fh.close()
        if ahead_fh is not None:
            ahead_fh.close()
        closed = False
        try:  # commits what was validated before the stop
            if stopped is None and store is not None:
                (sink if sink is not None else store).flush()
                finish_run()  # the input is free for the next run once everything is logged
            if sink is not None:
                sink.close()  # flushes, releases the log, delivers the policy's notifications
            elif store is not None:
                store.close()
            closed = True
        except BaseException as e:
            stopped = stopped or e
        if out is not None and stopped is None:
            _ahead_of(out).unlink(missing_ok=True)  # every line is in --out
        elif out is not None and closed and db:  # stopped: lines of batches committed since still belong in --out
            from catalyst.store import Store as _Store

            _recover_out(out, _Store(db, keep_open=False).seen_ids())
    if stopped is not None:
        raise _stopped(stopped, input, db, store.written if store is not None else summary.n, counts["line"])
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
    if json_out:
        import orjson

        typer.echo(orjson.dumps({**summary.to_dict(), "policy": compiled.version, "seconds": round(elapsed, 3),
                                 "skipped": counts["skipped"], "rejected": len(rejected), "duplicate_ids": len(dups),
                                 "out_recovered": recovered, "rejects": str(rejects) if rejected else None}).decode())
    if not quiet:
        if json_out:
            console = err  # the summary tables go to stderr; stdout holds only the JSON
        console.print(f"[bold]{summary.n:,} verdicts[/] in {elapsed:.2f}s ({summary.n / max(elapsed, 1e-9):,.0f}/s)"
                      f" · policy {compiled.version}")
        for t in summary.tables():
            console.print(t)
        if counts["skipped"]:
            console.print(f"[dim]--resume: skipped {counts['skipped']:,} records already in the log[/]")
        if recovered:
            err.print(f"--resume: {recovered:,} --out line(s) of batches the log had committed were recovered")
        if dups:
            first = next(iter(dups))
            err.print(f"[yellow]warning:[/] {len(dups):,} id(s) appear more than once in {input} (e.g. `{first}` "
                      f"{dups[first]} times); each occurrence was validated and logged. Give each record its own id")
        if rejected:
            err.print(f"[yellow]{len(rejected)} bad lines skipped[/] → {rejects} (first: {rejected[0].error})")
        if summary.errors:
            err.print(f"[yellow]{summary.errors} check errors[/]: those answers went to review")
    return {"verdicts": summary.n, "skipped": counts["skipped"], "rejected": len(rejected), "summary": summary,
            "policy": compiled.version, "seconds": elapsed, "duplicate_ids": len(dups), "out_recovered": recovered}


def _stopped(e: BaseException, input: Path, db: str | None, committed: int, line: int) -> BaseException:
    """The error that stopped a run, with what is committed and how to go on."""
    from catalyst.errors import CatalystError

    if isinstance(e, KeyboardInterrupt | SystemExit) or not isinstance(e, Exception):
        return e
    where = f"{committed:,} verdict(s) from this run are committed to `{db}`" if db else "nothing was logged (no --db)"
    resume = "; fix the cause and rerun with --resume to continue without duplicates" if db and committed else ""
    if isinstance(e, RecordError) and e.line is not None:
        text = f"{input}: {e} (use --skip-bad to set bad lines aside and go on); {where}{resume}"
        return UserError(text)
    if isinstance(e, CatalystError):
        new = type(e).__new__(type(e))
        Exception.__init__(new, f"{e}; {where}{resume}")
        return new
    return RuntimeError(f"{type(e).__name__}: {e}; {where}{resume}")


def _for_workers(compiled: CompiledPolicy, workers: int, quiet: bool) -> tuple[CompiledPolicy, int]:
    """Workers rebuild the policy from data: they import the same plugins (the policy's and ``--import``'s).
    A check defined in a script (``__main__``) cannot be rebuilt there: validate in this process."""
    import dataclasses

    from catalyst import registry

    steps = [*compiled.default.steps, *(s for _, plan in compiled.overrides for s in plan.steps)]
    if any(type(s.check).__module__ == "__main__" for s in steps):
        if not quiet:
            from catalyst.cli._ui import err

            err.print("a check defined in the running script cannot run in worker processes: validating in one")
        return compiled, 1
    extra = [p for p in registry.imported_plugins() if p not in compiled.policy.plugins]
    if extra:
        policy = compiled.policy.model_copy(update={"plugins": [*compiled.policy.plugins, *extra]})
        compiled = dataclasses.replace(compiled, policy=policy)
    return compiled, workers


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


def _out_first_sink(policy: CompiledPolicy, store: Store | None, emit: Callable[[bytes, int | None, int], None]
                    ) -> LogSink:
    """The policy's log sink (redaction, journal, notifications), writing each batch's ``--out`` lines — the
    verdicts as the log will keep them, redacted — before the batch reaches the journal. Flushes are the
    caller's (group commits of ``WRITE_ROWS``), not a timer's."""
    from catalyst.sink import LogSink

    class OutFirst(LogSink):
        collected: list[bytes] = []  # noqa: RUF012 - replaced per instance below

        def prepare(self, outcomes: Sequence[Outcome]) -> list[tuple[Interaction, Verdict]]:
            pairs = super().prepare(outcomes)
            lines = b"".join(v.to_json().encode() + b"\n" for _r, v in pairs)
            emit(lines, None, 0)
            self.collected.append(lines)
            return pairs

    sink = OutFirst.for_policy(policy, store, flush_interval=24 * 3600.0)
    assert isinstance(sink, OutFirst)
    sink.collected = []
    return sink


def _sequential(input: Path, policy: CompiledPolicy, sink: LogSink, batch_size: int, skip: set[str],
                skip_bad: bool, emit: Callable[[bytes, int | None, int], None]) -> Iterator[_Done]:
    from catalyst.jsonl import ReadStats, read_records
    from catalyst.summary import Summary
    from catalyst.validator import Validator

    store = sink.store
    collected: list[bytes] = sink.collected  # type: ignore[attr-defined]  # the batch's --out lines (OutFirst)
    validator = Validator(policy, sink=sink, batch_size=batch_size)
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
        emit(b"", stats.lines, len(verdicts))  # its --out lines went ahead in the sink, before the journal
        lines = b"".join(collected)
        collected.clear()
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
              skip: set[str], skip_bad: bool, emit: Callable[[bytes, int | None, int], None]) -> Iterator[_Done]:
    from catalyst.parallel import validate_file

    if store is not None:  # the cores belong to the workers; DuckDB's own thread pool would only compete with them
        with store.connect() as con:
            con.execute("SET threads = 1")
    parts: list[_Done] = []
    tables: list[dict[str, Any]] = []
    rows = 0
    for res in validate_file(input, policy, workers=workers, batch_size=batch_size, skip=skip, skip_bad=skip_bad,
                             want_lines=True):
        emit(res.lines, res.last_line, res.summary.n)  # before the batch can reach the log
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
        resume: bool = typer.Option(False, "--resume", help="skip ids already in the log (after a stopped run)"),
        rerun: bool = typer.Option(False, "--rerun", help="log new verdicts even for ids this policy version "
                                                          "already judged in the log (refused otherwise)"),
        batch_size: int = typer.Option(2000, "--batch-size", min=1, help="records per flow invocation"),
        workers: int = typer.Option(0, "--workers", min=0,
                                    help="worker processes; 0 = one per core for files over 20,000 lines, else 1"),
        wait: float = typer.Option(10.0, "--wait", min=0.0,
                                   help="seconds to wait while another process holds the log"),
        json_out: bool = typer.Option(False, "--json", help="print the summary as one JSON object on stdout"),
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
            workers = min(os.cpu_count() or 1, 4) if input.is_file() and _count_lines(input) > 20_000 else 1
        if resume and rerun:
            raise UserError("--resume and --rerun contradict each other: --resume skips logged ids, --rerun logs "
                            "them again; pick one")
        run_validate(input, policy, db, out, skip_bad=skip_bad, resume=resume, batch_size=batch_size,
                     workers=workers, rerun=rerun, lock_timeout=wait, json_out=json_out)
