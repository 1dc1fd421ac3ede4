"""The ``grounding`` check: is every claim of the answer supported by the given context?

The answer is split into claims (sentences, long ones into clauses). Each claim gets support features
against the context (see :mod:`.features`): lexical coverage in ``mode: lexical`` (~1 ms, the hot path),
plus the nearest context sentence by embedding in ``mode: full``. A logistic head trained on HaluEval
(``head.json``) turns the claims' aggregated features into the answer's score, and each claim's own
features into its score. Evidence marks the unsupported claims (with the missing words, numbers and
names as the reason) and the closest context sentence for each claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.records import CheckResult, Evidence
from catalyst_checks.grounding.features import (
    LEX_FEATURES,
    Claim,
    ContextIndex,
    aggregate,
    analyse_answer,
    context_index,
    embed_features,
)
from catalyst_checks.grounding.head import Head, load_heads
from catalyst_checks.grounding.text import STOP, analyse, digit_numbers, number_mentions, stem

__all__ = ["Grounding", "other_language", "refusal", "unscorable"]

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_NUMLIKE = re.compile(r"\d")
_BEST_SENT = LEX_FEATURES.index("best_sent_unsup")


class Grounding(Check):
    """The answer's claims must be supported by the context passages (RAG faithfulness)."""

    name: ClassVar[str] = "grounding"
    evidence: ClassVar[bool] = True
    costly: ClassVar[bool] = False
    catches: ClassVar[str] = ("claims the context does not support: invented facts, changed numbers or dates, "
                              "swapped names (hallucination against retrieved passages)")
    cost: ClassVar[str] = "lexical ~1 ms; full: +1 MiniLM embedding per claim and uncached context sentence"

    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="a score below this fails the check")
    mode: Literal["lexical", "full"] = Field(
        default="lexical", description="`lexical`: word/number/name coverage only (fast); `full`: + embeddings")
    backend: Literal["auto", "torch", "onnx-int8"] = Field(default="auto", description="embedding backend (full mode)")
    on_empty: Literal["review", "pass"] = Field(
        default="review", description="no context given: the answer has no grounding evidence either way (no "
        "score); `review` also fails the check (so its `on_fail` applies), `pass` does not")
    use_input: bool = Field(
        default=True, description="numbers, names and named things of the user's input (question or conversation "
        "so far) count as given: repeating them is not inventing them (they are not verified either)")
    domain: Literal["general", "dialogue"] = Field(
        default="general", description="which trained head scores the claims: `general` (QA, dialogue and "
        "summarization together) or `dialogue` (chat replies, where small talk is expected to be unsupported and "
        "named things, numbers and negations carry the signal)")
    top_k: int = Field(default=8, ge=1, le=64, description="candidate context sentences per claim (large contexts)")
    max_claims: int = Field(default=512, ge=1, description="claims per answer at most (longer answers are grouped)")
    max_embed_claims: int = Field(default=32, ge=1, description="claims embedded at most in full mode")
    max_evidence: int = Field(default=20, ge=1, description="evidence spans reported at most")
    strict_numbers: bool = Field(
        default=True, description="a claim with a digit-written number or date found in neither the context nor "
        "the input fails outright (its score is capped at `strict_cap`)")
    strict_names: bool = Field(
        default=True, description="a claim with a capitalised name (not sentence-initial) found in neither the "
        "context nor the input fails outright (its score is capped at `strict_cap`)")
    strict_relations: bool = Field(
        default=True, description="a claim that restates one context sentence but contradicts it in place (a name "
        "or number where the sentence has another, a negation added or dropped, an antonym, two names in swapped "
        "places) fails outright (its score is capped at `strict_cap`)")
    strict_cap: float = Field(default=0.2, ge=0.0, le=1.0, description="score cap of a claim the strict rules fail")

    # -- scoring -----------------------------------------------------------------------------------
    def _head(self) -> Head:
        return load_heads()[self.mode if self.domain == "general" else f"{self.mode}/{self.domain}"]

    def _rows(self, claims: list[Claim]) -> np.ndarray:
        if self.mode == "lexical":
            return np.stack([c.lex for c in claims])
        done = [c.emb for c in claims if c.emb is not None]
        floor = min(float(e[0]) for e in done) if done else 1.0
        rows = []
        for c in claims:
            # claims past max_embed_claims are the best lexically supported: impute the best embedded dissimilarity
            emb = c.emb if c.emb is not None else np.array([floor, c.lex[_BEST_SENT]], dtype=np.float32)
            rows.append(np.concatenate([c.lex, emb]))
        return np.stack(rows)

    def featurize(self, output: str, context: list[str], input_text: str = "",
                  ) -> tuple[ContextIndex, list[Claim], np.ndarray]:
        """The context index, the answer's claims and their feature rows (what the head scores).

        Public so that ``scripts/train_grounding.py`` trains on exactly the features the check computes.
        """
        index = context_index(context)
        claims = analyse_answer(output, index, input_text if self.use_input else "", top_k=self.top_k,
                                max_claims=self.max_claims)
        if not claims:
            return index, claims, np.empty((0, 0), dtype=np.float32)
        if self.mode == "full":
            embed_features(claims, index, self._encode, max_claims=self.max_embed_claims)
        return index, claims, self._rows(claims)

    def _encode(self, texts: list[str]) -> np.ndarray:
        from catalyst.embeddings import get_embedder

        return get_embedder(self.backend).encode(texts)

    def run(self, ctx: CheckContext) -> CheckResult:
        output = ctx.output
        passages = [p for p in ctx.context if p and p.strip()]
        if not passages:
            if self.on_empty == "pass":
                return self.unscored("no context", mode=self.mode)
            res = self.unscored("no context", passed=False, claims=0, mode=self.mode)
            res.evidence.append(Evidence(
                start=0, end=len(output),
                reason="no context given: the answer cannot be grounded (set on_empty: pass to skip this check)"))
            return res
        index, claims, rows = self.featurize(output, ctx.context, ctx.input)
        why = unscorable(output, passages, claims)
        if why is not None:
            return self.unscored(why, claims=len(claims), mode=self.mode)
        head = self._head()
        weights = np.array([c.weight for c in claims], dtype=np.float32)
        score = float(head.prob(aggregate(rows, weights)))
        claim_scores = head.prob(np.concatenate([rows, rows], axis=1))
        known, fails = self.strict_fails(index, claims, ctx.input)
        for i, failed in enumerate(fails):
            if failed:
                claim_scores[i] = min(claim_scores[i], self.strict_cap)
                score = min(score, self.strict_cap)
        return self.result(score, evidence=self._evidence(index, claims, claim_scores, known),
                           claims=len(claims), unsupported=int((claim_scores < self.threshold).sum()),
                           mode=self.mode, claim_scores=[round(float(s), 4) for s in claim_scores[:100]])

    def strict_fails(self, index: ContextIndex, claims: list[Claim], input_text: str) -> tuple[set[str], list[bool]]:
        """The numbers/words the context and input give, and which claims the strict rules fail.

        Public so that ``scripts/train_grounding.py`` sets the head's threshold on the check's final decisions.
        """
        given = set(analyse(input_text).tokens) if input_text and self.use_input else set()
        known = index.numbers | index.vocab | given | (digit_numbers(input_text) if given else set())
        fails = [bool((self.strict_numbers and digit_numbers(c.span.text) - known) or (
                 self.strict_names and any(n not in index.vocab and n not in given for n in c.unit.names)) or (
                 self.strict_relations and c.relation is not None))
                 for c in claims]
        return known, fails

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        """Score many answers; in full mode every text of the batch is embedded in one call first."""
        if self.mode == "full":
            texts: list[str] = []
            for c in ctxs:
                passages = [p for p in c.context if p and p.strip()]
                if not passages:
                    continue
                index = context_index(c.context)
                claims = analyse_answer(c.output, index, c.input if self.use_input else "", top_k=self.top_k,
                                        max_claims=self.max_claims)
                texts += [cl.span.text for cl in claims[: self.max_embed_claims]]
                if len(index.sentences) <= 64:  # embed_features' all_below: small contexts are compared whole
                    texts += [s.span.text for s in index.sentences]
                else:  # large ones: only the lexical candidates, as run() will
                    ids = {j for cl in claims[: self.max_embed_claims] for j in cl.candidates}
                    texts += [index.sentences[j].span.text for j in sorted(ids)]
            if texts:
                self._encode(list(dict.fromkeys(texts)))  # warms the content-hash cache; run() then hits it
        return [self.run(c) for c in ctxs]

    # -- evidence ----------------------------------------------------------------------------------
    def _evidence(self, index: ContextIndex, claims: list[Claim], scores: np.ndarray,
                  known_numbers: set[str]) -> list[Evidence]:
        bad: list[Evidence] = []
        support: list[Evidence] = []
        for i, (c, s) in enumerate(zip(claims, scores, strict=True)):
            if s < self.threshold:
                why = _why(c, index, known_numbers)
                bad.append(Evidence(start=c.span.start, end=c.span.end, text=c.span.text[:300],
                                    reason=f"claim {i + 1} unsupported (score {s:.2f}): {why}"))
            if c.best is not None:
                sent = index.sentences[c.best]
                how = f"cosine {c.sim:.2f}" if c.sim is not None else "word overlap"
                support.append(Evidence(start=sent.span.start, end=sent.span.end, field="context",
                                        passage=sent.passage, text=sent.span.text[:300],
                                        reason=f"closest context for claim {i + 1} ({how})"))
        return (bad + support)[: self.max_evidence]


