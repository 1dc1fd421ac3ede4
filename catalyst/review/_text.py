"""Reviewer-supplied text: validated before it touches the queue; model text made visible for display.

Corrected answers, reasons, tags and reviewer names come from people through a terminal or a browser.
They are checked here, once, for size and for characters that hide or reorder text (C0/C1 controls,
bidirectional overrides such as U+202E), so every front end gives the same clear error.
"""

from __future__ import annotations

import re
import unicodedata

from catalyst.errors import InvalidTextError as InvalidTextError  # re-exported: the tree lives in catalyst.errors
from catalyst.errors import ReviewError as ReviewError

#: characters that reorder or hide text: bidi embeddings/overrides/isolates, zero-width joiners, BOM
BIDI_AND_INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
                               "\u061c\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
                               "\u2028\u2029\ufff9\ufffa\ufffb")
ALLOWED_CONTROLS = frozenset("\n\t")
#: a corrected answer may be this long (characters); larger is almost certainly a paste mistake
MAX_OUTPUT_CHARS = 100_000
MAX_REASON_CHARS = 2_000
MAX_TAGS = 20
REVIEWER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,39}$")


def _bad_char(text: str) -> tuple[int, str] | None:
    for i, ch in enumerate(text):
        if ch in ALLOWED_CONTROLS:
            continue
        if ch in BIDI_AND_INVISIBLE or unicodedata.category(ch) in ("Cc", "Cs", "Co"):
            return i, ch
    return None


def check_text(text: str, what: str, *, max_chars: int, allow_newlines: bool = True) -> str:
    """Return ``text`` (CRLF normalised) if it is storable, else raise naming the problem and the fix."""
    if not isinstance(text, str):
        raise InvalidTextError(f"{what} must be text, got {type(text).__name__}")
    text = text.replace("\r\n", "\n")
    if len(text) > max_chars:
        raise InvalidTextError(f"{what} is {len(text):,} characters; the limit is {max_chars:,}. "
                               "Shorten it (store long documents elsewhere and link them)")
    bad = _bad_char(text)
    if bad is None and not allow_newlines and ("\n" in text or "\t" in text):
        bad = (text.index("\n") if "\n" in text else text.index("\t"), "\n")
    if bad is not None:
        i, ch = bad
        name = unicodedata.name(ch, "control character")
        raise InvalidTextError(f"{what} contains U+{ord(ch):04X} ({name}) at position {i}; control and "
                               "text-direction characters can hide or reorder what others read. Remove it")
    return text


def check_reviewer(name: str) -> str:
    if not isinstance(name, str) or not REVIEWER_RE.match(name):
        raise InvalidTextError(f"reviewer name {name!r} is not valid; use 1-64 letters, digits, `_ . @ -`, "
                               "starting with a letter or digit")
    return name


def check_tags(tags: object) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):  # type: ignore[attr-defined]
        raise InvalidTextError("tags must be a list of strings, like ['wrong-date', 'source:kb']")
    out = list(dict.fromkeys(tags))  # type: ignore[call-overload]
    if len(out) > MAX_TAGS:
        raise InvalidTextError(f"{len(out)} tags given; at most {MAX_TAGS}")
    for t in out:
        if not TAG_RE.match(t):
            raise InvalidTextError(f"tag {t!r} is not valid; use 1-40 letters, digits, `_ . : -`")
    return out


def visible(text: str) -> str:
    """Model text for display: hidden and reordering characters shown as ``\\u202e``-style escapes.

    The result is still untrusted (HTML front ends must escape it); this only makes sure a reviewer
    sees every character the model produced, in the order it is stored.
    """
    if _bad_char(text) is None:
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if ch not in ALLOWED_CONTROLS and (
            ch in BIDI_AND_INVISIBLE or unicodedata.category(ch) in ("Cc", "Cs", "Co")) else ch
        for ch in text)
