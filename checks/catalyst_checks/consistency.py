"""Self-consistency: does the model say the same thing when asked again?

Takes ``n`` other answers to the same input — the record's ``samples`` when present (no model call),
else sampled from the model (``n`` choices in one call, topped up with more calls where the endpoint
ignores ``n``) — and compares them with the answer using the shared embedding model:

- **Semantic entropy** (Kuhn et al., 2023, discrete variant): answers are clustered by meaning
  (greedy, cosine >= ``same_meaning`` and no conflicting numbers — MiniLM puts "completed in 1889" and
  "completed in 1925" at cosine 0.86, so numbers are compared explicitly); the entropy of the
  samples' cluster distribution, normalised by log(n), is 0 when every sample means the same thing
  and 1 when all differ.
- **Agreement**: the share of samples in the answer's own meaning cluster.
- **Sentence consistency** (SelfCheckGPT-style, Manakul et al., 2023, with embeddings in place of
  BERTScore/NLI): for each sentence of the answer, the share of samples that contain a sentence at
  cosine >= ``sentence_support``. The least consistent sentences are the evidence.

Score = ½ · agreement + ½ · the least consistent sentence's score. Low agreement with low entropy
means the model consistently says something *else*; high entropy means it does not know.
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.llm import LLMConfig
from catalyst.records import CheckResult, Evidence
from catalyst_checks._model import llm_for, sample_answers
from catalyst_checks._textscan import sentences

__all__ = ["Consistency", "cluster", "compatible", "numbers", "semantic_entropy"]


_NUM = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> frozenset[str]:
    """The numbers in ``text`` (``1,889`` and ``1889`` alike): the facts sentence embeddings barely see."""
    return frozenset(m.group(0).replace(",", "") for m in _NUM.finditer(text))


def compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two texts can mean the same unless both state numbers and share none (1889 vs 1925)."""
    return not a or not b or bool(a & b)


def cluster(sims: np.ndarray, threshold: float, nums: list[frozenset[str]] | None = None) -> list[int]:
    """Greedy clustering on a cosine matrix: each item joins the first cluster whose first member is close
    enough (and, given ``nums``, states no conflicting numbers)."""
    labels: list[int] = []
    reps: list[int] = []
    for i in range(sims.shape[0]):
        for c, r in enumerate(reps):
            if sims[i, r] >= threshold and (nums is None or compatible(nums[i], nums[r])):
                labels.append(c)
                break
        else:
            reps.append(i)
            labels.append(len(reps) - 1)
    return labels


def semantic_entropy(labels: list[int]) -> tuple[float, float]:
    """(entropy in nats, entropy / log(n)) of the cluster distribution of ``labels``."""
    n = len(labels)
    if n <= 1:
        return 0.0, 0.0
    counts = np.bincount(np.asarray(labels))
    p = counts[counts > 0] / n
    h = float(-(p * np.log(p)).sum())
    return h, h / math.log(n)


