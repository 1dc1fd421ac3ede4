"""The client side of the log owner: a connection that sends each statement to the process holding the file.

:class:`RemoteConnection` behaves like the part of ``duckdb.DuckDBPyConnection`` Catalyst uses
(``execute``/``executemany`` with parameters, ``fetchone``/``fetchmany``/``fetchall``, ``description``,
``register``/``unregister`` of Arrow tables, ``BEGIN``/``COMMIT`` as statements, ``close``), plus
:meth:`~RemoteConnection.call` for the owner's procedures and :meth:`~RemoteConnection.arrow` for a whole
result as Arrow. DuckDB errors raised by the owner are raised here as the same ``duckdb`` exception class,
Catalyst errors as the same Catalyst class, so callers cannot tell the difference.

Where the owner is: ``<db>.owner`` (written by :class:`~catalyst.store._server.OwnerServer`), or, for a log
served from another machine, ``CATALYST_LOG_OWNER=host:port`` with ``CATALYST_LOG_TOKEN``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from catalyst.errors import CatalystError, LogOwnerUnreachableError, StoreError
from catalyst.store import _wire
from catalyst.store._server import owner_file

CONNECT_TIMEOUT = 3.0


class OwnerGoneError(StoreError):
    """The owner closed the connection mid-call (it stopped or crashed); what was not committed is not saved."""


def read_owner(db: str | Path) -> dict[str, Any] | None:
    """Where the owner of ``db`` listens: the environment's ``CATALYST_LOG_OWNER``, else ``<db>.owner``."""
    env = os.environ.get("CATALYST_LOG_OWNER")
    if env:
        host, _, port = env.rpartition(":")
        if not host or not port.isdigit():
            raise LogOwnerUnreachableError(f"CATALYST_LOG_OWNER={env!r} is not host:port (e.g. logs.internal:7411)")
        token = os.environ.get("CATALYST_LOG_TOKEN")
        if not token:
            raise LogOwnerUnreachableError("CATALYST_LOG_OWNER is set but CATALYST_LOG_TOKEN is not; copy the token "
                                           "from the owner machine's `<db>.owner` file")
        return {"host": host, "port": int(port), "token": token, "pid": None, "env": True}
    try:
        info = orjson.loads(owner_file(db).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"host": None, "port": None, "token": "", "pid": None, "broken": True}
    return info if isinstance(info, dict) else None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_stale(db: str | Path, info: dict[str, Any]) -> None:
    """Remove an owner file whose process is gone (only if it still says the same thing)."""
    path = owner_file(db)
    try:
        now = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        now = None
    if now is None or now.get("token") == info.get("token"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def connect_owner(db: str | Path, *, read_only: bool = False) -> RemoteConnection | None:
    """A connection to the owner of ``db``; None when there is no owner (or its file is stale).

    A stale file (its process is dead) is removed. An owner named by the environment must answer, else
    :class:`LogOwnerUnreachableError`.
    """
    info = read_owner(db)
    if info is None:
        return None
    if info.get("broken"):
        return None
    try:
        return RemoteConnection(info, read_only=read_only)
    except (OSError, _wire._WireClosed) as e:
        if info.get("env"):
            raise LogOwnerUnreachableError(
                f"the log owner at {info['host']}:{info['port']} (CATALYST_LOG_OWNER) does not answer: {e}; "
                "start `catalyst log serve` there or unset CATALYST_LOG_OWNER") from None
        if not pid_alive(info.get("pid")):
            forget_stale(db, info)
        return None


def _raise(h: dict[str, Any]) -> None:
    name, msg, kind = str(h.get("error")), str(h.get("message")), h.get("kind")
    if kind == "duckdb":
        cls = getattr(duckdb, name, None)
        if isinstance(cls, type) and issubclass(cls, duckdb.Error):
            raise cls(msg)
        raise duckdb.Error(msg)
    if kind == "catalyst" and str(h.get("module", "")).startswith("catalyst."):
        try:
            cls = getattr(import_module(str(h["module"])), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type) and issubclass(cls, CatalystError):
            try:
                err = cls(msg)
            except TypeError:
                err = StoreError(msg)
            raise err
    if kind == "auth":
        raise LogOwnerUnreachableError(f"the log owner refused the connection: {msg} (token from a stale "
                                       "`<db>.owner` or CATALYST_LOG_TOKEN?)")
    raise StoreError(f"the log owner could not run that: {name}: {msg}")


class RemoteConnection:
    """A session on the log owner (see the module docstring). Not thread-safe: one user at a time."""

    def __init__(self, info: dict[str, Any], *, read_only: bool = False) -> None:
        self.info = info
        self.owner_pid = info.get("pid")
        self.read_only = read_only
        self.broken = False
        self._desc: list[tuple[str, str, None, None, None, None, None]] | None = None
        self._rows: list[Any] = []
        self._more = False
        self._sock = socket.create_connection((info["host"], int(info["port"])), timeout=CONNECT_TIMEOUT)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(None)
        try:
            h, _ = self._ask({"op": "hello", "token": info.get("token", ""), "read_only": read_only})
        except BaseException:
            self._sock.close()
            raise
        self.owner_pid = h.get("pid", self.owner_pid)

    def __repr__(self) -> str:
        return f"<RemoteConnection to pid {self.owner_pid} at {self.info['host']}:{self.info['port']}>"

    def _ask(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], bytes]:
        if self.broken:
            raise OwnerGoneError(f"the connection to the log owner (pid {self.owner_pid}) is closed")
        try:
            _wire.send(self._sock, header, body)
            h, out = _wire.recv(self._sock)
        except (OSError, _wire._WireClosed) as e:
            self.broken = True
            self._sock.close()
            raise OwnerGoneError(f"the log owner (pid {self.owner_pid}) went away during a call ({e}); what it had "
                                 "not committed is not saved — retry, a new owner is found automatically") from None
        if not h.get("ok"):
            _raise(h)
        return h, out

    # -- the duckdb connection surface ------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> RemoteConnection:
        h, _ = self._ask({"op": "execute", "sql": sql, "params": params})
        self._set(h)
        return self

    def executemany(self, sql: str, params: Sequence[Any]) -> RemoteConnection:
        h, _ = self._ask({"op": "execute", "sql": sql, "params": list(params), "many": True})
        self._set(h)
        return self

    def _set(self, h: dict[str, Any]) -> None:
        desc = h.get("desc")
        self._desc = None if desc is None else [(d[0], d[1], None, None, None, None, None) for d in desc]
        self._rows = [tuple(r) for r in _wire.revive(h.get("rows") or [])]
        self._more = bool(h.get("more"))

    @property
    def description(self) -> list[tuple[str, str, None, None, None, None, None]] | None:
        return self._desc

    def _fill(self, n: int | None) -> None:
        while self._more and (n is None or len(self._rows) < n):
            h, _ = self._ask({"op": "fetch", "n": None if n is None else max(n - len(self._rows), 1)})
            self._rows.extend(tuple(r) for r in _wire.revive(h.get("rows") or []))
            self._more = bool(h.get("more"))

    def fetchall(self) -> list[Any]:
        self._fill(None)
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int = 1) -> list[Any]:
        self._fill(size)
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def fetchone(self) -> Any:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def fetch_arrow_table(self) -> pa.Table:
        """The rest of the result as Arrow (built here from the rows the owner sent)."""
        assert self._desc is not None, "no result to fetch"
        rows = self.fetchall()
        cols: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in self._desc]
        return pa.table({d[0]: pa.array(list(c)) for d, c in zip(self._desc, cols, strict=True)})

    def fetchnumpy(self) -> dict[str, Any]:
        """The rest of the result as numpy arrays, converted exactly as DuckDB converts them."""
        table = self.fetch_arrow_table()
        with duckdb.connect() as mem:
            mem.register("_catalyst_rows", table)
            return mem.execute("SELECT * FROM _catalyst_rows").fetchnumpy()  # type: ignore[no-any-return]

    def register(self, name: str, table: pa.Table) -> RemoteConnection:
        self._ask({"op": "register", "name": name}, _wire.table_bytes(table))
        return self

    def unregister(self, name: str) -> RemoteConnection:
        self._ask({"op": "unregister", "name": name})
        return self

    def __del__(self) -> None:  # a pooled session of a Store nobody closed: no ResourceWarning, no leak
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        if not self.broken:
            self.broken = True
            with contextlib.suppress(OSError):
                self._sock.close()

    def cursor(self) -> RemoteConnection:
        """Another session on the same owner (a DuckDB cursor of its own: its own results, its own transaction)."""
        return RemoteConnection(self.info, read_only=self.read_only)

    # -- beyond duckdb ------------------------------------------------------------------------------
    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """A whole result as one Arrow table."""
        _, body = self._ask({"op": "arrow", "sql": sql, "params": params})
        return _wire.bytes_table(body)

    def call(self, proc: str, **args: Any) -> Any:
        """Run the owner's procedure ``proc`` (see ``catalyst.store._server.procedure``) in one transaction."""
        h, _ = self._ask({"op": "call", "proc": proc, "args": args})
        return _wire.revive(h.get("result"))

    def ping(self) -> int:
        h, _ = self._ask({"op": "ping"})
        return int(h["pid"])
