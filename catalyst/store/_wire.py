"""The log owner's wire format: length-prefixed frames over one TCP stream, JSON headers, Arrow bodies.

A frame is ``u32 header length · u32 body length · header (JSON) · body (Arrow IPC stream, may be empty)``.
Values in headers are JSON; the SQL types JSON cannot carry (timestamps, dates, decimals, UUIDs, bytes,
intervals) travel as ``{"$t": kind, "v": text}`` and come back as the same Python type — DuckDB returns
them to a caller of the owner exactly as it would to a local connection. No pickle: a frame can only
describe data, never code.
"""

from __future__ import annotations

import base64
import socket
import struct
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

_LEN = struct.Struct("!II")
_TAG = "$t"
MAX_FRAME = 1 << 31


class _WireClosed(ConnectionError):
    """The other side closed the stream (or it broke) before a whole frame arrived."""


def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return {_TAG: "dt", "v": v.isoformat()}
    if isinstance(v, date):
        return {_TAG: "d", "v": v.isoformat()}
    if isinstance(v, time):
        return {_TAG: "tm", "v": v.isoformat()}
    if isinstance(v, timedelta):
        return {_TAG: "td", "v": [v.days, v.seconds, v.microseconds]}
    if isinstance(v, Decimal):
        return {_TAG: "dec", "v": str(v)}
    if isinstance(v, uuid.UUID):
        return {_TAG: "uuid", "v": str(v)}
    if isinstance(v, bytes | bytearray | memoryview):
        return {_TAG: "b", "v": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, set | frozenset | tuple):
        return list(v)
    raise TypeError(f"cannot send a {type(v).__name__} to the log owner")


_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=_OPTS)


def _untag(d: dict[str, Any]) -> Any:
    kind, v = d[_TAG], d["v"]
    if kind == "dt":
        return datetime.fromisoformat(v)
    if kind == "d":
        return date.fromisoformat(v)
    if kind == "tm":
        return time.fromisoformat(v)
    if kind == "td":
        return timedelta(days=v[0], seconds=v[1], microseconds=v[2])
    if kind == "dec":
        return Decimal(v)
    if kind == "uuid":
        return uuid.UUID(v)
    if kind == "b":
        return base64.b64decode(v)
    raise ValueError(f"unknown value tag {kind!r} from the log owner")


def revive(obj: Any) -> Any:
    """Turn tagged values back into Python ones (walks lists and dicts)."""
    if isinstance(obj, list):
        return [revive(x) for x in obj]
    if isinstance(obj, dict):
        if _TAG in obj and len(obj) == 2 and "v" in obj:
            return _untag(obj)
        return {k: revive(x) for k, x in obj.items()}
    return obj


def table_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def bytes_table(body: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(body)).read_all()


def send(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    head = dumps(header)
    sock.sendall(_LEN.pack(len(head), len(body)) + head + body)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise _WireClosed("the log owner closed the connection")
        buf += chunk
    return bytes(buf)


def recv(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    hlen, blen = _LEN.unpack(_read_exact(sock, _LEN.size))
    if hlen + blen > MAX_FRAME:
        raise _WireClosed(f"frame of {hlen + blen} bytes is larger than allowed")
    header = orjson.loads(_read_exact(sock, hlen))
    body = _read_exact(sock, blen) if blen else b""
    return header, body
