"""``injection`` (inputs) and ``leakage`` (outputs): prompt attacks and system-prompt leaks.

``injection`` scans what the user (or a tool, or a retrieved passage) said — never the system
message — with two signals: regexes for the common attack forms (instruction override, prompt
extraction, jailbreak personas, fake system turns...) and the embedding similarity of each sentence
to a bundled list of known attack phrasings (``_attacks.py``), with the shared MiniLM embedder.

``leakage`` compares the answer with the system prompt (from its config, or the system message(s) of
the input) by shared word n-grams: the share of the prompt's words that reappear in the answer as
runs of ``ngram`` or more words, and the longest such run. Optionally it also flags answer sentences
that paraphrase a prompt sentence (embedding similarity). Evidence marks the copied runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from catalyst.checks import Check, CheckContext, Regex
from catalyst.records import CheckResult, Evidence

from ._attacks import ATTACK_PHRASINGS, INJECTION_PATTERNS
from ._obfuscation import decoded, variants
from ._textscan import bounded, clip, sentences
from .topic import banned_score

_WORD = re.compile(r"\w+", re.UNICODE)


def _segments(ctx: CheckContext, field: str) -> list[tuple[str, int, int | None]]:
    """``(text, offset, passage)`` pieces to scan: user/tool turns of the input (offsets into ``ctx.input``),
    or each context passage."""
    if field == "context":
        return [(p, 0, i) for i, p in enumerate(ctx.context)]
    if field == "output":
        return [(ctx.output, 0, None)]
    raw = ctx.record.input
    if raw is None or isinstance(raw, str):
        return [(raw or "", 0, None)]
    out: list[tuple[str, int, int | None]] = []
    pos = 0
    for i, m in enumerate(raw):  # mirrors Interaction.input_text: "role: content" joined by "\n"
        content = m.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        role = str(m.get("role", "user"))
        prefix = f"{role}: "
        if role not in ("system", "developer"):
            out.append((str(content), pos + len(prefix), None))
        pos += len(prefix) + len(str(content)) + (1 if i < len(raw) - 1 else 0)
    return out


def system_prompts(ctx: CheckContext) -> list[str]:
    """The system / developer messages of a chat input."""
    raw = ctx.record.input
    if not isinstance(raw, list):
        return []
    return [str(m.get("content", "")) for m in raw if m.get("role") in ("system", "developer") and m.get("content")]


class Injection(Check):
    """Prompt-injection and jailbreak attempts in the input (or in retrieved passages: indirect injection).

    Score: the lower of ``pattern_score`` (when a pattern matches) and the similarity score to the known
    attack phrasings (0.5 exactly at ``similarity``). A score at or below ``threshold`` fails (closed), and a
    failing result's score is always below the threshold. Text past ``max_chars`` is not read, and the check
    does not pass then (cost: ~20-70 µs per character of adversarial text, so 50,000 characters stay ~1-3 s).
    """

    name: ClassVar[str] = "injection"
    catches: ClassVar[str] = "prompt injection, jailbreak and system-prompt extraction attempts in inputs or passages"
    cost: ClassVar[str] = "~3-10 ms per input (regexes + MiniLM per sentence; attack list embedded once)"

    field: Literal["input", "context", "output"] = Field(
        default="input", description="`input`: user/tool turns (system turns are skipped); `context`: each passage"
    )
    similarity: float = Field(
        default=0.7, ge=0.0, le=1.0, description="cosine similarity to a known attack phrasing that counts"
    )
    use_embeddings: bool = Field(default=True, description="compare sentences with the bundled attack phrasings")
    pattern_score: float = Field(default=0.1, ge=0.0, le=1.0, description="score when an attack pattern matches")
    extra_patterns: list[Regex] = Field(default_factory=list, description="your own attack regexes (case-insensitive)")
    extra_phrasings: list[str] = Field(default_factory=list, description="your own known attack sentences")
    backend: Literal["auto", "torch", "onnx-int8"] = Field(default="auto", description="embedding backend")
    deobfuscate: bool = Field(
        default=True, description="also scan decoded base64/hex runs and the text with leetspeak, look-alike "
        "letters, invisible characters and spaced-out letters undone")
    max_sentences: int = Field(default=200, ge=1, description="sentences compared per record")
    max_chars: int = Field(default=50_000, ge=100, description="characters scanned per segment")

    @cached_property
    def _patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        pats = [(n, re.compile(p, re.IGNORECASE)) for n, p in INJECTION_PATTERNS]
        return pats + [(f"custom pattern {i}", re.compile(p, re.IGNORECASE)) for i, p in enumerate(self.extra_patterns)]

    def run(self, ctx: CheckContext) -> CheckResult:
        return self.run_batch([ctx])[0]  # type: ignore[return-value]

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        fld: Any = "input" if self.field == "input" else self.field
        plans = []
        sents: list[str] = []
        for c in ctxs:
            ev: list[Evidence] = []
            score = 1.0
            units: list[tuple[int, int, int | None, str]] = []  # start, end (in field coords), passage, text
            for text, off, passage in _segments(c, self.field):
                scan = bounded(text, self.max_chars)
                for ename in scan.evidence(fld):
                    ev.append(
                        ename.model_copy(
                            update={"start": ename.start + off, "end": ename.end + off, "passage": passage}
                        )
                    )
                for pname, rx in self._patterns:
                    for m in rx.finditer(scan.text):
                        score = min(score, self.pattern_score)
                        ev.append(
                            Evidence(
                                start=off + m.start(),
                                end=off + m.end(),
                                field=fld,
                                passage=passage,
                                text=m.group(0)[:200],
                                reason=f"injection pattern: {pname}",
                            )
                        )
                        break
                found = {x.reason for x in ev}
                hidden = variants(scan.text) if self.deobfuscate else []
                for variant in hidden:
                    for pname, rx in self._patterns:
                        reason = f"injection pattern (in a decoded or de-obfuscated reading): {pname}"
                        m = rx.search(variant)
                        if m is not None and reason not in found:
                            found.add(reason)
                            score = min(score, self.pattern_score)
                            ev.append(Evidence(start=off, end=off + len(scan.text), field=fld, passage=passage,
                                               text=m.group(0)[:200], reason=reason))
                for s, e in sentences(scan.text, max_sentences=self.max_sentences - len(units)):
                    units.append((off + s, off + e, passage, scan.text[s:e]))
                for text in decoded(scan.text)[:5] if self.deobfuscate else []:  # base64/hex: compare its sentences too
                    for s, e in sentences(text, max_sentences=max(0, self.max_sentences - len(units))):
                        units.append((off, off + len(scan.text), passage, text[s:e]))
                if len(units) >= self.max_sentences:
                    break
            plans.append((ev, score, units, len(sents)))
            sents.extend(u[3] for u in units)
        best = np.zeros(len(sents), dtype=np.float32)
        which = np.zeros(len(sents), dtype=np.int64)
        phrasings = list(ATTACK_PHRASINGS) + list(self.extra_phrasings)
        if self.use_embeddings and sents:
            from catalyst.embeddings import get_embedder

            emb = get_embedder(self.backend)
            sims = emb.encode(sents) @ emb.encode(phrasings).T
            best, which = sims.max(axis=1), sims.argmax(axis=1)
        out: list[CheckResult | float | bool] = []
        for ev, score, units, off in plans:
            for j, (s, e, passage, text) in enumerate(units):
                sim = float(best[off + j])
                if not self.use_embeddings:
                    break
                score = min(score, banned_score(sim, self.similarity))
                if sim >= self.similarity:
                    ev.append(
                        Evidence(
                            start=s,
                            end=e,
                            field=fld,
                            passage=passage,
                            text=text[:200],
                            reason=(f"like a known attack ({sim:.2f}): {clip(phrasings[int(which[off + j])], 50)!r}"),
                        )
                    )
            ev.sort(key=lambda x: (x.passage or 0, x.start))
            hit = any(not x.reason.startswith("not scanned") for x in ev)
            if hit or score <= self.threshold:  # exactly at the threshold fails closed
                hit = True
                score = min(score, math.nextafter(self.threshold, 0.0))
            unscanned = len(ev) > 0 and not hit  # a text past max_chars was not read to its end: not a pass
            out.append(self.result(score, evidence=ev, passed=not hit and not unscanned))
        return out


class Leakage(Check):
    """The answer repeats the system prompt (verbatim runs of words, or paraphrased sentences).

    Score: 0.5 exactly when the share of the prompt's words copied into the answer reaches ``max_share``
    (lower above), and at most ``run_score`` when one copied run reaches ``max_run_words``.
    """

    name: ClassVar[str] = "leakage"
    catches: ClassVar[str] = "answers that disclose the system prompt or hidden instructions"
    cost: ClassVar[str] = "~0.1 ms per answer (word n-grams); + MiniLM per sentence with `semantic`"

    system_prompt: str | None = Field(
        default=None, description="the prompt to protect; default: the input's system message(s)"
    )
    ngram: int = Field(default=5, ge=2, le=20, description="words in a row that count as copied")
    max_share: float = Field(default=0.25, gt=0.0, le=1.0, description="share of the prompt's words that may reappear")
    min_words: int = Field(default=8, ge=1, description="copied words needed before the share counts (short prompts)")
    max_run_words: int = Field(default=12, ge=2, description="longest copied run of words allowed")
    run_score: float = Field(default=0.2, ge=0.0, le=1.0, description="score cap when a run reaches max_run_words")
    semantic: bool = Field(default=False, description="also flag answer sentences that paraphrase a prompt sentence")
    semantic_similarity: float = Field(default=0.85, ge=0.0, le=1.0, description="cosine for a paraphrased sentence")
    backend: Literal["auto", "torch", "onnx-int8"] = Field(
        default="auto", description="embedding backend (semantic only)"
    )
    max_chars: int = Field(default=200_000, ge=100, description="characters of the answer scanned")

    def run(self, ctx: CheckContext) -> CheckResult:
        prompt = self.system_prompt if self.system_prompt is not None else "\n".join(system_prompts(ctx))
        scan = bounded(ctx.output, self.max_chars)
        if not prompt.strip():
            return self.result(1.0, evidence=scan.evidence(), note="no system prompt to compare with")
        p_words = [w.lower() for w in _WORD.findall(prompt)]
        o_tokens = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(scan.text)]
        n = min(self.ngram, len(p_words)) or 1
        grams = {tuple(p_words[i : i + n]) for i in range(len(p_words) - n + 1)}
        covered = [False] * len(o_tokens)
        for i in range(len(o_tokens) - n + 1):
            if tuple(t[0] for t in o_tokens[i : i + n]) in grams:
                for k in range(i, i + n):
                    covered[k] = True
        runs: list[tuple[int, int]] = []  # token index ranges
        i = 0
        while i < len(covered):
            if covered[i]:
                j = i
                while j + 1 < len(covered) and covered[j + 1]:
                    j += 1
                runs.append((i, j + 1))
                i = j + 1
            else:
                i += 1
        copied = sum(b - a for a, b in runs)
        share = min(1.0, copied / max(1, len(p_words)))
        longest = max((b - a for a, b in runs), default=0)
        score = banned_score(share, self.max_share)
        ev = [
            Evidence(
                start=o_tokens[a][1],
                end=o_tokens[b - 1][2],
                text=scan.text[o_tokens[a][1] : o_tokens[b - 1][2]][:300],
                reason=f"copied from the system prompt ({b - a} words)",
            )
            for a, b in runs[:30]
        ]
        if copied < self.min_words:  # a few shared words is not a leak, however short the prompt
            score = max(score, 0.5 + 0.5 * (1 - share))
            ev = []
        if longest >= self.max_run_words:
            score = min(score, self.run_score)
        if self.semantic:
            score = min(score, self._semantic(prompt, scan.text, ev))
        ev.sort(key=lambda e: e.start)
        ev += scan.evidence()
        leaked = (
            (share >= self.max_share and copied >= self.min_words)
            or longest >= self.max_run_words
            or score < self.threshold
        )
        return self.result(
            score,
            evidence=ev,
            passed=not leaked and not scan.truncated,
            copied_share=round(share, 4),
            longest_run=longest,
        )

    def _semantic(self, prompt: str, text: str, ev: list[Evidence]) -> float:
        from catalyst.embeddings import get_embedder

        p_spans = sentences(prompt, max_sentences=200)
        o_spans = sentences(text, max_sentences=200)
        if not p_spans or not o_spans:
            return 1.0
        emb = get_embedder(self.backend)
        sims = emb.encode([text[s:e] for s, e in o_spans]) @ emb.encode([prompt[s:e] for s, e in p_spans]).T
        score = 1.0
        for j, (s, e) in enumerate(o_spans):
            sim = float(sims[j].max())
            score = min(score, banned_score(sim, self.semantic_similarity))
            if sim >= self.semantic_similarity and not any(x.start <= s and e <= x.end for x in ev):
                ev.append(
                    Evidence(start=s, end=e, text=text[s:e][:300], reason=f"paraphrases the system prompt ({sim:.2f})")
                )
        return score
