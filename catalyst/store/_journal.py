"""The write-ahead journal: a verdict handed to the log is on disk before the caller gets it back.

``Store.add`` appends one line per verdict to this process's journal file (one ``write()`` per call, no
fsync) before it returns; a flush seals the file, writes its rows to DuckDB in one transaction and deletes
it. So a process killed at any point (SIGKILL, OOM) loses nothing it returned: the next process that opens
the log for writing replays what is left. A machine crash can still lose what the OS had not written out.

Files live in ``<db>.journal/``, one active file per open :class:`~catalyst.store.Store`, each held with an
exclusive ``flock`` while its owner lives. Replay takes only files nobody holds (their owner is gone), and
skips verdicts the log already has (a crash between commit and delete), so nothing is written twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from catalyst.records import Interaction, Verdict

try:
    import fcntl
except ImportError:  # Windows: no journal (the flush interval still bounds a crash's loss)
    fcntl = None  # type: ignore[assignment]

__all__ = ["Journal", "journal_dir", "read_orphans"]

_log = logging.getLogger("catalyst.log")

#: one journaled row: (verdict_id, record, verdict, thread_id or None)
Row = tuple[str, Interaction, Verdict, str | None]


def journal_dir(db: str) -> Path | None:
    """Where the journal of the log at ``db`` lives; None for ``:memory:`` or where files cannot be locked."""
    if db == ":memory:" or fcntl is None:
        return None
    p = Path(db)
    return p.with_name(p.name + ".journal")


def _plain(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.__dict__
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


def encode(rows: Sequence[Row]) -> bytes:
    """Rows as JSON lines (the models' own fields, no validation: a few microseconds per verdict)."""
    return b"".join(orjson.dumps([vid, rec.__dict__, v.__dict__, tid], default=_plain) + b"\n"
                    for vid, rec, v, tid in rows)


class Journal:
    """This process's journal file for one store: ``append`` before returning, ``seal`` at flush."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._fd: int | None = None
        self._path: Path | None = None
        self._seq = 0
        self._name = uuid.uuid4().hex
        self.failed = False

    def append(self, data: bytes) -> None:
        """Append encoded rows (see :func:`encode`) with one ``write()``. Where the file cannot be created
        (the log's folder is missing or read-only) the rows stay only in memory, and the flush says why."""
        if self._fd is None:
            try:
                self._open()
            except OSError as e:
                if not self.failed:
                    _log.warning("catalyst: no write-ahead journal in %s (%s); a crash may lose unflushed verdicts",
                                 self.dir, e)
                self.failed = True
                return
        assert self._fd is not None
        view = memoryview(data)
        while view:  # a regular file takes it whole; loop only on a short write
            view = view[os.write(self._fd, view):]

    def _open(self) -> None:
        self.dir.mkdir(exist_ok=True)
        self._seq += 1
        path = self.dir / f"{self._name}-{self._seq}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else can hold it
        self._fd, self._path = fd, path

    def seal(self) -> Sealed | None:
        """Close the current file for appends (a flush is taking its rows); new rows go to a new file."""
        if self._fd is None or self._path is None:
            return None
        sealed = Sealed(self._fd, self._path)
        self._fd = self._path = None
        return sealed

    def close(self) -> None:
        """Forget the active file (its rows were flushed): delete it and drop the lock."""
        sealed = self.seal()
        if sealed is not None:
            sealed.done()


class Sealed:
    """A journal file whose rows are being written to DuckDB; ``done()`` once they are committed."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    def done(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)


def _rows(data: bytes) -> Iterator[Row]:
    for line in data.splitlines():
        try:
            vid, rec, v, tid = orjson.loads(line)
            yield vid, Interaction.model_validate(rec), Verdict.model_validate(v), tid
        except (orjson.JSONDecodeError, ValueError):  # a line cut short by the crash: it never returned
            continue


def read_orphans(directory: Path) -> Iterator[tuple[list[Row], Sealed]]:
    """Journal files whose owner is gone (nobody holds their lock), with their rows; ``done()`` each one
    after its rows are committed."""
    if fcntl is None or not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # replayed by another process meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live process owns it
            os.close(fd)
            continue
        if not path.exists():  # deleted between our open and our lock: already replayed
            os.close(fd)
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        yield list(_rows(data)), Sealed(fd, path)
