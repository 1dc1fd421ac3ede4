"""Paths the user gives the CLI, checked before any work starts: each problem is one UserError with the fix.

Validating 200,000 records and then failing to write the log is the worst order; commands call these first.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from catalyst.errors import ConfigError, RecordError, StoreLockedError

__all__ = ["db_for_read", "db_for_write", "input_file", "lock_holder", "locked", "probe_lock", "writable_file"]


def input_file(path: Path, what: str = "input file") -> Path:
    """An existing, readable regular file."""
    if not path.exists():
        raise RecordError(f"{what} `{path}` does not exist; check the path")
    if path.is_dir():
        raise RecordError(f"{what} `{path}` is a directory; give a file inside it (e.g. `{path / 'answers.jsonl'}`)")
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise RecordError(f"cannot read {what} `{path}`: {e.strerror}; check its permissions") from None
    return path


def _why(e: OSError, path: Path) -> str:
    if e.errno == errno.EPERM:
        return f"{e.strerror} (is it immutable? see `lsattr {path}`; `chattr -i` lifts it)"
    return e.strerror or str(e)


def writable_file(path: Path, option: str) -> Path:
    """A file this process may create or overwrite (``--out``, ``--write``), checked without changing it."""
    if path.is_dir():
        raise ConfigError(f"{option} `{path}` is a directory; give a file path (e.g. `{path / 'out.jsonl'}`)")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} `{path}`: folder `{parent}` does not exist; create it (`mkdir -p {parent}`) "
                          f"or pick another path")
    try:
        if path.exists():
            with path.open("r+b"):
                pass
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            path.unlink()
    except OSError as e:
        raise ConfigError(f"{option} `{path}` cannot be written: {_why(e, path)}; pick a writable path") from None
    return path


def db_for_write(db: str) -> str:
    """The DuckDB log's path for a command that writes it: folder exists, the file (or folder) is writable."""
    if db == ":memory:":
        return db
    path = Path(db)
    if path.is_dir():
        raise ConfigError(f"--db `{db}` is a directory; give a file path (e.g. `{path / 'catalyst.duckdb'}`)")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"--db `{db}`: folder `{parent}` does not exist; create it (`mkdir -p {parent}`) or "
                          "pick another --db")
    try:
        if path.exists():
            with path.open("r+b"):
                pass
        else:  # DuckDB writes the file and a `.wal` beside it
            probe = parent / f".{path.name}.catalyst-probe"
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.close(fd)
            probe.unlink()
    except OSError as e:
        raise ConfigError(f"--db `{db}` cannot be written: {_why(e, path)}; pick a writable path for the log") \
            from None
    return db


def db_for_read(db: str) -> str:
    """An existing DuckDB log for a command that only reads it."""
    path = Path(db)
    if path.is_dir():
        raise ConfigError(f"--db `{db}` is a directory; give the log file (e.g. `{path / 'catalyst.duckdb'}`)")
    if not path.exists():
        raise ConfigError(f"no Catalyst log at `{db}`; pass the --db that `catalyst validate` wrote, or create one "
                          "with `catalyst demo`")
    return db


_PID = re.compile(r"\(PID (\d+)\)")


def lock_holder(message: str) -> str | None:
    """``PID 1234 (catalyst review --web --db x)`` from DuckDB's lock error, when the process is visible."""
    m = _PID.search(message)
    if m is None:
        return None
    pid = m.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if len(args) >= 2 and Path(args[0]).name.startswith("python"):
        if args[1] == "-m":
            args = args[2:]
        elif Path(args[1]).name == "catalyst":
            args = ["catalyst", *args[2:]]
    text = " ".join(args)
    return f"PID {pid} ({text[:160]})" if text else f"PID {pid}"


def probe_lock(db: str) -> str | None:
    """Who holds ``db`` read-write right now (``PID n (command)``), or None when nobody does."""
    import duckdb

    try:
        duckdb.connect(db, read_only=True).close()
    except duckdb.Error as e:
        if "lock" in str(e).lower():
            return lock_holder(str(e)) or "another process"
    return None


def locked(db: str, *, reading: bool) -> StoreLockedError:
    """The error for a log another process holds, naming that process when it can be seen."""
    holder = probe_lock(db) or "another process"
    doing = "read" if reading else "write"
    return StoreLockedError(
        f"the log `{db}` is held read-write by {holder}; DuckDB lets no other process {doing} it meanwhile. Stop "
        "that process (or wait until it ends) and rerun, or go through it (the web reviewer and `catalyst serve` "
        "own the file while they run)")
