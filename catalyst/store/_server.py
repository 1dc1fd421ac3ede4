"""The log owner: the one process that holds the DuckDB file read-write serves it to every other process.

DuckDB admits one read-write process per file. Whichever long-running process opens the log first (the
proxy, the web reviewer, a batch run, or ``catalyst log serve``) becomes its **owner**: it keeps the file
open and serves a small query/write API on loopback, advertised in ``<db>.owner`` (pid, address, a random
token; mode 0600, so only the same user can connect). Every other process finds that file and sends its
statements there instead of waiting for the lock (``catalyst.store._remote``).

Each client connection is a session with its own DuckDB cursor on the owner's database, so transactions
of different clients run concurrently under DuckDB's own MVCC (a write-write conflict raises
``TransactionException`` to the loser, as in one process). Short read-modify-write units that many
clients run at once (a review claim, a decision) are **procedures**: named functions registered with
:func:`procedure`, run by the owner in one transaction, one at a time, so they cost one round trip and
never fight over the same row.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import queue
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import duckdb
import orjson

from catalyst.errors import CatalystError
from catalyst.store import _wire

#: rows sent with an ``execute`` answer; the rest on ``fetch`` (most statements need one round trip)
PREFETCH = 2048
#: conflicting procedure transactions are retried this many times
RETRIES = 20
#: procedure calls committed together at most
GROUP = 64
_STOP: Future[Any] = Future()

_PROCEDURES: dict[str, Callable[..., Any]] = {}
_LOCAL: dict[str, OwnerServer] = {}  # realpath of the db → the server this process runs for it
_LOCAL_LOCK = threading.Lock()
_DEFER = threading.local()  # rows that ``insert`` holds back until the procedure (or group) commits


def procedure(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(con, **args) -> JSON-able`` as a procedure the owner runs in one transaction.

    ``name`` is ``"<module>:<fn>"``; a client calls it by that name, and the owner imports the module
    (only ``catalyst.*``) to find it, so both sides run the same code. The owner commits several queued
    calls together (group commit), so a procedure may raise a ``CatalystError`` only *before* it writes
    (checks first, then writes); any other exception makes the owner redo the group one call at a time.
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _PROCEDURES[name] = fn
        return fn
    return deco


def insert(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], values: list[Any]) -> None:
    """INSERT one row; inside a procedure, the row waits and all such rows of the call (or of the owner's
    group of calls) go in with one statement per table just before the commit — same transaction, same order.
    Use it for append-only rows nothing reads back in the same transaction (audit, decisions, labels)."""
    pending = getattr(_DEFER, "rows", None)
    if pending is None:
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values)
    else:
        pending.setdefault((table, columns), []).append(values)


@contextlib.contextmanager
def _deferring(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    _DEFER.rows = {}
    try:
        yield
        rows: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = _DEFER.rows
        for (table, columns), values in rows.items():  # one multi-row INSERT per table
            one = f"({', '.join('?' * len(columns))})"
            con.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * len(values))}",
                        [v for row in values for v in row])
    finally:
        _DEFER.rows = None


def run_procedure(con: duckdb.DuckDBPyConnection, name: str, args: dict[str, Any]) -> Any:
    """Run a registered procedure in one transaction on ``con``, retrying write-write conflicts."""
    fn = _find(name)
    for attempt in range(RETRIES):
        con.execute("BEGIN TRANSACTION")
        try:
            with _deferring(con):
                out = fn(con, **args)
        except duckdb.TransactionException as e:
            con.execute("ROLLBACK")
            if "conflict" not in str(e).lower() or attempt == RETRIES - 1:
                raise
            continue
        except BaseException:
            con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except duckdb.TransactionException as e:
            if "conflict" not in str(e).lower() or attempt == RETRIES - 1:
                raise
            continue
        return out
    raise AssertionError("unreachable")


def _find(name: str) -> Callable[..., Any]:
    if name not in _PROCEDURES:
        module = name.partition(":")[0]
        if not module.startswith("catalyst."):
            raise KeyError(f"unknown procedure {name!r}")
        import_module(module)
    try:
        return _PROCEDURES[name]
    except KeyError:
        raise KeyError(f"unknown procedure {name!r}") from None


def owner_file(db: str | Path) -> Path:
    return Path(f"{db}.owner")


def local_server(db: str | Path) -> OwnerServer | None:
    """The server this process runs for ``db``, if any (its own processes skip the network)."""
    with _LOCAL_LOCK:
        return _LOCAL.get(os.path.realpath(db))


def _error(e: BaseException) -> dict[str, Any]:
    kind = "duckdb" if isinstance(e, duckdb.Error) else "catalyst" if isinstance(e, CatalystError) else "other"
    return {"ok": False, "kind": kind, "error": type(e).__name__, "module": type(e).__module__,
            "message": str(e)}


class _Session:
    """One client connection: a DuckDB cursor, its pending result, the Arrow tables it registered."""

    def __init__(self, server: OwnerServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.cur: duckdb.DuckDBPyConnection | None = None
        self.read_only = False
        self.in_ro_tx = False
        self.tables: dict[str, Any] = {}
        self.ahead: list[Any] = []

    def run(self) -> None:
        try:
            header, _ = _wire.recv(self.sock)
            token = str(header.get("token", ""))
            if header.get("op") != "hello" or not hmac.compare_digest(token, self.server.token):
                _wire.send(self.sock, {"ok": False, "kind": "auth", "error": "AuthError",
                                       "message": "wrong or missing token for the log owner"})
                return
            self.read_only = bool(header.get("read_only"))
            self.cur = self.server.con.cursor()
            _wire.send(self.sock, {"ok": True, "pid": os.getpid(), "db": self.server.db})
            while not self.server.stopping.is_set():
                header, body = _wire.recv(self.sock)
                try:
                    reply, out = self.handle(header, body)
                except Exception as e:  # the statement failed; the session goes on, as with a local cursor
                    reply, out = _error(e), b""
                _wire.send(self.sock, reply, out)
        except (_wire._WireClosed, OSError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self.cur is not None:
            with contextlib.suppress(duckdb.Error):
                self.cur.close()  # an open transaction is rolled back
            self.cur = None
        with contextlib.suppress(OSError):
            self.sock.close()
        self.server.forget(self)

    def _rows(self, n: int | None) -> tuple[list[Any], bool]:
        """Up to ``n`` rows of the pending result, and whether more follow (one row read ahead is kept)."""
        assert self.cur is not None
        ahead, self.ahead = self.ahead, []
        if n is None:
            return ahead + self.cur.fetchall(), False
        rows = ahead + self.cur.fetchmany(n + 1 - len(ahead))
        self.ahead = rows[n:]
        return rows[:n], bool(self.ahead)

    def handle(self, h: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        cur = self.cur
        assert cur is not None
        op = h.get("op")
        if op == "execute" or op == "arrow":
            if self.read_only:
                if self.in_ro_tx:
                    cur.execute("ROLLBACK")
                cur.execute("BEGIN TRANSACTION READ ONLY")  # each statement sees the latest commits
                self.in_ro_tx = True
            params = _wire.revive(h.get("params")) or None
            self.ahead = []
            if op == "arrow":
                return {"ok": True}, _wire.table_bytes(cur.sql(h["sql"], params=params).to_arrow_table())
            if h.get("many"):
                cur.executemany(h["sql"], params or [])
            else:
                cur.execute(h["sql"], params)
            desc = None if cur.description is None else [[d[0], str(d[1])] for d in cur.description]
            rows, more = self._rows(PREFETCH) if desc is not None else ([], False)
            return {"ok": True, "desc": desc, "rows": rows, "more": more}, b""
        if op == "fetch":
            n = h.get("n")
            rows, more = self._rows(None if n is None else int(n))
            return {"ok": True, "rows": rows, "more": more}, b""
        if op == "register":
            if self.server.on_write is not None and h["name"] == "_catalyst_buf":  # the Store's batch writes
                self.server.on_write()
            self.tables[h["name"]] = _wire.bytes_table(body)
            cur.register(h["name"], self.tables[h["name"]])
            return {"ok": True}, b""
        if op == "unregister":
            cur.unregister(h["name"])
            self.tables.pop(h["name"], None)
            return {"ok": True}, b""
        if op == "call":
            if self.read_only:
                raise PermissionError("this connection to the log owner is read-only")
            result = self.server.call(h["proc"], _wire.revive(h.get("args") or {}))
            return {"ok": True, "result": result}, b""
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}, b""
        raise ValueError(f"unknown operation {op!r}")


class OwnerServer:
    """Serve an open read-write DuckDB connection to other processes; see the module docstring."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db: str | Path, *, host: str = "127.0.0.1",
                 port: int = 0, token: str | None = None, on_write: Callable[[], None] | None = None) -> None:
        self.con = con
        #: called when a client sends a batch to write (tests stop or kill the owner at that moment)
        self.on_write = on_write
        self.db = str(db)
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(32)
        self.stopping = threading.Event()
        self._calls: queue.SimpleQueue[tuple[str, dict[str, Any], Future[Any]]] = queue.SimpleQueue()
        self._runner: threading.Thread | None = None
        self._sessions: set[_Session] = set()
        self._lock = threading.Condition()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None
        return self._listener.getsockname()[:2]  # type: ignore[no-any-return]

    def call(self, name: str, args: dict[str, Any]) -> Any:
        """Run procedure ``name`` on the owner's runner thread (from a session, or from this process)."""
        fut: Future[Any] = Future()
        self._calls.put((name, args, fut))
        return fut.result()

    def _run_calls(self) -> None:
        """Run queued procedure calls in groups: one transaction and one commit for every call waiting."""
        cur = self.con.cursor()
        try:
            while True:
                first = self._calls.get()
                if first[2] is _STOP:
                    return
                group = [first]
                while len(group) < GROUP and not self._calls.empty():
                    nxt = self._calls.get()
                    if nxt[2] is _STOP:
                        self._calls.put(nxt)
                        break
                    group.append(nxt)
                self._run_group(cur, group)
        finally:
            cur.close()

    def _run_group(self, cur: duckdb.DuckDBPyConnection,
                   group: list[tuple[str, dict[str, Any], Future[Any]]]) -> None:
        results: list[tuple[bool, Any]] = []
        if len(group) > 1:
            try:
                cur.execute("BEGIN TRANSACTION")
                with _deferring(cur):
                    for name, args, _f in group:
                        try:
                            results.append((True, _find(name)(cur, **args)))
                        except CatalystError as e:  # raised before the procedure wrote anything
                            results.append((False, e))
                cur.execute("COMMIT")
            except Exception:
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                results = []  # redo one by one below: the group's writes are gone with the rollback
        if not results:
            for name, args, _f in group:
                try:
                    results.append((True, run_procedure(cur, name, args)))
                except Exception as e:
                    results.append((False, e))
        for (ok, value), (_n, _a, fut) in zip(results, group, strict=True):
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def start(self) -> OwnerServer:
        self._runner = threading.Thread(target=self._run_calls, name="catalyst-log-procedures", daemon=True)
        self._runner.start()
        s = socket.create_server((self.host, self.port), backlog=64)
        self._listener = s
        self._thread = threading.Thread(target=self._accept, name="catalyst-log-owner", daemon=True)
        self._thread.start()
        self._advertise()
        with _LOCAL_LOCK:
            _LOCAL[os.path.realpath(self.db)] = self
        return self

    def _advertise(self) -> None:
        host, port = self.address
        info = {"pid": os.getpid(), "host": "127.0.0.1" if host in ("0.0.0.0", "::") else host, "port": port,
                "token": self.token, "db": os.path.realpath(self.db), "started_at": datetime.now(UTC).isoformat()}
        path = owner_file(self.db)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(info))
        os.replace(tmp, path)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = _Session(self, sock)
            with self._lock:
                self._sessions.add(session)
            threading.Thread(target=session.run, name="catalyst-log-session", daemon=True).start()

    def forget(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)
            self._lock.notify_all()

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def stop(self) -> None:
        """Stop advertising and serving: clients' open transactions roll back, their next call finds the file
        free (or the next owner)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        with _LOCAL_LOCK:
            if _LOCAL.get(os.path.realpath(self.db)) is self:
                del _LOCAL[os.path.realpath(self.db)]
        path = owner_file(self.db)
        try:
            if orjson.loads(path.read_bytes()).get("token") == self.token:
                path.unlink()
        except (OSError, ValueError):
            pass
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            sessions = list(self._sessions)
        for s in sessions:
            with contextlib.suppress(OSError):
                s.sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:  # sessions end their statement, roll back and close their cursor
            self._lock.wait_for(lambda: not self._sessions, timeout=10)
        if self._runner is not None:
            self._calls.put(("", {}, _STOP))
            self._runner.join(timeout=10)
