"""Log every model call attempt to the DuckDB store's ``model_calls`` table (migration m030).

>>> calls = ModelCallLog(store)
>>> llm = LLM(config, on_call=calls)     # or llm.listeners.append(calls)
>>> ...; calls.flush()                    # also flushes by itself every ``buffer_rows`` calls

Rows are buffered in memory and written in one ``executemany`` per flush, on the caller's thread.
"""

from __future__ import annotations

import threading
from typing import Any

from catalyst.llm._client import CallRecord

__all__ = ["ModelCallLog"]

_COLUMNS = ("ts", "model", "base_url", "endpoint", "latency_ms", "prompt_tokens", "completion_tokens", "status",
            "http_status", "attempt", "key", "error")


class ModelCallLog:
    """A call listener that writes :class:`CallRecord` rows to ``store`` (a :class:`catalyst.Store`)."""

    def __init__(self, store: Any, *, buffer_rows: int = 256) -> None:
        self.store = store
        self.buffer_rows = buffer_rows
        self._buf: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self.written = 0

    def __call__(self, rec: CallRecord) -> None:
        row = tuple(getattr(rec, c) for c in _COLUMNS)
        with self._lock:
            self._buf.append(row)
            full = len(self._buf) >= self.buffer_rows
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what is buffered; returns the number of rows written."""
        with self._lock:
            rows, self._buf = self._buf, []
        if not rows:
            return 0
        sql = f"INSERT INTO model_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        try:
            with self.store.connect() as con:
                con.executemany(sql, rows)
        except Exception:
            with self._lock:  # keep the rows for the next flush
                self._buf[:0] = rows
            raise
        self.written += len(rows)
        return len(rows)

    close = flush
