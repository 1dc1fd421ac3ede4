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
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from catalyst_checks.grounding.text import (
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
    "embed_features",
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
]
EMB_FEATURES = [
    "emb_dissim",         # 1 - best cosine to a context sentence
    "emb_best_unsup",     # content words absent from the nearest (by embedding) context sentence
]
_STOP_STEMS = frozenset(stem(w) for w in STOP)


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
    info = _PassageInfo(sents, frozenset(whole.tokens), frozenset(whole.bigrams), frozenset(whole.trigrams),
                        frozenset(whole.numbers))
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

    def candidates(self, unit: TextUnit, k: int) -> list[int]:
        """The ``k`` context sentences sharing the most (idf-weighted) content words with a claim."""
        scores: Counter[int] = Counter()
        for w in set(unit.content):
            ids = self.postings.get(w)
            if ids:
                wt = self.idf[w]
                for i in ids:
                    scores[i] += wt
        return [i for i, _ in scores.most_common(k)]


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
    for p, (text, key) in enumerate(zip(passages, keys, strict=True)):
        info = _passage_info(text, key)
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
    index = ContextIndex(sents, vocab, bigrams, trigrams, numbers, postings, idf)
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


def _lexical(text: str, unit: TextUnit, index: ContextIndex, given: set[str], k: int) -> tuple[np.ndarray, list[int]]:
    content = unit.content
    cand = index.candidates(unit, k)
    best = index.sentences[cand[0]].unit if cand else None
    bigrams = [b for b in unit.bigrams if not (b[0] in _STOP_STEMS and b[1] in _STOP_STEMS)]
    best_tokens = set(best.tokens) if best else set()
    v = np.array([
        _share_missing(content, index.vocab),
        _share_missing(bigrams, index.bigrams),
        _share_missing(list(unit.trigrams), index.trigrams),
        _share_missing(list(unit.numbers), given | index.numbers),
        _share_missing(list(unit.names), given),
        _share_missing(content, best_tokens) if best else (1.0 if content else 0.0),
        float(best is not None and unit.negated != best.negated),
        *_entities(text, unit, given),
    ], dtype=np.float32)
    return v, cand


def analyse_answer(output: str, index: ContextIndex, input_text: str = "", *, top_k: int = 8,
                   max_claims: int = 512) -> list[Claim]:
    """Split the answer into claims and compute every claim's lexical features against ``index``.

    Numbers, names and named things of ``input_text`` count as given (not invented); its other words do not.

    Answers with more than ``max_claims`` claims are scored in chunks of adjacent sentences merged into
    ``max_claims`` groups, so a 1 MB answer is still read whole but yields a bounded number of claims.
    """
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
        unit = analyse(sp.text)
        lex, cand = _lexical(sp.text, unit, index, given, top_k)
        out.append(Claim(sp, unit, lex, cand, cand[0] if cand else None))
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
