"""Periodic flushing of a :class:`~catalyst.store.Store` for long-lived callers (wrappers, the proxy).

The flow buffers verdicts in the store (``Store.add``); a write per answer would cost a DuckDB
transaction each. A ``LogWriter`` flushes the buffer every ``interval`` seconds from one daemon
thread, and on ``close()`` (and at interpreter exit). A crash therefore loses at most the verdicts
of the last ``interval`` seconds; ``interval=0`` flushes after every answer instead (no thread).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import weakref

from catalyst.store import Store

__all__ = ["LogWriter"]

_log = logging.getLogger("catalyst.log")


class LogWriter:
    """Owns the flush schedule of one store. Thread-safe; ``close()`` flushes and stops the thread."""

    def __init__(self, store: Store, *, interval: float = 1.0) -> None:
        if interval < 0:
            raise ValueError(f"flush interval must be >= 0 seconds, got {interval}")
        self.store = store
        self.interval = interval
        self.errors = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        ref = weakref.ref(self)
        self._atexit = lambda: (w := ref()) is not None and w.close()
        atexit.register(self._atexit)

    def _ensure_thread(self) -> None:
        if self.interval == 0 or self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="catalyst-log-flush", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def added(self) -> None:
        """Call after verdicts were buffered: flushes now (interval 0) or makes sure the timer runs."""
        if self.interval == 0:
            self.flush()
        else:
            self._ensure_thread()

    def flush(self) -> int:
        """Write what is buffered now. A failed write keeps the rows buffered and is retried next time."""
        try:
            return self.store.flush()
        except Exception as e:  # the log must not take the caller down; the rows stay buffered
            self.errors += 1
            self.last_error = f"{type(e).__name__}: {e}"
            _log.warning("catalyst: writing verdicts to %s failed (kept buffered): %s", self.store.path, e)
            return 0

    def close(self) -> None:
        """Stop the timer, flush, and release the DuckDB file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            atexit.unregister(self._atexit)
        self.store.close()
