"""Turning untrusted text (answers, questions, passages, reasons) into safe HTML.

Rule: escape first, mark second. Text is split at span offsets *of the original string*, every piece is
escaped on its own, and only then wrapped in ``<mark>`` elements whose attributes come from the escaped
reason. Invisible or direction-changing characters (C0/C1 controls, bidi overrides and isolates, zero-width
characters, BOM, line/paragraph separators) are shown as a visible ``⟨U+202E⟩`` tag with its name as a
tooltip, so a right-to-left override can neither hide nor reorder what the reviewer reads.
Very long text is cut for display (the page says so and links the full text as a download).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

#: characters shown as a visible tag instead of being rendered. \t and \n are kept (pre-wrap layout).
_CTRL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"   # C0 (but tab, LF), DEL, C1
    "\r"                                      # a bare CR (CRLF is handled below)
    "\u061c\u200b-\u200f\u2028-\u202e"        # ALM, zero-width, LRM/RLM, LS/PS, embeddings/overrides
    "\u2060-\u2064\u2066-\u2069\ufeff"        # word joiner & invisible operators, isolates, BOM
    "\ufff9-\ufffb]")                         # interlinear annotation
_NAMES = {0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
          0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE"}

DISPLAY_LIMIT = 20_000  #: characters of an answer shown inline; the rest is in the download
PASSAGE_LIMIT = 5_000   #: characters of one context passage or the question shown inline


def _tag(ch: str) -> str:
    cp = ord(ch)
    name = _NAMES.get(cp) or unicodedata.name(ch, "CONTROL CHARACTER")
    return f'<span class="cc" title="{name}">⟨U+{cp:04X}⟩</span>'


def visible(text: str) -> Markup:
    """Escape ``text`` and replace invisible/bidi characters with visible tags."""
    esc = str(escape(text)).replace("\r\n", "\n")
    return Markup(_CTRL_RE.sub(lambda m: _tag(m.group()), esc))


@dataclass(frozen=True)
class Span:
    """A highlighted range ``[start, end)`` of the original text, with a CSS class and a reason."""

    start: int
    end: int
    kind: str  # "doubt" | "support" | "flag"
    reason: str = ""


@dataclass(frozen=True)
class Rendered:
    html: Markup
    shown: int       # characters shown
    total: int       # characters in the text
    spans_hidden: int  # spans that start beyond the shown part

    @property
    def truncated(self) -> bool:
        return self.shown < self.total


_KIND_ORDER = {"doubt": 0, "flag": 1, "support": 2}


def highlight(text: str, spans: Iterable[Span], *, limit: int = DISPLAY_LIMIT) -> Rendered:
    """Escape ``text`` and wrap each span in ``<mark class="KIND" title="REASON">``.

    Overlapping spans are merged per piece: the text is cut at every span boundary and each piece is
    marked with the strongest kind that covers it and the reasons of all spans covering it. Spans outside
    the text are clipped; spans of zero length are ignored.
    """
    total = len(text)
    shown = min(total, max(0, limit))
    spans = [s for s in spans if s.end > s.start]
    hidden = sum(1 for s in spans if s.start >= shown)
    clipped = [Span(max(0, s.start), min(s.end, shown), s.kind, s.reason) for s in spans
               if s.start < shown and s.end > 0]
    cuts = sorted({0, shown, *(s.start for s in clipped), *(s.end for s in clipped)})
    out: list[str] = []
    for a, b in itertools.pairwise(cuts):
        piece = visible(text[a:b])
        cover = [s for s in clipped if s.start <= a and s.end >= b]
        if not cover:
            out.append(piece)
            continue
        kind = min((s.kind for s in cover), key=lambda k: _KIND_ORDER.get(k, 9))
        reasons = _dedupe(s.reason for s in cover if s.reason)
        title = escape(" · ".join(reasons)[:500])
        out.append(f'<mark class="{kind}" title="{title}">{piece}</mark>')
    return Rendered(Markup("".join(out)), shown, total, hidden)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for it in items:
        seen.setdefault(it, None)
    return list(seen)


def clip(text: str, limit: int = PASSAGE_LIMIT) -> Rendered:
    """Escape and cut plain text (no spans)."""
    return highlight(text, (), limit=limit)


def has_hidden_chars(text: str) -> bool:
    """True when the text holds characters that :func:`visible` turns into tags (worth a warning)."""
    return _CTRL_RE.search(text.replace("\r\n", "\n")) is not None


def plain_reason(text: object, limit: int = 300) -> str:
    """A check's reason as a short string (escaped later by the template)."""
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"
