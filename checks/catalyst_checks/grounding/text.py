"""Text units for grounding: sentences and claims with character offsets, and the word-level signals
(content-word stems, bigrams, numbers, capitalised names, negations) compared against the context.

Everything here is regex-based and linear in the text: it is the hot path (~1 ms for a 600-character
answer and five 500-character passages). Works on any script; English stop words and number words
are the only language-specific parts, so other languages get plain content-word matching.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from catalyst_checks.grounding.lexicon import FRAME_WORDS, canonical

__all__ = [
    "Span", "TextUnit", "analyse", "claims", "digit_numbers", "entity_mentions", "number_mentions",
    "sentence_initial", "sentences", "windows",
]

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd", "co", "corp", "no",
    "fig", "e.g", "i.e", "u.s", "u.k", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "rev", "approx", "dept", "est", "al",
}
# candidate sentence ends: terminal punctuation (+ closing quotes/brackets) then space, CJK full stops, newlines
# (also "roles.Neha Sharma" / "City.101 Park": sentences glued without a space, as scraped knowledge often is)
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|(?<=[a-z)\]])\.(?=[A-Z0-9])|[。！？]+[」』）]*|\n\s*\n|\n")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# digit-written numbers; also as tokenised corpora write them ("235, 000", "98. 7 per cent")
_NUM = re.compile(r"(?<![\w.])[-+]?\d+(?:(?:[.,:/]|,\s(?=\d{3}(?!\d))|\.\s(?=\d+\s?(?:per\b|%)))\d+)*"
                  r"(?:st|nd|rd|th|s)?(?![\w])")
_CLAUSE = re.compile(r";\s+|,\s+(?:and|but|while|whereas|although|though|which|who)\s+|\s+(?:but|however)\s+")

STOP = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
either else ever few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its
itself just let's like may me might more most much must mustn't my myself neither nor not now of off on once
one only or other ought our ours ourselves out over own per quite rather really same shall shan't she she'd
she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those though through thus to too under until up upon
us very was wasn't we we'd we'll we're we've well were weren't what what's when when's where where's whether
which while who who's whom whose why why's will with within without won't would wouldn't yes yet you you'd
you'll you're you've your yours yourself yourselves yeah oh ok okay sure think know get got go going really
also actually just lot lots thing things something anything everything im dont didnt doesnt isnt
""".split())  # noqa: SIM905 - a word list reads best as text
NEGATIONS = frozenset([
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "n't", "cannot", "isn't", "wasn't",
    "aren't", "weren't", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "couldn't", "shouldn't",
    "hasn't", "haven't", "hadn't",
])
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000", "million": "1000000",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5",
}
_SUFFIXES = ("ingly", "edly", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a text: ``text[start:end]``."""

    start: int
    end: int
    text: str


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude, fast stem: lower case, a common suffix off, at most 7 characters (publish/published/publishing);
    irregular forms and listed synonyms map to one canonical word first (built/constructed -> build)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    c = canonical(w)
    if c is not None:
        return _strip(c)[:7]
    s = _strip(w)
    if s != w:  # a regular inflection of a listed word: "purchased" -> "purchas(e)" -> "buy"
        c = canonical(s) or canonical(s + "e")
        if c is not None:
            return _strip(c)[:7]
    return s[:7]


def _strip(w: str) -> str:
    for suf in _SUFFIXES:
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Split ``text`` into sentences with offsets (abbreviations and initials do not end a sentence)."""
    out: list[Span] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        if m.group(0)[0] == ".":
            before = text[start:m.start()].rsplit(None, 1)
            last = before[-1].lower().strip("(\"'") if before else ""
            if last in _ABBREV or (len(last) == 1 and last.isalpha()) or re.fullmatch(r"(?:\w\.)+\w", last):
                continue
            nxt = text[end:end + 3].lstrip()
            if nxt and nxt[0].islower():  # "approx. five" / "p.m. on"
                continue
        _push(out, text, start, end, offset)
        start = end
    _push(out, text, start, len(text), offset)
    return out


def _push(out: list[Span], text: str, start: int, end: int, offset: int) -> None:
    seg = text[start:end]
    stripped = seg.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return
    lead = len(seg) - len(seg.lstrip())
    s = start + lead
    out.append(Span(s + offset, s + len(stripped) + offset, stripped))


def claims(text: str, *, max_chars: int = 220) -> list[Span]:
    """Sentences, with long ones cut into clauses (``;``, ``, and``, ``but``...) so one claim is one fact."""
    out: list[Span] = []
    for s in sentences(text):
        if len(s.text) <= max_chars:
            out.append(s)
            continue
        pos = 0
        for m in _CLAUSE.finditer(s.text):
            if m.start() - pos >= 40:  # never split off tiny fragments
                _push(out, s.text, pos, m.start(), s.start)
                pos = m.start() if m.group(0).strip(" ;,") else m.end()
        _push(out, s.text, pos, len(s.text), s.start)
    return out


def windows(span: Span, max_chars: int = 600, overlap: int = 100) -> list[Span]:
    """Cut an over-long context sentence into overlapping windows the embedding model sees whole."""
    if len(span.text) <= max_chars:
        return [span]
    out: list[Span] = []
    step = max_chars - overlap
    for s in range(0, len(span.text), step):
        piece = span.text[s:s + max_chars]
        out.append(Span(span.start + s, span.start + s + len(piece), piece))
        if s + max_chars >= len(span.text):
            break
    return out


@dataclass(slots=True)
class TextUnit:
    """The word-level view of one piece of text that the lexical features compare."""

    content: list[str]          # content-word stems, in order (duplicates kept)
    tokens: list[str]           # every word stem, in order
    bigrams: set[tuple[str, str]]
    trigrams: set[tuple[str, str, str]]
    numbers: set[str]
    names: set[str]             # capitalised words not at the start of a sentence, lower-cased stems
    negated: bool


def _norm_number(tok: str) -> str:
    t = tok.lower().lstrip("+")
    for suf in ("st", "nd", "rd", "th"):
        if t.endswith(suf) and t[:-2].replace(",", "").isdigit():
            t = t[:-2]
    if t.endswith("s") and t[:-1].isdigit():  # 1990s
        t = t[:-1]
    return t.replace(",", "").replace(" ", "")


def digit_numbers(text: str) -> set[str]:
    """Numbers written with digits (normalised: ``1,200`` -> ``1200``, ``3rd`` -> ``3``); number words excluded."""
    return {_norm_number(m.group(0)) for m in _NUM.finditer(text)}


def number_mentions(text: str) -> list[tuple[str, str]]:
    """``(as written, normalised)`` for every digit-written number of ``text``, in order."""
    return [(m.group(0), _norm_number(m.group(0))) for m in _NUM.finditer(text)]


def analyse(text: str) -> TextUnit:
    """Content words, n-grams, numbers, names and negation of ``text``."""
    words = [(m.group(0), m.start()) for m in _WORD.finditer(text)]
    tokens: list[str] = []
    content: list[str] = []
    names: set[str] = set()
    negated = False
    for w, pos in words:
        low = w.lower().replace("’", "'")
        st = stem(w)
        tokens.append(st)
        if low in NEGATIONS or low.endswith("n't"):
            negated = True
        if low not in STOP and low not in FRAME_WORDS and not low.isdigit() and low not in _NUMBER_WORDS:
            content.append(st)
        # a name: capitalised, not sentence-initial, not a stop word
        if w[0].isupper() and low not in STOP and not _sentence_initial(text, pos):
            names.add(st)
    numbers = {_norm_number(m.group(0)) for m in _NUM.finditer(text)}
    numbers |= {_NUMBER_WORDS[w.lower()] for w, _ in words if w.lower() in _NUMBER_WORDS}
    bigrams = set(itertools.pairwise(tokens))
    trigrams = {(a, b, c) for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)}
    return TextUnit(content, tokens, bigrams, trigrams, numbers, names, negated)


