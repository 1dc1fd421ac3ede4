"""``topic``: banned (or required) topics, each described by a few example phrases, matched per sentence.

Every sentence of the answer is embedded with the shared MiniLM embedder (``catalyst.embeddings``)
and compared by cosine similarity with each topic's examples. A topic is *touched* by a sentence when
the best similarity reaches the topic's threshold. Example embeddings are cached by the embedder (by
content), so only the answer's sentences cost model time; a batch embeds all its sentences at once.

Score (so that ``threshold: 0.5`` of the check lines up with each topic's similarity threshold ``t``):

- banned: the best similarity ``s`` over sentences and topics maps to ``1 → 0.5`` as ``s`` goes
  ``0 → t`` and ``0.5 → 0`` as ``s`` goes ``t → 1``; any touched topic fails the check.
- required: each topic's best ``s`` maps the other way round; the answer's score is its weakest topic,
  and it fails when some topic is not touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalyst.checks import Check, CheckContext
from catalyst.records import CheckResult, Evidence

from ._textscan import bounded, clip, sentences


class TopicSpec(BaseModel):
    """One topic: a name for the evidence and a few phrases or example sentences that describe it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="shown in evidence, e.g. `medical advice`")
    examples: list[str] = Field(min_length=1, description="phrases or sentences typical of the topic")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="overrides the check's `similarity`")

    @field_validator("examples")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        v = [e.strip() for e in v]
        if not all(v):
            raise ValueError("topic examples must not be blank")
        return v


def banned_score(sim: float, t: float) -> float:
    """Similarity to a banned topic → confidence, 0.5 exactly at the threshold ``t``."""
    sim = min(1.0, max(0.0, sim))
    if sim < t:
        return 0.5 + 0.5 * (t - sim) / t
    return 0.5 * (1.0 - sim) / max(1e-9, 1.0 - t)


def required_score(sim: float, t: float) -> float:
    """Similarity to a required topic → confidence, 0.5 exactly at the threshold ``t``."""
    return 1.0 - banned_score(sim, t)


class Topic(Check):
    """Banned (or required) topics, matched per sentence by embedding similarity to each topic's examples."""

    name: ClassVar[str] = "topic"
    catches: ClassVar[str] = "answers that stray into banned subjects (or miss required ones)"
    cost: ClassVar[str] = "~2-8 ms per answer (MiniLM per sentence; topic examples embedded once)"

    topics: list[TopicSpec] = Field(
        min_length=1, description="the topics: `{name, examples, threshold?}` each, or a mapping `name: [examples]`"
    )
    mode: Literal["banned", "required"] = Field(
        default="banned", description="`banned`: no sentence may touch a topic; `required`: every topic must be touched"
    )
    similarity: float = Field(
        default=0.4, ge=0.0, le=1.0, description="cosine similarity at which a sentence touches a topic (MiniLM scale)"
    )
    field: Literal["output", "input"] = Field(default="output", description="which text to scan")
    backend: Literal["auto", "torch", "onnx-int8"] = Field(
        default="auto", description="embedding backend (see catalyst.embeddings)"
    )
    max_sentences: int = Field(
        default=200, ge=1, description="sentences embedded per answer; the rest is reported as unscanned"
    )
    max_chars: int = Field(default=100_000, ge=100, description="characters scanned per answer")

    @field_validator("topics", mode="before")
    @classmethod
    def _mapping(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return [{"name": k, "examples": [ex] if isinstance(ex, str) else ex} for k, ex in v.items()]
        return v

    def _t(self, topic: TopicSpec) -> float:
        return topic.threshold if topic.threshold is not None else self.similarity

    def run(self, ctx: CheckContext) -> CheckResult:
        return self.run_batch([ctx])[0]  # type: ignore[return-value]

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        from catalyst.embeddings import get_embedder

        examples = [ex for t in self.topics for ex in t.examples]
        owner = np.array([i for i, t in enumerate(self.topics) for _ in t.examples])
        plans = []
        texts: list[str] = []
        for c in ctxs:
            scan = bounded(c.output if self.field == "output" else c.input, self.max_chars)
            spans = sentences(scan.text, max_sentences=self.max_sentences)
            plans.append((scan, spans, len(texts)))
            texts.extend(scan.text[s:e] for s, e in spans)
        emb = get_embedder(self.backend)
        ex_vecs = emb.encode(examples)
        sent_vecs = emb.encode(texts) if texts else np.zeros((0, ex_vecs.shape[1]), dtype=np.float32)
        sims_all = sent_vecs @ ex_vecs.T  # (sentences, examples)
        # best similarity per (sentence, topic) and which example gave it
        per_topic = np.full((len(texts), len(self.topics)), -1.0, dtype=np.float32)
        best_ex = np.zeros((len(texts), len(self.topics)), dtype=np.int64)
        for k in range(len(self.topics)):
            cols = np.flatnonzero(owner == k)
            if len(texts):
                sub = sims_all[:, cols]
                per_topic[:, k] = sub.max(axis=1)
                best_ex[:, k] = cols[sub.argmax(axis=1)]
        return [
            self._one(scan, spans, per_topic[off : off + len(spans)], best_ex[off : off + len(spans)], examples)
            for scan, spans, off in plans
        ]

    def _one(
        self, scan: Any, spans: list[tuple[int, int]], sims: np.ndarray, best_ex: np.ndarray, examples: list[str]
    ) -> CheckResult:
        ev: list[Evidence] = []
        f = self.field
        cut = len(spans) >= self.max_sentences and spans and spans[-1][1] < len(scan.text.rstrip())
        if self.mode == "banned":
            score, hit = 1.0, False
            for k, topic in enumerate(self.topics):
                t = self._t(topic)
                for j, (s, e) in enumerate(spans):
                    sim = float(sims[j, k])
                    score = min(score, banned_score(sim, t))
                    if sim >= t:
                        hit = True
                        ev.append(
                            Evidence(
                                start=s,
                                end=e,
                                field=f,
                                text=scan.text[s:e][:300],
                                reason=(
                                    f"banned topic `{topic.name}` (similarity {sim:.2f} ≥ {t:.2f}, "
                                    f"like {clip(examples[int(best_ex[j, k])], 50)!r})"
                                ),
                            )
                        )
            passed = not hit
        else:
            score, passed = 1.0, True
            for k, topic in enumerate(self.topics):
                t = self._t(topic)
                col = sims[:, k] if len(spans) else np.array([0.0])
                j = int(np.argmax(col))
                best = float(col[j]) if len(spans) else 0.0
                score = min(score, required_score(best, t))
                if best < t:
                    passed = False
                    near = f"; closest: {clip(scan.text[spans[j][0] : spans[j][1]], 60)!r}" if spans else ""
                    ev.append(
                        Evidence(
                            start=0,
                            end=len(scan.text),
                            field=f,
                            reason=f"required topic `{topic.name}` not addressed (best {best:.2f} < {t:.2f}){near}",
                        )
                    )
        ev.sort(key=lambda x: x.start)
        ev += scan.evidence(f)
        if cut:
            ev.append(
                Evidence(
                    start=spans[-1][1],
                    end=scan.total,
                    field=f,
                    reason=f"not scanned: only the first {self.max_sentences} sentences are embedded",
                )
            )
        if scan.truncated or cut:
            return self.result(score * scan.share, evidence=ev, passed=False)
        return self.result(score, evidence=ev, passed=passed)
