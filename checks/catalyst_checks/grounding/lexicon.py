"""Small English word lists the lexical grounding needs to read answers as people write them.

- ``strip_frame``: the framing an answer wraps a fact in ("The answer is X.", "According to the passage, X",
  "Based on the documents, X", "Yes, X") says nothing about the passage; it is cut off before the claim is read.
- ``FRAME_WORDS``: words that talk about the sources rather than the world (answer, passage, documents...):
  never counted as unsupported content.
- ``canonical``: predicates written with a synonym or an irregular inflection ("constructed" for "built",
  "began" for "started", "won" for "wins") map to one canonical word, so rewording a verb is not inventing one.
- ``ANTONYMS``: pairs whose swap reverses a claim (increased/decreased, won/lost, before/after).

The lists are hand-written and short (common predicates of news, encyclopaedia and dialogue text); a word
outside them falls back to plain stem matching, which costs recall, never a crash. The metamorphic suite
(``tests/test_metamorphic.py``) draws its synonym and antonym edits from these same lists, so it proves the
mechanism end to end, not coverage of English: real paraphrase coverage needs an entailment model
(``catalyst_checks.entailment``).
"""

from __future__ import annotations

import re

__all__ = ["ANTONYMS", "FRAME_WORDS", "IRREGULAR", "SYNONYMS", "antonym_of", "canonical", "strip_frame"]

FRAME_WORDS = frozenset("""
answer answers passage passages document documents context contexts according based article articles text texts
source sources information provided mentioned stated states given excerpt excerpts snippet retrieved
""".split())  # noqa: SIM905 - a word list reads best as text

_SOURCE = (r"(?:the|these|this|those|my|our|your|provided|given|retrieved)\s+"
           r"(?:(?:provided|given|retrieved|above)\s+)?"
           r"(?:passages?|documents?|contexts?|texts?|articles?|sources?|information|excerpts?|snippets?)")
_FRAMES = re.compile(
    r"(?:"
    r"(?:yes|yeah|yep|sure|indeed|correct|right|well|okay|ok)\b[,.!:;]?\s+"
    r"|(?:according\s+to|based\s+on|as\s+(?:stated|mentioned|described|noted)\s+in|from|per|in)\s+" + _SOURCE
    + r"\s*[,:]?\s*"
    + r"|" + _SOURCE + r"\s+(?:says?|states?|mentions?|notes?|shows?|indicates?|explains?|reports?)\s+(?:that\s+)?"
    r"|(?:the\s+)?(?:short\s+|final\s+|correct\s+)?answer\s+(?:is|would\s+be|was)\s*:?\s+"
    r"|(?:it\s+is|it's|that\s+is|that's|this\s+is)\s+(?=(?-i:[A-Z0-9\"'“]))"
    r")",
    re.IGNORECASE,
)


def strip_frame(text: str) -> tuple[int, str]:
    """``(offset, core)``: the claim without its leading framing (repeatedly: "Yes, according to the passage, X")."""
    start = 0
    while True:
        m = _FRAMES.match(text, start)
        if not m or m.end() == start or m.end() >= len(text.rstrip(" .!?")):
            return start, text[start:]
        start = m.end()


# synonym groups: the first word is the canonical form every other one maps to
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("build", "construct", "erect"),
    ("start", "begin", "commence", "launch"),
    ("end", "finish", "conclude", "complete"),
    ("buy", "purchase", "acquire"),
    ("die", "perish"),
    ("say", "tell", "claim"),
    ("show", "display", "demonstrate", "reveal"),
    ("create", "make", "produce"),
    ("found", "establish", "set up"),
    ("help", "assist", "aid"),
    ("get", "obtain", "receive"),
    ("use", "utilize", "utilise", "employ"),
    ("big", "large", "huge", "major"),
    ("small", "little", "tiny", "minor"),
    ("fast", "quick", "rapid"),
    ("leave", "depart", "exit"),
    ("arrive", "reach"),
    ("kill", "slay"),
    ("hurt", "injure", "wound"),
    ("name", "call"),
    ("choose", "select", "pick"),
    ("try", "attempt"),
    ("need", "require"),
    ("allow", "permit", "let"),
    ("star", "feature", "appear"),
    ("write", "author"),
    ("movie", "film"),
    ("job", "position"),
    ("home", "house", "residence"),
    ("child", "kid"),
    ("award", "prize"),
        ("rich", "wealthy"),
    ("famous", "well-known", "renowned", "notable"),
    ("old", "elderly", "aged"),
)

