"""Opening the DuckDB file: migrations on first open, and a clear story for the one-writer lock.

DuckDB lets one process open a file read-write. Catalyst's rule: a long-running process (server,
reviewer UI) may hold the file (``keep_open=True``); short-lived work takes a connection per unit of
work and retries while another process holds the lock, up to ``lock_timeout`` seconds.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from catalyst.errors import StoreError, StoreLockedError
from catalyst.store.migrations import all_migrations


def _is_lock_error(e: BaseException) -> bool:
    text = str(e).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text or "in use" in text)


def open_db(path: str | Path, *, read_only: bool = False, lock_timeout: float = 10.0) -> duckdb.DuckDBPyConnection:
    """Open (and migrate) the file, retrying with jittered backoff while another process holds it."""
    path = str(path)
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.exists():
            raise StoreError(f"folder `{parent}` for the DuckDB log does not exist; create it or pick another --db")
    deadline = time.monotonic() + lock_timeout
    delay = 0.02
    while True:
        try:
            if read_only and path != ":memory:" and not Path(path).exists():
                raise StoreError(f"no Catalyst log at `{path}`; run `catalyst validate` or `catalyst demo` first")
            con = duckdb.connect(path, read_only=read_only)
            break
        except duckdb.Error as e:
            if _is_lock_error(e) and time.monotonic() < deadline:
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
                continue
            if _is_lock_error(e):
                raise StoreLockedError(
                    f"`{path}` is held read-write by another process (DuckDB allows one writer per file); "
                    f"waited {lock_timeout:.0f}s. Stop that process, or go through it (e.g. `catalyst serve`)"
                ) from None
            raise StoreError(f"cannot open `{path}`: {e}") from None
    if not read_only:
        migrate(con)
    return con


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order; returns the names applied now."""
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)")
    done = {r[0] for r in con.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, sql in all_migrations():
        if name in done:
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(UTC)])
            con.execute("COMMIT")
        except Exception as e:
            con.execute("ROLLBACK")
            raise StoreError(f"migration `{name}` failed: {e}") from e
        applied.append(name)
    return applied
