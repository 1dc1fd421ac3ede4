"""Opening the DuckDB file: migrations on first open, and a clear story for the one-writer lock.

DuckDB lets one process open a file read-write. Catalyst's rule: the process that holds the file serves
it (``catalyst.store._server``: the log's *owner*, advertised in ``<db>.owner``), and every other process
goes through the owner (``catalyst.store._remote``). With no owner, work takes the file itself and retries
while another process holds the lock, up to ``lock_timeout`` seconds — re-checking for an owner each time.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, cast

import duckdb

from catalyst.errors import LogOwnerUnreachableError, StoreError, StoreLockedError
from catalyst.store.migrations import all_migrations


def _is_lock_error(e: BaseException) -> bool:
    text = str(e).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text or "in use" in text)


def open_db(path: str | Path, *, read_only: bool = False, lock_timeout: float = 10.0) -> duckdb.DuckDBPyConnection:
    """A connection to the log: through its owner when one serves it, else the file itself (opened and
    migrated), retrying with jittered backoff while another process holds it.

    Through an owner the result is a :class:`~catalyst.store._remote.RemoteConnection` (the same methods);
    in the owner's own process, a cursor on its open database.
    """
    path = str(path)
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.exists():
            raise StoreError(f"folder `{parent}` for the DuckDB log does not exist; create it or pick another --db")
    deadline = time.monotonic() + lock_timeout
    delay = 0.02
    while True:
        if path != ":memory:":
            shared = _through_owner(path, read_only)
            if shared is not None:
                return shared
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
                _raise_locked(path, lock_timeout)
            raise StoreError(f"cannot open `{path}`: {e}") from None
    if not read_only:
        migrate(con)
    return con


def _through_owner(path: str, read_only: bool) -> duckdb.DuckDBPyConnection | None:
    from catalyst.store._remote import connect_owner
    from catalyst.store._server import local_server

    own = local_server(path)
    if own is not None:
        return own.con.cursor()
    return cast(duckdb.DuckDBPyConnection | None, connect_owner(path, read_only=read_only))


def _raise_locked(path: str, lock_timeout: float) -> NoReturn:
    from catalyst.store._remote import pid_alive, read_owner

    info = read_owner(path)
    if info is not None and pid_alive(info.get("pid")):
        raise LogOwnerUnreachableError(
            f"`{path}` is held by process {info['pid']} (its owner file `{path}.owner`), which does not answer on "
            f"{info.get('host')}:{info.get('port')}; waited {lock_timeout:.0f}s. Restart that process, or stop it "
            "and delete the owner file") from None
    raise StoreLockedError(
        f"`{path}` is held read-write by another process that does not serve it (DuckDB allows one writer per "
        f"file); waited {lock_timeout:.0f}s. Stop that process, or run `catalyst log serve --db {path}` first "
        "so that every process goes through one owner") from None


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
