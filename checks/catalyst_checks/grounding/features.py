"""Support signals of one claim against the context, as a fixed feature vector the head combines.

Every feature is a *share* or a flag in [0, 1], oriented so that higher = less supported. None of them
measures length or style (HaluEval's faithful answers are short copied spans and its hallucinated ones
are long ChatGPT prose: a head given length learns the dataset, not grounding — see DESIGN.md).

- lexical (~1 ms): content words, bigrams, trigrams, numbers and capitalised names of the claim that the
  context does not contain; content words missing from the single best-matching context sentence; a negation
  present on one side only; named things (runs of capitalised words: people, titles, places) the context does
  not contain, wholly or in part, and the *swap* pattern: a named thing the context lacks in a claim whose other
  words the context does contain ("RDJ starred in Zodiac with Tom Hanks").
- With ``use_input`` (the default) the numbers, names and named things the user's input mentions (the question,
  or the conversation so far) count as given: repeating them is not inventing them. The input's other words do
  not count as support (a restated question is not evidence), which measured better on HaluEval QA than
  indexing the whole input as one more passage and no worse on dialogue.
- embedding (``full`` mode): 1 - the best cosine between the claim and a context sentence, and the content
  words missing from that nearest sentence. Only the top-k lexical candidates per claim are embedded, so a
  context of thousands of passages costs bounded model work; passage sentences are cached by content hash.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from catalyst_checks.grounding.lexicon import ANTONYMS, strip_frame
from catalyst_checks.grounding.text import (
    NEGATIONS,
    STOP,
    Span,
    TextUnit,
    analyse,
    claims,
    entity_mentions,
    sentences,
    stem,
    windows,
)

__all__ = [
    "EMB_FEATURES", "LEX_FEATURES", "Claim", "ContextIndex", "aggregate", "analyse_answer", "context_index",
    "embed_features", "truecase",
]

LEX_FEATURES = [
    "unsup_words",        # content words absent from the context
    "novel_bigrams",      # word bigrams absent from the context
    "novel_trigrams",     # word trigrams absent from the context
    "missing_numbers",    # numbers / dates absent from the context
    "missing_names",      # capitalised names absent from the context
    "best_sent_unsup",    # content words absent from the best lexical match sentence
    "negation_mismatch",  # negation on one side only (claim vs best sentence)
    "missing_entities",   # named things (capitalised runs) with a word the context lacks
    "entity_absent",      # flag: a named thing none of whose words the context has
    "entity_swap",        # flag: a missing named thing in a claim whose other content words are mostly supported
    "key_off_window",     # numbers and names of the claim absent from its best sentence (+-1): who/what swapped
    "order_inversion",    # discordant pairs of shared words vs the best sentence: subject and object swapped
    "antonym",            # flag: a word whose antonym, not the word, is in the best sentence (+-1)
]
EMB_FEATURES = [
    "emb_dissim",         # 1 - best cosine to a context sentence
    "emb_best_unsup",     # content words absent from the nearest (by embedding) context sentence
]
_STOP_STEMS = frozenset(stem(w) for w in STOP)
_ANT_STEMS: dict[str, str] = {}
for _a, _b in ANTONYMS:
    _ANT_STEMS.setdefault(stem(_a), stem(_b))
    _ANT_STEMS.setdefault(stem(_b), stem(_a))
_NEG_STEMS = frozenset(stem(w) for w in NEGATIONS)
_DO = frozenset(["do", "did", "does"])
_JOINERS = frozenset(["and", "of", "the", "de", "von", "van"])
_CAPWORD = re.compile(r"\w+(?:['’]\w+)*")
#: a key word of a claim (a name) weighs this much of its idf when picking the claim's best sentence, so the
#: predicate, not a swapped-in name, decides which sentence the claim is about
_KEY_WEIGHT = 0.35


@dataclass(slots=True)
class _Sentence:
    passage: int
    span: Span        # offsets into the passage
    unit: TextUnit


@dataclass(slots=True)
class _PassageInfo:
    sentences: list[tuple[Span, TextUnit]]
    vocab: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    trigrams: frozenset[tuple[str, str, str]]
    numbers: frozenset[str]
    caps: dict[str, str]          # lower-case word -> its capitalised form, for words capitalised mid-sentence


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[bytes, object] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes) -> object | None:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: bytes, value: object) -> None:
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)


_passages = _LRU(8192)
_contexts = _LRU(256)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _passage_info(text: str, key: bytes) -> _PassageInfo:
    hit = _passages.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]
    sents = [(w, analyse(w.text)) for s in sentences(text) for w in windows(s)]
    whole = analyse(text)
    caps = {}
    if whole.names:  # the words analyse() found capitalised mid-sentence, in their written form
        for w in _CAPWORD.findall(text):
            if w[0].isupper() and (not w.isupper() or len(w) <= 6) and stem(w) in whole.names:
                caps.setdefault(w.lower(), w)
    info = _PassageInfo(sents, frozenset(whole.tokens), frozenset(whole.bigrams), frozenset(whole.trigrams),
                        frozenset(whole.numbers), caps)
    _passages.put(key, info)
    return info


@dataclass(slots=True)
class ContextIndex:
    """Every context passage, split into sentences, with the union vocabulary and an inverted index."""

    sentences: list[_Sentence]
    vocab: set[str]
    bigrams: set[tuple[str, str]]
    trigrams: set[tuple[str, str, str]]
    numbers: set[str]
    postings: dict[str, list[int]]
    idf: dict[str, float] = field(default_factory=dict)
    caps: dict[str, str] = field(default_factory=dict)
    name_stems: set[str] = field(default_factory=set)

    def candidates(self, unit: TextUnit, k: int, keys: set[str] | frozenset[str] = frozenset()) -> list[int]:
        """The ``k`` context sentences sharing the most (idf-weighted) content words with a claim (``keys``, the
        claim's names, weigh less: the predicate decides which sentence a claim is about)."""
        scores: Counter[int] = Counter()
        for w in set(unit.content):
            ids = self.postings.get(w)
            if ids:
                wt = self.idf[w] * (_KEY_WEIGHT if w in keys else 1.0)
                for i in ids:
                    scores[i] += wt
        return [i for i, _ in scores.most_common(k)]

    def window(self, i: int) -> tuple[set[str], set[str]]:
        """Word stems and numbers of sentence ``i`` and its neighbours in the same passage."""
        s = self.sentences[i]
        tokens, numbers = set(s.unit.tokens), set(s.unit.numbers)
        for j in (i - 1, i + 1):
            if 0 <= j < len(self.sentences) and self.sentences[j].passage == s.passage:
                tokens.update(self.sentences[j].unit.tokens)
                numbers.update(self.sentences[j].unit.numbers)
        return tokens, numbers


def context_index(passages: Sequence[str]) -> ContextIndex:
    """Index the context (cached by the passages' content hashes: RAG contexts repeat)."""
    keys = [_key(p) for p in passages]
    ckey = hashlib.blake2b(b"".join(keys), digest_size=16).digest()
    hit = _contexts.get(ckey)
    if hit is not None:
        return hit  # type: ignore[return-value]
    sents: list[_Sentence] = []
    vocab: set[str] = set()
    bigrams: set[tuple[str, str]] = set()
    trigrams: set[tuple[str, str, str]] = set()
    numbers: set[str] = set()
    postings: dict[str, list[int]] = {}
    caps: dict[str, str] = {}
    for p, (text, key) in enumerate(zip(passages, keys, strict=True)):
        info = _passage_info(text, key)
        for low, surface in info.caps.items():
            caps.setdefault(low, surface)
        vocab |= info.vocab
        bigrams |= info.bigrams
        trigrams |= info.trigrams
        numbers |= info.numbers
        for span, unit in info.sentences:
            idx = len(sents)
            sents.append(_Sentence(p, span, unit))
            for w in set(unit.content):
                postings.setdefault(w, []).append(idx)
    n = max(1, len(sents))
    idf = {w: math.log(1 + n / len(ids)) for w, ids in postings.items()}
    index = ContextIndex(sents, vocab, bigrams, trigrams, numbers, postings, idf, caps,
                         {stem(w) for w in caps if w not in STOP})
    _contexts.put(ckey, index)
    return index


@dataclass(slots=True)
class Claim:
    """One claim of the answer with its features and its best supporting context sentence."""

    span: Span
    unit: TextUnit
    lex: np.ndarray
    candidates: list[int]
    best: int | None            # index into ContextIndex.sentences (lexical, then embedding when computed)
    emb: np.ndarray | None = None
    sim: float | None = None
    relation: str | None = None  # why the claim contradicts the sentence it restates (swapped roles, negation...)

    @property
    def weight(self) -> float:
        return float(max(1, len(self.unit.content)))


def _share_missing(items: Sequence[object] | set, present: set | frozenset) -> float:  # type: ignore[type-arg]
    if not items:
        return 0.0
    return sum(1 for x in items if x not in present) / len(items)


def _entities(text: str, unit: TextUnit, vocab: set[str]) -> tuple[float, float, float]:
    """(share of named things not wholly in the context, any named thing wholly absent, swap pattern)."""
    mentions = entity_mentions(text)
    if not mentions:
        return 0.0, 0.0, 0.0
    missing = [m for m in mentions if any(w not in vocab for w in m)]
    absent = any(all(w not in vocab for w in m) for m in missing)
    in_names = {w for m in mentions for w in m}
    rest = [w for w in unit.content if w not in in_names]
    rest_supported = sum(1 for w in rest if w in vocab) / len(rest) if rest else 1.0
    return len(missing) / len(mentions), float(absent), float(bool(missing) and rest_supported >= 0.5)


def _inversions(claim: list[str], sent: list[str]) -> float:
    """Share of discordant pairs among the words a claim shares with its best sentence (each once in both)."""
    cc, sc = Counter(claim), Counter(sent)
    pos = {w: i for i, w in enumerate(sent) if sc[w] == 1}
    seq = [pos[w] for w in claim if cc[w] == 1 and w in pos]
    n = len(seq)
    if n < 2:
        return 0.0
    bad = sum(1 for i in range(n) for j in range(i + 1, n) if seq[i] > seq[j])
    return bad / (n * (n - 1) / 2)


def _lexical(text: str, unit: TextUnit, index: ContextIndex, given: set[str], k: int,
             ) -> tuple[np.ndarray, list[int], str | None]:
    content = unit.content
    keys = {t for t in content if t in index.name_stems or t in unit.names}
    cand = index.candidates(unit, k, keys)
    best = index.sentences[cand[0]].unit if cand else None
    bigrams = [b for b in unit.bigrams if not (b[0] in _STOP_STEMS and b[1] in _STOP_STEMS)]
    best_tokens = set(best.tokens) if best else set()
    if cand:
        win_tokens, win_numbers = index.window(cand[0])
        nkeys = len(keys) + len(unit.numbers)
        off = (sum(1 for t in keys if t not in win_tokens) + sum(1 for x in unit.numbers if x not in win_numbers))
        key_off = off / nkeys if nkeys else 0.0
        inv = _inversions([t for t in unit.tokens if t in best_tokens and t not in _STOP_STEMS],
                          [t for t in best.tokens if t not in _STOP_STEMS]) if best else 0.0
        ant = float(any((a := _ANT_STEMS.get(t)) is not None and a in win_tokens and t not in win_tokens
                        for t in unit.tokens))
    else:
        key_off, inv, ant = (1.0 if keys or unit.numbers else 0.0), 0.0, 0.0
    rel = _relation(unit, keys, index, cand[0], bool(ant)) if cand and best else None
    v = np.array([
        _share_missing(content, index.vocab),
        _share_missing(bigrams, index.bigrams),
        _share_missing(list(unit.trigrams), index.trigrams),
        _share_missing(list(unit.numbers), given | index.numbers),
        _share_missing(list(unit.names), given),
        _share_missing(content, best_tokens) if best else (1.0 if content else 0.0),
        float(best is not None and unit.negated != best.negated),
        *_entities(text, unit, given),
        key_off,
        inv,
        ant,
    ], dtype=np.float32)
    return v, cand, rel


def _relation(unit: TextUnit, keys: set[str], index: ContextIndex, best: int, antonym: bool) -> str | None:
    """Why a claim that restates one context sentence contradicts it, found *in place* (so fused or reworded facts
    do not trip it): a name or number standing where the sentence has another one (same words either side), a
    negation added or dropped between the same two words, an antonym, or two names in swapped places. None when the
    claim does not restate one sentence closely (its other content words are not there) or nothing contradicts."""
    win_tokens, _ = index.window(best)
    rest = [t for t in unit.content if t not in keys]
    if not rest or len(unit.content) < 3 or _share_missing(rest, win_tokens) > 0.2:
        return None
    claim, sent = unit.tokens, index.sentences[best].unit.tokens
    swapped = _substitution(claim, sent, keys | set(unit.numbers), index)
    if swapped:
        return f"`{swapped[0]}` stands where the context sentence it restates has `{swapped[1]}`"
    flip = _negation_flip(claim, sent)
    if flip:
        return flip
    if antonym:
        return "says the opposite of the context sentence it restates (an antonym)"
    if _swapped_roles(claim, sent, keys):
        return "puts the names of the context sentence it restates in swapped places (who did what to whom)"
    return None


def _swapped_roles(claim: list[str], sent: list[str], keys: set[str]) -> bool:
    """Two names in the opposite order on the two sides, with a content word between them on both sides (a
    predicate: "X defeated Y" / "Y defeated X"; a reordered list "X and Y" has none)."""
    cpos = {t: i for i, t in reversed(list(enumerate(claim)))}
    spos = {t: i for i, t in reversed(list(enumerate(sent)))}
    named = [t for t in dict.fromkeys(claim) if t in keys and t in spos]

    def between(tokens: list[str], i: int, j: int) -> set[str]:
        lo, hi = min(i, j), max(i, j)
        return {t for t in tokens[lo + 1:hi] if t not in _STOP_STEMS and t not in keys and not t.isdigit()}

    for x, a in enumerate(named):
        for b in named[x + 1:]:
            if (cpos[a] - cpos[b]) * (spos[a] - spos[b]) < 0 and (
                    between(claim, cpos[a], cpos[b]) & between(sent, spos[a], spos[b])):
                return True
    return False


def _substitution(claim: list[str], sent: list[str], keys: set[str], index: ContextIndex) -> tuple[str, str] | None:
    """A key word of the claim that the sentence lacks, between two words the sentence has around another word."""
    have = set(sent)
    for i, t in enumerate(claim):
        if t not in keys or t in have:
            continue
        j = i
        while j + 1 < len(claim) and ((claim[j + 1] not in have and claim[j + 1] in keys) or (
                claim[j + 1] in _JOINERS and j + 2 < len(claim) and claim[j + 2] in keys and claim[j + 2] not in have)):
            j += 1  # a multi-word name ("Annette Bening and Stephanie Faracy"): the whole run
        while i > 0 and claim[i - 1] in _JOINERS and claim[i - 1] not in have:
            i -= 1  # "a The Chimes recording": the article belongs to the name
        left = claim[i - 1] if i > 0 else None
        right = claim[j + 1] if j + 1 < len(claim) else None
        for k, w in enumerate(sent):
            if left is not None and w != left:
                continue
            start = k + 1 if left is not None else 0
            for m in range(1, 9):
                end = start + m
                if end > len(sent):
                    break
                if (right is None and end == len(sent)) or (right is not None and end < len(sent)
                                                             and sent[end] == right):
                    old = sent[start:end]
                    if left is None and right is None:
                        break
                    if _same_kind(claim[i:j + 1], old, index):
                        return " ".join(claim[i:j + 1]), " ".join(old)
    return None


def _same_kind(new: list[str], old: list[str], index: ContextIndex) -> bool:
    """Is ``old`` (what the sentence has) a thing of the same kind as ``new`` (what the claim put there)? Both
    numbers, or both names (most of ``old`` capitalised in the context), and not two forms of one word."""
    content = [t for t in old if t not in _JOINERS]
    if not content:
        return False
    numeric = all(t[:1].isdigit() for t in new)
    if numeric != all(t[:1].isdigit() for t in content):
        return False
    kind = index.numbers if numeric else index.name_stems
    if sum(1 for t in content if t in kind) * 2 < len(content):
        return False
    return not any(a[:4] == b[:4] for a in new for b in content)


def _is_neg(t: str) -> bool:
    return t in _NEG_STEMS or t.endswith("n't")


def _negation_flip(claim: list[str], sent: list[str]) -> str | None:
    """A negation between two words that are adjacent on the other side (``was not opened`` / ``was opened``)."""
    def pairs(tokens: list[str]) -> set[tuple[str, str]]:
        out = set(itertools.pairwise(tokens))
        out |= {(a[:-3], b) for a, b in out if a.endswith("n't")}  # "didn't open" ~ "did open"
        return out

    cp, sp = pairs(claim), pairs(sent)
    for toks, other, msg in ((sent, cp, "drops the negation of the context sentence it restates"),
                             (claim, sp, "negates what the context sentence it restates says")):
        for i, t in enumerate(toks):
            if not _is_neg(t):
                continue
            left = t[:-3] if t.endswith("n't") else (toks[i - 1] if i > 0 else None)
            if left is None or i + 1 >= len(toks):
                continue
            lefts = {left}
            if left in _DO:  # do-support: "did not open" negates "opened"
                j = i - 1 if t.endswith("n't") else i - 2
                if j >= 0:
                    lefts.add(toks[j])
            if any((w, toks[i + 1]) in other for w in lefts):
                return msg
    return None


def truecase(text: str, caps: dict[str, str]) -> str:
    """An all-lower or ALL-UPPER answer written in the context's casing (``paris`` -> ``Paris``), so that names are
    read the same whatever case the answer was typed in; mixed-case text is returned as it is."""
    if text != text.lower() and text != text.upper():
        return text
    low = text.lower()
    if len(low) != len(text):  # a case mapping that changes length would shift every offset
        return text
    out = _CAPWORD.sub(lambda m: caps.get(m.group(0), m.group(0)), low)
    return _SENT_START.sub(lambda m: m.group(1) + m.group(2).upper(), out)


_SENT_START = re.compile(r"(^\W*|[.!?]\s+)(\w)")


def analyse_answer(output: str, index: ContextIndex, input_text: str = "", *, top_k: int = 8,
                   max_claims: int = 512) -> list[Claim]:
    """Split the answer into claims and compute every claim's lexical features against ``index``.

    Numbers, names and named things of ``input_text`` count as given (not invented); its other words do not.
    An all-lower or all-upper answer is read in the context's casing first (:func:`truecase`); each claim's
    leading framing ("The answer is", "According to the passage,", "Yes,") is cut off before it is read.

    Answers with more than ``max_claims`` claims are scored in chunks of adjacent sentences merged into
    ``max_claims`` groups, so a 1 MB answer is still read whole but yields a bounded number of claims.
    """
    output = truecase(output, index.caps)
    spans = claims(output)
    if len(spans) > max_claims:
        size = math.ceil(len(spans) / max_claims)
        spans = [Span(g[0].start, g[-1].end, output[g[0].start:g[-1].end])
                 for g in (spans[i:i + size] for i in range(0, len(spans), size))]
    given = index.vocab
    if input_text:
        inp = analyse(input_text)
        given = index.vocab | set(inp.tokens) | inp.numbers
    out = []
    for sp in spans:
        _, core = strip_frame(sp.text)
        unit = analyse(core)
        lex, cand, rel = _lexical(core, unit, index, given, top_k)
        out.append(Claim(sp, unit, lex, cand, cand[0] if cand else None, relation=rel))
    return out


def embed_features(claims_: list[Claim], index: ContextIndex, encode: Callable[[list[str]], np.ndarray], *,
                   max_claims: int = 32, all_below: int = 64) -> None:
    """Fill ``emb`` / ``sim`` / ``best`` for up to ``max_claims`` claims (the least lexically supported first).

    A context of at most ``all_below`` sentences is compared whole (paraphrases share no words); past
    that only each claim's lexical candidates are embedded (bounded work on huge contexts). The embedder
    caches sentences by content hash, so repeated passages cost nothing the second time.
    """
    if not claims_ or not index.sentences:
        return
    order = sorted(range(len(claims_)), key=lambda i: -float(claims_[i].lex[0]))[:max_claims]
    chosen = [claims_[i] for i in order]
    if len(index.sentences) <= all_below:
        everything = list(range(len(index.sentences)))
        for c in chosen:
            c.candidates = everything
    cand_ids = sorted({j for c in chosen for j in c.candidates})
    texts = [c.span.text for c in chosen] + [index.sentences[j].span.text for j in cand_ids]
    vecs = encode(texts)
    cvec, svec = vecs[: len(chosen)], vecs[len(chosen):]
    pos = {j: n for n, j in enumerate(cand_ids)}
    for c, v in zip(chosen, cvec, strict=True):
        if not c.candidates:
            c.sim, c.emb = 0.0, np.array([1.0, _share_missing(c.unit.content, set())], dtype=np.float32)
            continue
        sims = svec[[pos[j] for j in c.candidates]] @ v
        b = int(np.argmax(sims))
        c.best = c.candidates[b]
        c.sim = float(sims[b])
        best_tokens = set(index.sentences[c.best].unit.tokens)
        c.emb = np.array([1.0 - max(0.0, c.sim), _share_missing(c.unit.content, best_tokens)], dtype=np.float32)


def aggregate(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Answer-level features from claim rows: the content-weighted mean and the max of each column.

    A single claim aggregates to ``[row, row]``, so the same head scores one claim and a whole answer.
    """
    if rows.ndim != 2 or len(rows) == 0:
        raise ValueError("aggregate() needs at least one claim row")
    w = weights / weights.sum()
    return np.concatenate([w @ rows, rows.max(axis=0)]).astype(np.float32)
