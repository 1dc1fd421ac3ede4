"""Small text helpers shared by the local checks: bounded scanning and sentence spans.

Every check that scans free text caps the work it does on one answer (``max_chars``), so a 1 MB
answer costs a bounded, predictable time instead of hanging the batch. What was left unscanned is
said in the evidence, and the score is scaled by the share that was scanned: a clean first 100 kB
of a 1 MB answer is not evidence that the whole answer is clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from catalyst.records import Evidence

#: Default characters scanned per answer by the pattern-based checks (documented in docs/checks.md).
DEFAULT_MAX_CHARS = 200_000

# A sentence ends at . ! ? … or CJK full stops followed by space/end, or at a blank line / newline.
_SENT_END = re.compile(r"(?<=[.!?…。！？])[\"')\]]*\s+|\n+")


@dataclass(frozen=True, slots=True)
class Scan:
    """The part of a text a check looks at: ``text[:limit]`` and what it left out."""

    text: str
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.text)

    @property
    def share(self) -> float:
        """Fraction of the characters scanned (1.0 when nothing was cut)."""
        return 1.0 if self.total == 0 else len(self.text) / self.total

    def evidence(self, field: Literal["output", "input", "context"] = "output") -> list[Evidence]:
        """One evidence span on the unscanned tail, or nothing when the whole text was scanned."""
        if not self.truncated:
            return []
        return [
            Evidence(
                start=len(self.text),
                end=self.total,
                field=field,
                reason=(
                    f"not scanned: only the first {len(self.text):,} of {self.total:,} characters "
                    "are checked (raise max_chars to scan more)"
                ),
            )
        ]

    def scale(self, score: float) -> float:
        """The score on the scanned part, scaled by the share scanned."""
        return score * self.share


def bounded(text: str | None, max_chars: int) -> Scan:
    """The first ``max_chars`` characters of ``text`` (``None`` is empty)."""
    text = text or ""
    return Scan(text=text[:max_chars], total=len(text))


def sentences(text: str, *, max_sentences: int | None = None, min_chars: int = 2) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (stripped, non-trivial ones only).

    Splits on sentence punctuation followed by white space and on line breaks, which suits chat
    answers, bullet lists and code alike. Spans index into ``text`` so evidence can point at them.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        _add(text, pos, m.start(), spans, min_chars)
        pos = m.end()
        if max_sentences is not None and len(spans) >= max_sentences:
            return spans
    _add(text, pos, len(text), spans, min_chars)
    return spans[:max_sentences] if max_sentences is not None else spans


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]], min_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= min_chars and any(ch.isalnum() for ch in text[start:end]):
        spans.append((start, end))


def clip(text: str, n: int = 80) -> str:
    """``text`` shortened to ``n`` characters for a reason string."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