class Consistency(Check):
    """Agreement of the answer with other sampled answers: semantic entropy, agreement, per-sentence consistency."""

    name: ClassVar[str] = "consistency"
    evidence: ClassVar[bool] = True
    costly: ClassVar[bool] = True
    catches: ClassVar[str] = "answers the model would not give again (confabulations vary between samples)"
    cost: ClassVar[str] = "n sampled answers (1 call when the endpoint supports n) + embeddings"

    num_samples: int = Field(default=5, ge=2, le=50, description="answers to sample when the record has none")
    temperature: float = Field(default=1.0, ge=0.0, le=2.0, description="sampling temperature")
    max_tokens: int = Field(default=256, ge=1, description="longest sampled answer")
    endpoint: Literal["chat", "completions"] = Field(default="chat", description="completions for base models")
    prompt_template: str = Field(default="{input}\n", description="prompt for endpoint=completions")
    use_record_samples: bool = Field(default=True, description="use the record's samples when present")
    same_meaning: float = Field(default=0.55, ge=0.0, le=1.0, description="cosine at which two answers mean the same")
    sentence_support: float = Field(default=0.55, ge=0.0, le=1.0,
                                    description="cosine at which a sampled sentence supports an answer sentence")
    max_evidence: int = Field(default=3, ge=0, description="least consistent sentences reported")
    embedding_backend: Literal["auto", "torch", "onnx-int8"] = "auto"
    llm: LLMConfig | None = Field(default=None, description="own endpoint; default: the runtime's services['llm']")

    async def run(self, ctx: CheckContext) -> CheckResult:
        if self.use_record_samples and ctx.samples:
            samples, source = [s for s in ctx.samples if s.strip()], "record"
        else:
            llm, model = llm_for(ctx, self.llm, self.name)
            samples = await sample_answers(ctx, llm, model, self.name, n=self.num_samples,
                                           temperature=self.temperature, max_tokens=self.max_tokens,
                                           endpoint=self.endpoint, prompt_template=self.prompt_template)
            source = "model"
        if not samples:
            raise ValueError("check `consistency` has no non-empty samples to compare with")
        return await asyncio.to_thread(self._score, ctx.output, samples, source)

    def _score(self, output: str, samples: list[str], source: str) -> CheckResult:
        from catalyst.embeddings import get_embedder

        emb = get_embedder(self.embedding_backend)
        n = len(samples)
        out_spans = sentences(output) or [(0, len(output))]
        sample_sents = [[s[a:b] for a, b in sentences(s)] or [s] for s in samples]
        flat = [t for ss in sample_sents for t in ss]
        vecs = emb.encode([output, *samples, *(output[a:b] for a, b in out_spans), *flat])
        whole = vecs[: n + 1]
        sims = whole @ whole.T
        labels = cluster(sims, self.same_meaning, [numbers(t) for t in (output, *samples)])
        h, h_norm = semantic_entropy(labels[1:])
        agreement = sum(1 for lab in labels[1:] if lab == labels[0]) / n

        ov = vecs[n + 1: n + 1 + len(out_spans)]
        sv = vecs[n + 1 + len(out_spans):]
        cross = ov @ sv.T  # answer sentences x all sample sentences
        sent_scores: list[tuple[float, float]] = []  # (share of samples supporting, mean best cosine)
        flat_nums = [numbers(t) for t in flat]
        for i, (a, b) in enumerate(out_spans):
            mine = numbers(output[a:b])
            ok = np.array([compatible(mine, x) for x in flat_nums])
            row = np.where(ok, cross[i], -1.0)  # a sentence stating other numbers supports nothing
            bests, pos = [], 0
            for ss in sample_sents:
                bests.append(float(row[pos: pos + len(ss)].max()))
                pos += len(ss)
            share = sum(1 for b in bests if b >= self.sentence_support) / n
            sent_scores.append((share, sum(bests) / n))
        weakest = min(s for s, _ in sent_scores)
        score = 0.5 * agreement + 0.5 * weakest

        order = sorted(range(len(out_spans)), key=lambda i: sent_scores[i])
        evidence = []
        for i in order[: self.max_evidence]:
            share, best = sent_scores[i]
            if share >= 0.5:
                break
            a, b = out_spans[i]
            k = round(share * n)
            evidence.append(Evidence(start=a, end=b, text=output[a:b],
                                     reason=f"only {k} of {n} sampled answers say something similar "
                                            f"(mean best cosine {best:.2f})"))
        details: dict[str, Any] = {
            "samples_from": source, "n_samples": n, "agreement": round(agreement, 4),
            "semantic_entropy": round(h, 4), "semantic_entropy_norm": round(h_norm, 4),
            "clusters": len(set(labels[1:])), "mean_similarity": round(float(sims[0, 1:].mean()), 4),
            "sentences": [{"start": a, "end": b, "consistency": round(s, 4), "mean_best": round(m, 4)}
                          for (a, b), (s, m) in zip(out_spans, sent_scores, strict=True)],
        }
        if source == "model":
            details["samples"] = samples
        return self.result(score, evidence=evidence, **details)