def _sentence_initial(text: str, pos: int) -> bool:
    """Does the word at ``pos`` start a sentence? (``Mr. Nobody``, ``J. K. Rowling``: the name goes on.)"""
    j = pos - 1
    while j >= 0 and text[j] in " \t\"'“(‘":
        j -= 1
    if j < 0 or text[j] in "!?:\n":
        return True
    if text[j] != ".":
        return False
    before = text[max(0, j - 12):j].rsplit(None, 1)
    last = before[-1].lower().lstrip("(\"'") if before else ""
    last = re.split(r"[^\w.]", last)[-1]
    return not (last in _ABBREV or (len(last) == 1 and last.isalpha()) or re.fullmatch(r"(?:\w\.)+\w", last))


sentence_initial = _sentence_initial

_BREAK = re.compile(r"[,;!?()\[\]\"“”:\n]")
_CONNECT = frozenset(["of", "the", "and", "a", "an", "to", "in", "on", "for", "de", "von", "van", "la", "le"])


def entity_mentions(text: str) -> list[tuple[str, ...]]:
    """Named things of ``text`` as runs of capitalised words (``Tom Hanks``, ``The Lion King``, ``Welcome to the
    Future``), each as the stems of its content words; a lone capitalised word that starts a sentence is left out
    (``Absolutely``, ``Great``). Regex-only: titles written in lower case are missed, which costs recall only.
    """
    out: list[tuple[str, ...]] = []
    run: list[tuple[str, bool]] = []

    def flush() -> None:
        while run and run[-1][0].lower() in _CONNECT:
            run.pop()
        words = [w for w, _ in run if w.lower() not in STOP and w.lower() not in _CONNECT]
        if words and not (len(run) == 1 and run[0][1]):
            out.append(tuple(stem(w) for w in words))
        run.clear()

    prev_end = 0
    for m in _WORD.finditer(text):
        w = m.group(0)
        if run and _BREAK.search(text, prev_end, m.start()):
            flush()
        prev_end = m.end()
        if w[0].isupper() and w != "I" and not w.isdigit():
            initial = _sentence_initial(text, m.start())
            if initial and run:
                flush()
            run.append((w, initial and not run))
        elif run and w.lower() in _CONNECT:
            run.append((w, False))
        elif run:
            flush()
    if run:
        flush()
    return out
