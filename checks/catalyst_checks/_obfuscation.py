"""Undo the cheap disguises of prompt attacks before they are matched: encodings, leetspeak, look-alike letters.

:func:`variants` returns the readings of a text worth scanning besides the text itself: the text with invisible
characters removed and look-alike letters (Cyrillic ``а``, Greek ``ο``...) folded to Latin, with leetspeak digits
read as letters, with spaced or dotted letters joined (``i g n o r e``, ``ign.ore``), and every base64 or hex
run that decodes to readable text. Each reading is short-circuited when it equals one already produced, so
ordinary text costs a few regex passes.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

# Cyrillic and Greek letters that look like Latin ones (the ones used to dodge keyword filters).
_CONFUSABLE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v",
    "ρ": "p", "τ": "t", "υ": "u", "Ο": "O", "Α": "A", "Ε": "E", "Ι": "I", "Κ": "K", "Ν": "N", "Ρ": "P", "Τ": "T",
})
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "l"})
# A word mixing letters with leet digits/symbols (``1gn0r3``, ``pr3v10u5``).
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$!]*[A-Za-z])(?=[\w@$!]*[013457@$])[\w@$!]{3,}")
_SPACED = re.compile(r"(?<!\w)(?:\w[ .\-_*]){2,}\w(?!\w)")
_INTRA = re.compile(r"\b[A-Za-z]+(?:[.\-_*\u00b7][A-Za-z]+)+\b")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,}(?![0-9A-Fa-f])")


# Invisible format characters used to split keywords (zero-width spaces and joiners, soft hyphen, bidi marks...)
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _readable(raw: bytes) -> str | None:
    """Decoded bytes that look like prose (letters and spaces), else None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 8:
        return None
    ok = sum(c.isalpha() or c.isspace() or c in ".,:;'!?-\"()" for c in text)
    return text if ok / len(text) >= 0.85 and " " in text else None


def decoded(text: str, *, limit: int = 20) -> list[str]:
    """Readable texts hidden in ``text`` as base64 or hex runs (at most ``limit`` runs are tried)."""
    out: list[str] = []
    for m in list(_B64.finditer(text))[:limit]:
        run = m.group(0)
        if run.isalpha() and (run.islower() or run.isupper()):
            continue  # a long word, not an encoding
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if (t := _readable(raw)) is not None:
            out.append(t)
    for m in list(_HEX.finditer(text))[:limit]:
        if (t := _readable(bytes.fromhex(m.group(0)))) is not None:
            out.append(t)
    return out


# Words of prompt attacks: a leet word whose "1"/"!" can be read as i or l is read as the one that is a word here.
_LEXICON_WORDS = (
    "ignore previous instructions instruction rules rule reveal system prompt disregard developer mode filters filter "
    "hidden forget everything told before restrictions all password jailbreak unlock unlocked evil list tell follow "
    "policy policies guidelines safety disable disabled enable enabled delete bypass override secret secrets initial "
    "original limits unfiltered unrestricted please show print your admin root debug no now free"
)
_LEXICON = frozenset(_LEXICON_WORDS.split())


def _deleet(word: str, one: str = "i") -> str:
    """``word`` with leet digits read as letters; unchanged unless that gives letters only (``R290`` stays)."""
    plain = word.translate(_LEET_I if one == "i" else _LEET_L)
    if not plain.isalpha():
        return word
    slots = [i for i, c in enumerate(word) if c in "1!"]
    if one != "i" or not slots or len(slots) > 4 or plain.lower() in _LEXICON:
        return plain
    for mask in range(1, 1 << len(slots)):
        chars = list(plain)
        for bit, i in enumerate(slots):
            if mask >> bit & 1:
                chars[i] = "l"
        if "".join(chars).lower() in _LEXICON:
            return "".join(chars)
    return plain


def _unsplit(m: re.Match[str]) -> str:
    joined = re.sub(r"[.\-_*\u00b7]", "", m.group(0))
    return joined if joined.lower() in _LEXICON else m.group(0)


def _joined(m: re.Match[str]) -> str:
    return re.sub(r"[ .\-_*]", "", m.group(0))


def _readings(piece: str) -> list[str]:
    """The de-obfuscated readings of one sentence or line (each differs from it)."""
    out: list[str] = []
    clean = _INVISIBLE.sub("", piece)
    if not clean.isascii():
        clean = unicodedata.normalize("NFKC", clean).translate(_CONFUSABLE)
    out.append(clean)
    if _LEET_WORD.search(clean):
        out.append(_LEET_WORD.sub(lambda m: _deleet(m.group(0)), clean))
        out.append(_LEET_WORD.sub(lambda m: _deleet(m.group(0), "l"), clean))
    if _SPACED.search(clean):
        # "i g n o r e   p r e v i o u s": letters one space apart form a word, wider gaps separate words
        marked = re.sub(r"(\w) {2,}(?=\w)", lambda m: m.group(1) + "\x00", clean)
        out.append(_SPACED.sub(_joined, marked).replace("\x00", " "))
    if _INTRA.search(clean):  # "Ign.ore", "instruc-tions": joined only when that makes a word of attacks
        out.append(_INTRA.sub(_unsplit, clean))
        if "_" in clean:
            out.append(clean.replace("_", " "))
    return [r for r in dict.fromkeys(out) if r != piece]


_PIECE = re.compile(r"(?<=[.!?。！？])\s+|\n")


def variants(text: str) -> list[str]:
    """Other readings of ``text`` to scan (never ``text`` itself; empty when there is nothing to undo).

    Readings are made per sentence and only the sentences a reading changes are returned (joined), so a long
    clean passage costs one pass of a few cheap regexes."""
    per_kind: dict[int, list[str]] = {}
    for piece in _PIECE.split(text):
        if not piece.strip():
            continue
        for k, r in enumerate(_readings(piece)):
            per_kind.setdefault(k, []).append(r)
    out = [" ".join(rs) for _, rs in sorted(per_kind.items())]
    seen = {text, *out}
    for hidden in decoded(text):
        if hidden not in seen:
            seen.add(hidden)
            out.append(hidden)
            out.extend(v for v in variants(hidden) if v not in seen)
    return out
