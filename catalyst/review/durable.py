"""The durable checkpointer that lets a validation wait for a person, across restarts and processes.

LangGraph's maintained SQLite saver, in a file next to the DuckDB log (``log.duckdb`` →
``log.checkpoints.sqlite``), with a serializer that allows exactly Catalyst's own state types (the
flow's ``Item`` dataclass and the pydantic records) — so restoring a waiting flow neither warns about
"unregistered types" nor breaks when LangGraph turns strict msgpack on by default.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

#: every type the flow state holds (engine.Item and the records inside it)
STATE_TYPES: tuple[tuple[str, str], ...] = (
    ("catalyst.engine", "Item"),
    ("catalyst.records", "Interaction"),
    ("catalyst.records", "CheckResult"),
    ("catalyst.records", "Evidence"),
    ("catalyst.records", "Verdict"),
    ("catalyst.records", "Decision"),
)


def checkpoint_path(db: str | Path) -> Path:
    """Where the checkpoints of the log at ``db`` live: beside it, ``<stem>.checkpoints.sqlite``."""
    p = Path(db)
    return p.with_name(p.stem + ".checkpoints.sqlite")


def serializer() -> Any:
    """LangGraph's JSON+msgpack serializer, allowing Catalyst's state types and nothing else unknown."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer(allowed_msgpack_modules=list(STATE_TYPES))


def checkpointer(db: str | Path, *, path: str | Path | None = None) -> Any:
    """A ``SqliteSaver`` for the log at ``db`` (or at ``path``), usable from any thread of this process.

    Pass it as ``Validator(..., checkpointer=checkpointer("log.duckdb"))`` in the process that validates
    and in the one that resumes (a reviewer tool, a worker after a restart): both see the same threads.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    target = Path(path) if path is not None else checkpoint_path(db)
    conn = sqlite3.connect(str(target), check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    return SqliteSaver(conn, serde=serializer())
