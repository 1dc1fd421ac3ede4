"""The write side of the verdict log for long-lived callers (wrappers, the proxy): a queue and a flusher.

Callers ``put`` (record, verdict) pairs into an in-memory queue (a ``deque`` append: no lock held across
I/O, so answering a request never waits for DuckDB). One daemon thread moves the queue into the
:class:`~catalyst.store.Store` and flushes it every ``interval`` seconds, and ``close()`` (also run at
interpreter exit) drains and flushes what is left. A crash therefore loses at most the verdicts of the
last ``interval`` seconds; ``interval=0`` writes each answer's verdict before the call returns (no thread).
A failed write keeps the rows buffered in the store and is retried on the next tick.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import weakref
from collections import deque
from collections.abc import Iterable

from catalyst.records import Interaction, Verdict
from catalyst.store import Store

__all__ = ["LogWriter"]

_log = logging.getLogger("catalyst.log")


class LogWriter:
    """Owns the writes of one store. Thread-safe; ``close()`` drains, flushes and releases the file."""

    def __init__(self, store: Store, *, interval: float = 1.0) -> None:
        if interval < 0:
            raise ValueError(f"flush interval must be >= 0 seconds, got {interval}")
        self.store = store
        self.interval = interval
        self.errors = 0
        self.last_error: str | None = None
        self._queue: deque[tuple[Interaction, Verdict]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards thread start/close
        self._write_lock = threading.Lock()  # one writer at a time
        self._closed = False
        ref = weakref.ref(self)

        def _at_exit() -> None:  # a weak reference: an unused writer can still be garbage-collected
            w = ref()
            if w is not None:
                w.close()

        self._atexit = _at_exit
        atexit.register(self._atexit)

    # -- writing -----------------------------------------------------------------------------------
    def put(self, pairs: Iterable[tuple[Interaction, Verdict]]) -> None:
        """Queue verdicts; with ``interval=0`` they are written before this returns."""
        self._queue.extend(pairs)
        if self.interval == 0:
            self.flush()
        elif self._thread is None:
            self._start()

    @property
    def pending(self) -> int:
        """Verdicts queued or buffered but not yet durable."""
        return len(self._queue) + self.store.pending

    def flush(self) -> int:
        """Write everything queued now; returns how many verdicts became durable."""
        with self._write_lock:
            batch = []
            while self._queue:
                batch.append(self._queue.popleft())
            try:
                if batch:
                    self.store.add(batch)
                return self.store.flush()
            except Exception as e:  # the log must not take the caller down; rows stay buffered in the store
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                _log.warning("catalyst: writing verdicts to %s failed (kept buffered): %s", self.store.path, e)
                return 0

    # -- the timer ---------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="catalyst-log-flush", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Stop the timer, write what is left, and release the DuckDB file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            atexit.unregister(self._atexit)
        self.flush()
        self.store.close()
