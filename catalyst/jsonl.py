"""Reading interaction records from JSONL: every bad line names its line number and the field at fault."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from catalyst.errors import RecordError
from catalyst.records import Interaction

MAX_LINE_BYTES = 16 * 1024 * 1024  # one record; larger lines are rejected, not loaded


def parse_record(data: Any, *, line: int | None = None) -> Interaction:
    """A record from a dict (or a bare string output); raises ``RecordError`` naming line and field."""
    if isinstance(data, Interaction):
        return data
    if isinstance(data, str):
        return Interaction(output=data)
    if not isinstance(data, dict):
        raise RecordError(f"a record is a JSON object with at least `output`, got {type(data).__name__}", line=line)
    if "output" not in data:
        raise RecordError("missing required field; every record needs the model's answer in `output`",
                          line=line, field="output")
    try:
        return Interaction.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            known = ", ".join(Interaction.model_fields)
            msg = f"unknown field; known fields: {known} (put your own keys under `metadata`)"
        else:
            msg = err["msg"]
        raise RecordError(msg, line=line, field=loc or None) from None


def _parse_line(raw: bytes, n: int) -> Interaction:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"not UTF-8 ({e.reason} at byte {e.start}); re-encode the file as UTF-8", line=n) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise RecordError(f"not valid JSON ({e})", line=n) from None
    if not isinstance(data, dict):
        raise RecordError(f"a record is a JSON object with at least `output`, got {type(data).__name__}", line=n)
    return parse_record(data, line=n)


@dataclass
class Rejected:
    line: int
    error: str
    raw: bytes


@dataclass
class ReadStats:
    lines: int = 0
    records: int = 0
    blank: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def read_records(source: str | Path | IO[bytes] | list[bytes], *, skip_bad: bool = False,
                 stats: ReadStats | None = None, first_line: int = 1) -> Iterator[Interaction]:
    """Yield records from a JSONL file. Bad lines raise ``RecordError``, or with ``skip_bad`` land in
    ``stats.rejected``. Blank lines are skipped. Bytes that are not UTF-8 make a bad line."""
    stats = stats if stats is not None else ReadStats()
    fh: Any
    if isinstance(source, list):
        fh, close = source, False
    elif isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise RecordError(f"input file `{path}` does not exist")
        fh = path.open("rb")
        close = True
    else:
        fh, close = source, False
    try:
        for n, raw in enumerate(fh, start=first_line):
            stats.lines = n
            if not raw.strip():
                stats.blank += 1
                continue
            try:
                if len(raw) > MAX_LINE_BYTES:
                    raise RecordError(f"line is {len(raw)} bytes, over the {MAX_LINE_BYTES} byte limit", line=n)
                try:  # fast path: pydantic parses and validates the JSON in one go
                    rec = Interaction.model_validate_json(raw)
                except ValidationError:  # slow path, for a precise message
                    rec = _parse_line(raw, n)
            except RecordError as e:
                if not skip_bad:
                    raise
                stats.rejected.append(Rejected(line=n, error=str(e), raw=raw))
                continue
            stats.records += 1
            yield rec
    finally:
        if close:
            fh.close()
