"""The default sink: every outcome of every entry point goes through :class:`LogSink`.

It owns, in one place:

- **what is written**: before anything leaves the process (the DuckDB log and its journal, notifications),
  the policy's log redactor rewrites the record and verdict (``redact=``; see :func:`log_redactor_for`);
- **durability**: ``put`` appends to the store's write-ahead journal before it returns, and a timer flushes
  to DuckDB every ``flush_interval`` seconds. The promise, tested once for every entry point in
  ``tests/test_sink_guarantee.py``: *a verdict returned to the caller is in the DuckDB log within
  ``flush_interval`` seconds; an orderly exit (``close()``, a ``with`` block, or the script simply ending)
  loses nothing; a killed process loses nothing it returned* (the next process that opens the log replays
  the journal; only a machine crash can lose the OS's unwritten pages). ``flush_interval=0`` writes to
  DuckDB before ``put`` returns;
- **review items with their thread**: an outcome that waits for a reviewer is written with its LangGraph
  thread id in the same transaction as its review item;
- **notifications**: the policy's ``review.notify`` section (``enqueue`` for reviews, ``block`` for
  blocks), whatever the entry point — ``catalyst validate`` included;
- **the caller's callback**: ``on_verdict(record, verdict)`` for every final verdict.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from catalyst.flow import Outcome
from catalyst.policy import CompiledPolicy
from catalyst.records import Interaction, Verdict
from catalyst.redaction import log_redactor
from catalyst.review.notify import Notifier
from catalyst.store import Store

__all__ = ["LogSink", "Redactor", "log_redactor_for"]

_log = logging.getLogger("catalyst.log")

#: rewrites what is about to be written (pure, no I/O): ``(record, verdict) -> (record, verdict)``
Redactor = Callable[[Interaction, Verdict], tuple[Interaction, Verdict]]


def log_redactor_for(policy: CompiledPolicy) -> Redactor:
    """The policy's log redactor (:func:`catalyst.redaction.log_redactor`: masks what its pii/secrets checks
    look for, per the policy's ``log:`` section). The only place a sink gets its redactor from."""
    return log_redactor(policy)


def _at_exit(fn: Callable[[], None]) -> None:
    """Run ``fn`` at interpreter exit *before* threads are joined and executors refuse work (threading's
    own hook, which ``concurrent.futures`` uses too; later registrations run first)."""
    try:
        threading._register_atexit(fn)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # already shutting down (or another Python): plain atexit
        atexit.register(fn)


class LogSink:
    """Takes every outcome: redaction, journal + DuckDB on a schedule, review items, notifications, callback.

    ``store`` may be None (notifications and the callback only). ``keep=True`` also keeps the written
    (redacted) pairs in ``kept`` for a caller that ships them elsewhere (the batch workers).
    """

    def __init__(self, store: Store | None = None, *, flush_interval: float = 1.0, notifier: Notifier | None = None,
                 redact: Redactor | None = None, on_verdict: Callable[[Interaction, Verdict], None] | None = None,
                 keep: bool = False) -> None:
        if flush_interval < 0:
            raise ValueError(f"flush interval must be >= 0 seconds, got {flush_interval}")
        self.store = store
        self.interval = flush_interval
        self.notifier = notifier
        self.redact = redact
        self.on_verdict = on_verdict
        self.kept: list[tuple[Interaction, Verdict]] | None = [] if keep else None
        self.errors = 0
        self.last_error: str | None = None
        self.taken = 0  # verdicts put (with a store)
        self.durable = 0  # of those, how many this sink's flushes have written to DuckDB
        self._written = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        ref = weakref.ref(self)

        def at_exit() -> None:  # a weak reference: an unused sink can still be garbage-collected
            sink = ref()
            if sink is not None:
                sink.close()

        _at_exit(at_exit)

    @classmethod
    def for_policy(cls, policy: CompiledPolicy, store: Store | None = None, **options: Any) -> LogSink:
        """A sink with the policy's notifier (``review.notify``) and log redactor."""
        options.setdefault("notifier", Notifier.from_policy(policy))
        options.setdefault("redact", log_redactor_for(policy))
        return cls(store, **options)

    # -- taking outcomes ---------------------------------------------------------------------------
    def prepare(self, outcomes: Sequence[Outcome]) -> list[tuple[Interaction, Verdict]]:
        """What may be written: each outcome's (record, verdict) after the redactor. The one call site."""
        redact = self.redact
        if redact is None:
            return [(o.record, o.verdict) for o in outcomes]
        return [redact(o.record, o.verdict) for o in outcomes]

    def put(self, outcomes: Sequence[Outcome]) -> None:
        """Take outcomes: journaled before this returns (written to DuckDB on the schedule), notified, and
        passed to ``on_verdict`` when final."""
        if not outcomes:
            return
        pairs = self.prepare(outcomes)
        if self.store is not None:
            threads = {o.verdict.id: o.thread_id for o in outcomes if o.thread_id is not None}
            self.store.add(pairs, threads=threads or None)
            self.taken += len(pairs)
        if self.kept is not None:
            self.kept.extend(pairs)
        if self.notifier is not None:
            for rec, v in pairs:
                self.notifier.on_verdict(rec, v)
        if self.on_verdict is not None:
            for o in outcomes:
                if o.final:
                    self.on_verdict(o.record, o.verdict)
        if self.store is not None:
            if self.interval == 0:
                self.flush(quiet=True)
            elif self._thread is None:
                self._start()

    def take(self) -> list[tuple[Interaction, Verdict]]:
        """The kept pairs (``keep=True``), emptied."""
        out, self.kept = self.kept or [], [] if self.kept is not None else None
        return out

    # -- durability --------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Verdicts taken but not yet in DuckDB (they are in the journal)."""
        return self.store.pending if self.store is not None else 0

    def flush(self, *, quiet: bool = False) -> int:
        """Write everything taken so far to DuckDB; returns how many verdicts this wrote. A failed write keeps
        the rows (journal and buffer) for the next try; it raises unless ``quiet`` (then it is counted)."""
        if self.store is None:
            return 0
        try:
            n = self.store.flush()
        except Exception as e:
            self.errors += 1
            self.last_error = f"{type(e).__name__}: {e}"
            if not quiet:
                raise
            _log.warning("catalyst: writing verdicts to %s failed (kept for the next try): %s", self.store.path, e)
            return 0
        with self._written:
            self.durable += n
            self._written.notify_all()
        return n

    def wait_durable(self, timeout: float) -> bool:
        """Wait (without flushing) until every verdict put so far was written to DuckDB by this sink's own
        schedule; False when ``timeout`` seconds pass first. For tests and health checks."""
        target = self.taken
        with self._written:
            return self._written.wait_for(lambda: self.durable >= target, timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="catalyst-log-flush", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush(quiet=True)

    def close(self) -> None:
        """Stop the timer, write what is left, release the DuckDB file, deliver queued notifications."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            if self.store is not None:
                self.flush(quiet=True)
                try:
                    self.store.close()
                except Exception as e:  # the rows stay in the journal: the next open replays them
                    _log.warning("catalyst: closing the log %s failed (verdicts kept in its journal): %s",
                                 self.store.path, e)
        finally:
            if self.notifier is not None:
                self.notifier.close()

    def __enter__(self) -> LogSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
