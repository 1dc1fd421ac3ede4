"""``input_integrity``: is the record itself sane? Empty fields, length outliers, schema drift, garbage text.

Problems it finds, each with its own score (the answer's score is the worst):

- **empty / null fields** — a required field (``input``, ``output``, ``context``...) that is missing or
  blank, context passages that are empty, metadata values that are ``null`` → ``empty_score``.
- **non-text garbage** — control characters, U+FFFD replacement characters (a decoding accident),
  or very few letters in a long text (binary, base64 blobs, mojibake) → ``garbage_score``.
- **length outliers** — the input or output length far outside the reference (robust z-score of the
  log length, using the reference's median and MAD) → ``outlier_score``.
- **schema drift** — metadata keys (dotted paths) that the reference never had, or that nearly every
  reference record had and this one lacks → ``drift_score``.

The reference is either given inline (``reference: {input_chars: {median, mad}, ...}``) or computed
from a JSONL file of past interactions (``reference_path``), read lazily on first use and cached per
path for the process.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalyst.checks import Check, CheckContext
from catalyst.errors import ConfigError
from catalyst.records import CheckResult, Evidence

from ._textscan import clip

FIELDS = ("input", "output", "context", "samples", "metadata")
#: Floor of the robust spread of log length: within ~4x of the median is never an outlier at max_z=4,
#: even when the reference lengths are all alike.
_MIN_SPREAD = 0.35


class LengthStats(BaseModel):
    """Robust statistics of ``log(1 + characters)``: median and median absolute deviation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    median: float = Field(ge=0.0, description="median of log(1 + length)")
    mad: float = Field(ge=0.0, description="median absolute deviation of log(1 + length)")

    @classmethod
    def of(cls, lengths: Iterable[int]) -> LengthStats | None:
        logs = sorted(math.log1p(n) for n in lengths)
        if not logs:
            return None
        med = _median(logs)
        return cls(median=med, mad=_median(sorted(abs(x - med) for x in logs)))