_REFUSAL = re.compile(
    r"^\W*(?:(?:i'?m|i am)\s+(?:sorry|afraid|not\s+sure)|sorry|unfortunately|"
    r"i\s+(?:do\s+not|don'?t|cannot|can'?t|could\s+not|couldn'?t|am\s+unable\s+to|'?m\s+unable\s+to)\s+"
    r"(?:know|say|tell|answer|help|find|determine|provide|see)|"
    r"(?:the|these|this|those)\s+(?:passages?|documents?|context|texts?|sources?|articles?)\s+(?:does|do|did)\s*"
    r"(?:not|n't)\s+(?:say|mention|contain|specify|state|provide|include|tell)|"
    r"there\s+is\s+no\s+(?:information|mention)|no\s+information|(?:it\s+is\s+)?not\s+(?:mentioned|stated|known)|"
    r"(?:unknown|n/?a)\W*$)\b", re.IGNORECASE)


def unscorable(output: str, passages: list[str], claims: list[Claim], *, language: bool = True) -> str | None:
    """Why the answer cannot be grounded at all (a refusal, no checkable claim, another language), or None."""
    if refusal(output):
        return "the answer is a refusal or says the context does not tell: it makes no claim to ground"
    if not any(c.unit.content or c.unit.numbers for c in claims):
        return "the answer makes no checkable claim (no content word or number)"
    if language and other_language(output, passages):
        return ("the answer is written in another language or script than the context: lexical grounding cannot "
                "compare them (an `entailment` model can)")
    return None


