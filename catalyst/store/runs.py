"""One run per input file and log: two runs over the same file (e.g. both with ``--resume``) would both
validate what is missing and log it twice, so the second one stops with a clear message instead.

``claim_input(store, path)`` records the run in ``log_runs`` (one row per input file, by its real path) in one
transaction through the log's owner, and returns the function that marks it finished. A run that is still
going holds its file; a finished one, or one whose process is gone (same host: its pid is dead; another host:
no news for ``STALE_AFTER``), gives it up to the next run — which ``--resume`` then continues.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from catalyst.errors import UserError

#: a run on another host that has not finished after this long is taken for dead
STALE_AFTER = timedelta(hours=1)


class InputBusyError(UserError):
    """Another run is validating the same input file into the same log."""


def _alive(row: dict[str, Any], now: datetime) -> bool:
    from catalyst.store._remote import pid_alive

    if row["finished_at"] is not None:
        return False
    if row["host"] == socket.gethostname():
        return pid_alive(row["pid"])
    return bool(now - row["started_at"] < STALE_AFTER)


def claim_input(store: Any, path: str | Path) -> Callable[[], None]:
    """Record that this process validates ``path`` into ``store``; raise :class:`InputBusyError` if another
    live run does. Returns ``finish()``, to call when the run ends (in a ``finally``)."""
    key = os.path.realpath(path)
    run_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            cur = con.execute("SELECT run_id, host, pid, started_at, finished_at FROM log_runs WHERE input = ?", [key])
            found = cur.fetchone()
            if found is not None:
                row = dict(zip(("run_id", "host", "pid", "started_at", "finished_at"), found, strict=True))
                if _alive(row, now):
                    raise InputBusyError(
                        f"`{path}` is being validated into this log by another run (pid {row['pid']} on "
                        f"{row['host']}, since {row['started_at']:%Y-%m-%d %H:%M:%S} UTC); wait for it, or stop it "
                        "and run again with --resume to continue where it stopped")
            con.execute("INSERT INTO log_runs VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (input) DO UPDATE SET "
                        "run_id = excluded.run_id, host = excluded.host, pid = excluded.pid, "
                        "started_at = excluded.started_at, finished_at = NULL",
                        [key, run_id, socket.gethostname(), os.getpid(), now])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def finish() -> None:
        with store.connect() as con:
            con.execute("UPDATE log_runs SET finished_at = ? WHERE input = ? AND run_id = ?",
                        [datetime.now(UTC), key, run_id])

    return finish