class Reference(BaseModel):
    """What normal records look like (inline in the policy, or computed from ``reference_path``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_chars: LengthStats | None = Field(default=None, description="input length statistics")
    output_chars: LengthStats | None = Field(default=None, description="output length statistics")
    metadata_keys: dict[str, float] = Field(
        default_factory=dict, description="dotted metadata key → share of reference records having it"
    )
    records: int = Field(default=0, ge=0, description="how many records the reference was computed from")


def reference_from_records(records: Iterable[dict[str, Any]]) -> Reference:
    """Compute a :class:`Reference` from interaction dicts (the JSONL record contract)."""
    ins, outs, keys, n = [], [], Counter[str](), 0
    for r in records:
        n += 1
        ins.append(len(_as_text(r.get("input"))))
        outs.append(len(str(r.get("output") or "")))
        keys.update(set(_flat_keys(r.get("metadata") or {})))
    return Reference(
        input_chars=LengthStats.of(ins),
        output_chars=LengthStats.of(outs),
        metadata_keys={k: c / n for k, c in sorted(keys.items())} if n else {},
        records=n,
    )


_ref_lock = threading.Lock()
_ref_cache: dict[tuple[str, float], Reference] = {}


def load_reference(path: str | Path) -> Reference:
    """The reference of a JSONL file, computed once per (path, mtime) in this process."""
    p = Path(path)
    try:
        key = (str(p.resolve()), p.stat().st_mtime)
    except OSError as e:
        raise ConfigError(
            f"input_integrity: reference_path {str(path)!r} cannot be read ({e}); "
            "point it at a JSONL file of past interactions"
        ) from None
    with _ref_lock:
        ref = _ref_cache.get(key)
        if ref is None:

            def rows() -> Iterable[dict[str, Any]]:
                with p.open("rb") as f:
                    for i, line in enumerate(f, 1):
                        if line.strip():
                            try:
                                yield orjson.loads(line)
                            except orjson.JSONDecodeError as e:
                                raise ConfigError(f"input_integrity: {p}:{i} is not JSON ({e})") from None

            ref = reference_from_records(rows())
            _ref_cache[key] = ref
    return ref


class InputIntegrity(Check):
    """The record is well-formed: no empty fields, no garbage text, lengths and metadata keys like the reference."""

    name: ClassVar[str] = "input_integrity"
    catches: ClassVar[str] = "empty or null fields, garbage text, length outliers and metadata schema drift"
    cost: ClassVar[str] = "~0.1 ms per record (no model); a reference file is read once"

    required: list[str] = Field(
        default_factory=lambda: ["input", "output"],
        description=f"fields that must be present and non-blank; any of {', '.join(FIELDS)}",
    )
    text_fields: list[str] = Field(
        default_factory=lambda: ["input", "output"],
        description="fields checked for garbage and length outliers (input, output)",
    )
    reference: Reference | None = Field(default=None, description="inline reference statistics")
    reference_path: str | None = Field(
        default=None, description="JSONL of past interactions to compute the reference from"
    )
    max_z: float = Field(
        default=4.0, gt=0.0, description="robust z-score of log length beyond which a length is an outlier"
    )
    new_keys: bool = Field(default=True, description="flag metadata keys the reference never had")
    missing_share: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description="flag a missing metadata key that at least this share of the reference had",
    )
    min_letter_ratio: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="letters (any script) per non-space character below which a text is garbage",
    )
    min_chars_for_ratio: int = Field(default=40, ge=1, description="texts shorter than this skip the letter-ratio test")
    max_control_chars: int = Field(default=0, ge=0, description="control characters allowed (tab/newline excluded)")
    empty_score: float = Field(default=0.0, ge=0.0, le=1.0, description="score for an empty required field")
    garbage_score: float = Field(default=0.1, ge=0.0, le=1.0, description="score for garbage text")
    outlier_score: float = Field(default=0.3, ge=0.0, le=1.0, description="score for a length outlier")
    drift_score: float = Field(default=0.4, ge=0.0, le=1.0, description="score for a metadata key new or missing")
    max_chars: int = Field(default=1_000_000, ge=100, description="characters inspected per text for garbage")

    @field_validator("required")
    @classmethod
    def _fields(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in FIELDS]
        if bad:
            raise ValueError(f"unknown field(s) {bad}; use any of {list(FIELDS)}")
        return v

    @field_validator("text_fields")
    @classmethod
    def _text_fields(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in ("input", "output")]
        if bad:
            raise ValueError(f"text_fields can only hold 'input' and 'output', not {bad}")
        return v

    @field_validator("reference_path")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():  # a stat, not a read: the file is read on first use
            raise ValueError(f"reference_path {v!r} is not a file; point it at a JSONL of past interactions")
        return v

    @model_validator(mode="after")
    def _one_reference(self) -> InputIntegrity:
        if self.reference is not None and self.reference_path is not None:
            raise ValueError("give reference or reference_path, not both")
        return self

    def _reference(self) -> Reference | None:
        if self.reference_path is not None:
            return load_reference(self.reference_path)
        return self.reference

    def run(self, ctx: CheckContext) -> CheckResult:
        rec = ctx.record
        ev: list[Evidence] = []
        score = 1.0
        problems: list[str] = []

        def flag(s: float, kind: str, e: Evidence) -> None:
            nonlocal score
            score = min(score, s)
            problems.append(kind)
            ev.append(e)

        texts = {"input": ctx.input, "output": ctx.output}
        for f in self.required:
            blank = self._blank(rec, f)
            if blank:
                flag(
                    self.empty_score,
                    "empty",
                    Evidence(start=0, end=len(texts.get(f, "")), field=_ev_field(f), reason=f"{f} is {blank}"),
                )
        for i, p in enumerate(rec.context):
            if not p.strip():
                flag(
                    self.empty_score,
                    "empty",
                    Evidence(start=0, end=len(p), field="context", passage=i, reason=f"context[{i}] is empty"),
                )
        for key, val in _flat_items(rec.metadata):
            if val is None or (isinstance(val, str) and not val.strip()):
                flag(
                    self.empty_score,
                    "empty",
                    Evidence(
                        start=0, end=0, field="input", reason=f"metadata.{key} is {'null' if val is None else 'blank'}"
                    ),
                )
        for f in self.text_fields:
            self._garbage(texts[f], f, flag)
        ref = self._reference()
        if ref is not None:
            for f in self.text_fields:
                stats = ref.input_chars if f == "input" else ref.output_chars
                text = texts[f]
                if stats is not None and text:
                    z = (math.log1p(len(text)) - stats.median) / max(stats.mad * 1.4826, _MIN_SPREAD)
                    if abs(z) > self.max_z:
                        typical = round(math.expm1(stats.median))
                        flag(
                            self.outlier_score,
                            "length",
                            Evidence(
                                start=0,
                                end=len(text),
                                field=_ev_field(f),
                                reason=f"{f} is {len(text):,} characters; typical is ~{typical:,} (robust z {z:+.1f})",
                            ),
                        )
            if ref.metadata_keys:
                have = set(_flat_keys(rec.metadata))
                if self.new_keys:
                    for k in sorted(have - set(ref.metadata_keys)):
                        if not any(k.startswith(r + ".") for r in ref.metadata_keys):
                            flag(
                                self.drift_score,
                                "drift",
                                Evidence(
                                    start=0, end=0, field="input", reason=f"metadata.{k} is new (not in the reference)"
                                ),
                            )
                for k, share in sorted(ref.metadata_keys.items()):
                    if share >= self.missing_share and k not in have and not any(h.startswith(k + ".") for h in have):
                        flag(
                            self.drift_score,
                            "drift",
                            Evidence(
                                start=0,
                                end=0,
                                field="input",
                                reason=f"metadata.{k} is missing ({share:.0%} of reference records have it)",
                            ),
                        )
        return self.result(score, evidence=ev[:50], problems=sorted(set(problems)))

    @staticmethod
    def _blank(rec: Any, f: str) -> str | None:
        v = getattr(rec, f)
        if v is None:
            return "missing"
        if isinstance(v, str):
            return "blank" if not v.strip() else None
        if isinstance(v, list | dict) and not v:
            return "empty"
        if f == "input" and isinstance(v, list) and not rec.input_text.replace(":", "").strip():
            return "blank"
        return None

    def _garbage(self, text: str, f: str, flag: Any) -> None:
        text = text[: self.max_chars]
        if not text:
            return
        fld = _ev_field(f)
        ctrl = [i for i, ch in enumerate(text) if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"]
        if len(ctrl) > self.max_control_chars:
            flag(
                self.garbage_score,
                "garbage",
                Evidence(
                    start=ctrl[0],
                    end=ctrl[0] + 1,
                    field=fld,
                    reason=f"{f} has {len(ctrl)} control character(s), first {text[ctrl[0]]!r} at {ctrl[0]}",
                ),
            )
        bad = text.find("\ufffd")
        if bad >= 0:
            flag(
                self.garbage_score,
                "garbage",
                Evidence(
                    start=bad,
                    end=bad + 1,
                    field=fld,
                    reason=f"{f} has {text.count(chr(0xFFFD))} U+FFFD replacement character(s): broken decoding",
                ),
            )
        nonspace = sum(1 for ch in text if not ch.isspace())
        if nonspace >= self.min_chars_for_ratio:
            letters = sum(1 for ch in text if ch.isalpha() or unicodedata.category(ch) in ("So", "Mn", "Mc"))
            ratio = letters / nonspace
            if ratio < self.min_letter_ratio:
                flag(
                    self.garbage_score,
                    "garbage",
                    Evidence(
                        start=0,
                        end=len(text),
                        field=fld,
                        reason=f"{f} is {ratio:.0%} letters (< {self.min_letter_ratio:.0%}): {clip(text, 40)!r}",
                    ),
                )


def _ev_field(f: str) -> Any:
    return "output" if f == "output" else ("context" if f == "context" else "input")


def _median(xs: list[float]) -> float:
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _as_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in v if isinstance(m, dict))
    return str(v)


def _flat_items(d: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield from _flat_items(v, key + ".")
        else:
            yield key, v


def _flat_keys(d: dict[str, Any]) -> list[str]:
    return [k for k, _ in _flat_items(d)]