def refusal(output: str) -> bool:
    """Is the answer only a refusal ("I don't know.", "The passage does not say.")? Short, and no number in it."""
    text = output.strip()
    return bool(text) and len(text) <= 200 and not _NUMLIKE.search(text) and _REFUSAL.match(text) is not None


_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=4096)  # passages repeat (RAG): their language is worked out once
def _language(text: str) -> str | None:
    """``nonlatin``, ``en`` (English stop words present), ``latin`` (Latin script without them), or None (too short)."""
    letters = len(_LETTER.findall(text))
    if letters < 8:
        return None
    if len(_LATIN.findall(text)) / letters < 0.5:
        return "nonlatin"
    words = [w.lower() for w in _WORD.findall(text)]
    share = sum(1 for w in words if w in STOP) / max(1, len(words))
    if share >= 0.08:
        return "en"
    return "latin" if len(words) >= 8 and share == 0 else None


def other_language(output: str, passages: list[str]) -> bool:
    """Is the answer in another script, or in another Latin-script language, than every context passage?"""
    mine = _language(output)
    if mine is None:
        return False
    theirs = {_language(p[:3000]) for p in passages}
    if None in theirs or mine in theirs or (mine == "latin" and "latin" in theirs):
        return False
    if mine == "latin":  # no English stop word, but mostly the context's own words: a list or table, not French
        words = {w for w in _WORD.findall(output) if w[0].islower()}  # not names or numbers: those cross languages
        vocab = {w.lower() for p in passages for w in _WORD.findall(p[:3000])}
        return bool(words) and len(words & vocab) < 0.3 * len(words)
    return True


def _why(c: Claim, index: ContextIndex, known_numbers: set[str]) -> str:
    """Name what the context lacks: numbers, names, then other content words."""
    numbers = [raw for raw, norm in number_mentions(c.span.text) if norm not in known_numbers]
    names: list[str] = []
    words: list[str] = []
    for m in _WORD.finditer(c.span.text):
        w = m.group(0)
        if w.lower() in STOP or _NUMLIKE.search(w) or stem(w) in index.vocab:
            continue
        (names if w[0].isupper() and m.start() > 0 else words).append(w)
    parts = [c.relation] if c.relation else []
    if numbers:
        parts.append("numbers not in the context: " + ", ".join(dict.fromkeys(numbers)))
    if names:
        parts.append("names not in the context: " + ", ".join(dict.fromkeys(names)))
    if words:
        parts.append("words not in the context: " + ", ".join(list(dict.fromkeys(words))[:8]))
    if not parts:
        if c.sim is not None:
            return f"no context sentence says this (best cosine {c.sim:.2f})"
        return "its words appear in the context but not together (recombined facts)"
    return "; ".join(parts)