# irregular inflections -> base form (regular ones are left to the stemmer)
IRREGULAR: dict[str, str] = {
    "built": "build", "began": "begin", "begun": "begin", "won": "win", "wins": "win", "winning": "win",
    "wrote": "write", "written": "write", "writes": "write", "writing": "write", "made": "make", "makes": "make",
    "making": "make", "took": "take", "taken": "take", "gave": "give", "given": "give", "went": "go", "gone": "go",
    "came": "come", "saw": "see", "seen": "see", "found": "found", "founded": "found", "held": "hold",
    "led": "lead", "left": "leave", "lost": "lose", "met": "meet", "paid": "pay", "ran": "run", "sold": "sell",
    "told": "tell", "thought": "think", "bought": "buy", "brought": "bring", "caught": "catch", "chose": "choose",
    "chosen": "choose", "drove": "drive", "driven": "drive", "fell": "fall", "fallen": "fall", "felt": "feel",
    "flew": "fly", "flown": "fly", "grew": "grow", "grown": "grow", "knew": "know", "known": "know",
    "rose": "rise", "risen": "rise", "sang": "sing", "sung": "sing", "spoke": "speak", "spoken": "speak",
    "stood": "stand", "struck": "strike", "taught": "teach", "threw": "throw", "thrown": "throw", "wore": "wear",
    "worn": "wear", "born": "bear", "bore": "bear", "died": "die", "dies": "die", "dying": "die", "hit": "hit",
    "became": "become", "becomes": "become", "sent": "send", "spent": "spend", "lay": "lie", "laid": "lay",
    "kept": "keep", "heard": "hear", "meant": "mean", "fought": "fight", "slew": "slay", "slain": "slay",
    "shot": "shoot", "set": "set", "beat": "beat", "beaten": "beat", "said": "say", "says": "say",
    # auxiliaries (stop words, but they sit in every n-gram: "is a film" and "was a film" are one trigram)
    "is": "be", "was": "be", "are": "be", "were": "be", "been": "be", "am": "be", "being": "be",
    "has": "have", "had": "have", "having": "have", "does": "do", "did": "do", "done": "do", "got": "get",
    "gotten": "get",
}

ANTONYMS: tuple[tuple[str, str], ...] = (
    ("increase", "decrease"), ("rise", "fall"), ("win", "lose"), ("before", "after"), ("first", "last"),
    ("larger", "smaller"), ("more", "less"), ("higher", "lower"), ("north", "south"), ("east", "west"),
    ("open", "close"), ("accept", "reject"), ("allow", "forbid"), ("male", "female"), ("early", "late"),
    ("earlier", "later"), ("older", "younger"), ("oldest", "youngest"), ("largest", "smallest"),
    ("highest", "lowest"), ("success", "failure"), ("successful", "unsuccessful"), ("legal", "illegal"),
    ("gain", "loss"), ("maximum", "minimum"), ("up", "down"), ("above", "below"), ("inside", "outside"),
    ("public", "private"), ("true", "false"), ("love", "hate"), ("like", "dislike"), ("agree", "disagree"),
    ("support", "oppose"), ("strong", "weak"), ("best", "worst"), ("better", "worse"), ("positive", "negative"),
    ("alive", "dead"), ("born", "died"), ("entered", "left"), ("arrived", "departed"), ("bought", "sold"),
    ("won", "lost"), ("increased", "decreased"), ("rose", "fell"), ("opened", "closed"), ("accepted", "rejected"),
    ("cheap", "expensive"), ("easy", "difficult"), ("happy", "sad"), ("rich", "poor"), ("same", "different"),
)

_CANON: dict[str, str] = {}
for _group in SYNONYMS:
    for _w in _group:
        _CANON.setdefault(_w, _group[0])
_ANT: dict[str, str] = {}
for _a, _b in ANTONYMS:
    _ANT.setdefault(_a, _b)
    _ANT.setdefault(_b, _a)


def canonical(word: str) -> str | None:
    """The canonical form of a lower-case word (irregular form, then synonym group), or None if none applies."""
    base = IRREGULAR.get(word, word)
    hit = _CANON.get(base)
    if hit is not None:
        return hit
    return base if base != word else None


def antonym_of(word: str) -> str | None:
    """The antonym of a lower-case word from :data:`ANTONYMS`, or None."""
    return _ANT.get(word)
