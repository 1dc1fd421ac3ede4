"""Confidence from the model's own token probabilities: mean and minimum token probability.

Where the log-probabilities come from (``source``):

- ``record``: the interaction's ``logprobs`` (one float per output token; add
  ``metadata.logprob_tokens`` with the token strings to get evidence spans). No model call.
- ``model``: ask the model. ``mode: score`` (default) teacher-forces the *given* answer through
  ``/v1/completions`` with ``echo`` and reads each answer token's logprob (llama.cpp, vLLM and other
  completion endpoints; not OpenAI chat models). ``mode: generate`` lets the model answer the same
  input again with ``logprobs`` and scores that fresh answer: the model's confidence on the question,
  meaningful when the answer came from the same model.
- ``auto`` (default): the record's when present, else the model.

The score is the ``aggregate`` (mean token probability, minimum, or geometric mean = exp(mean
logprob)) over the whole answer, or (``over: claims``) the weakest sentence's. Tokens below
``token_threshold`` and the weakest sentence are reported as evidence spans when token positions are known.
With record logprobs this check is cheap; put ``costly: true`` on it in a policy when it must call a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.errors import ModelCallError
from catalyst.llm import LLMConfig
from catalyst.records import CheckResult, Evidence
from catalyst_checks._model import llm_for, question_messages
from catalyst_checks._textscan import clip, sentences

__all__ = ["LogprobConfidence", "Token", "token_stats"]


@dataclass(slots=True, frozen=True)
class Token:
    """One scored token; ``start``/``end`` index the output when known."""

    text: str | None
    logprob: float
    start: int | None = None
    end: int | None = None

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


def token_stats(tokens: list[Token]) -> dict[str, float]:
    """Mean, minimum and geometric-mean probability of ``tokens`` (empty → all 0)."""
    if not tokens:
        return {"mean": 0.0, "min": 0.0, "geometric": 0.0, "n": 0}
    probs = [t.prob for t in tokens]
    return {"mean": sum(probs) / len(probs), "min": min(probs),
            "geometric": math.exp(sum(t.logprob for t in tokens) / len(tokens)), "n": len(tokens)}


class LogprobConfidence(Check):
    """Token-probability confidence of the answer (mean / min / geometric), over the answer or its sentences."""

    name: ClassVar[str] = "logprob"
    evidence: ClassVar[bool] = True
    costly: ClassVar[bool] = False
    catches: ClassVar[str] = "answers the model itself was unsure of (low token probabilities)"
    cost: ClassVar[str] = "free with record logprobs; one model call otherwise"

    source: Literal["auto", "record", "model"] = Field(default="auto", description="where logprobs come from")
    mode: Literal["score", "generate"] = Field(default="score", description="how the model is asked (source=model)")
    aggregate: Literal["mean", "min", "geometric"] = Field(default="mean", description="token probabilities → score")
    over: Literal["answer", "claims"] = Field(default="answer", description="whole answer, or the weakest sentence")
    token_threshold: float = Field(default=0.1, ge=0.0, le=1.0, description="tokens below this are evidence")
    prompt_template: str = Field(default="{input}\n", description="text before the answer when scoring (mode=score)")
    max_tokens: int = Field(default=256, ge=1, description="longest regenerated answer (mode=generate)")
    llm: LLMConfig | None = Field(default=None, description="own endpoint; default: the runtime's services['llm']")

    async def run(self, ctx: CheckContext) -> CheckResult:
        use_record = self.source == "record" or (self.source == "auto" and ctx.logprobs)
        if use_record:
            if not ctx.logprobs:
                raise ValueError("check `logprob` has source=record but the record has no `logprobs`; "
                                 "add them or use source: auto")
            tokens, where = self._from_record(ctx), "record"
        elif self.mode == "score":
            tokens, where = await self._score(ctx), "model:score"
        else:
            tokens, where, generated = await self._generate(ctx)
            return self._result(ctx, tokens, where, spans_on_output=False, generated=generated)
        return self._result(ctx, tokens, where, spans_on_output=True)

    # -- sources --------------------------------------------------------------------------------
    def _from_record(self, ctx: CheckContext) -> list[Token]:
        lps = [float(x) for x in ctx.logprobs or []]
        for x in lps:
            if not (x <= 0.0 and math.isfinite(x)):
                raise ValueError(f"record logprobs must be finite and <= 0 (natural log); got {x!r}")
        texts = ctx.metadata.get("logprob_tokens")
        if isinstance(texts, list) and len(texts) == len(lps) and "".join(map(str, texts)) == ctx.output:
            out, pos = [], 0
            for t, lp in zip(texts, lps, strict=True):
                out.append(Token(str(t), lp, pos, pos + len(str(t))))
                pos += len(str(t))
            return out
        return [Token(None, lp) for lp in lps]

    async def _score(self, ctx: CheckContext) -> list[Token]:
        llm, model = llm_for(ctx, self.llm, self.name)
        prefix = self.prompt_template.format(input=ctx.input) if ctx.input else ""
        start, end = len(prefix), len(prefix) + len(ctx.output)
        resp = await llm.acomplete(prefix + ctx.output, model=model, key=ctx.record.id, echo=True, max_tokens=1,
                                   logprobs=0, temperature=0)
        lp = getattr(resp.choices[0], "logprobs", None)
        toks, lps, offs = (getattr(lp, "tokens", None), getattr(lp, "token_logprobs", None),
                           getattr(lp, "text_offset", None)) if lp is not None else (None, None, None)
        if not toks or lps is None or offs is None or not (len(toks) == len(lps) == len(offs)):
            raise ModelCallError("logprob: the completion endpoint returned no echoed token logprobs; it may not "
                                 "support `echo` (OpenAI chat models do not): use mode: generate")
        out = []
        for t, x, o in zip(toks, lps, offs, strict=True):
            if x is None or o is None:
                continue
            t_end = o + len(t)
            if t_end <= start or o >= end:  # prompt tokens, or the one generated token
                continue
            out.append(Token(t, float(x), max(0, o - start), min(len(ctx.output), t_end - start)))
        if not out and ctx.output.strip():
            raise ModelCallError("logprob: none of the echoed tokens fall inside the answer; the endpoint's "
                                 "text_offset values do not line up with the prompt")
        return out

    async def _generate(self, ctx: CheckContext) -> tuple[list[Token], str, str]:
        llm, model = llm_for(ctx, self.llm, self.name)
        resp = await llm.achat(question_messages(ctx, self.name), model=model, key=ctx.record.id, logprobs=True,
                               temperature=0, max_tokens=self.max_tokens)
        choice = resp.choices[0]
        content = getattr(getattr(choice, "logprobs", None), "content", None)
        if not content:
            raise ModelCallError("logprob: the chat endpoint returned no token logprobs (logprobs=true ignored?)")
        text = getattr(choice.message, "content", "") or ""
        return [Token(t.token, float(t.logprob)) for t in content], "model:generate", text

    # -- scoring ---------------------------------------------------------------------------------
    def _result(self, ctx: CheckContext, tokens: list[Token], where: str, *, spans_on_output: bool,
                generated: str | None = None) -> CheckResult:
        stats = token_stats(tokens)
        details: dict[str, Any] = {"source": where, "tokens": stats["n"], "mean_prob": round(stats["mean"], 4),
                                   "min_prob": round(stats["min"], 4), "geometric_prob": round(stats["geometric"], 4)}
        if generated is not None:
            details["generated"] = generated
        if not tokens:
            return self.unscored("no token logprobs to score", **details)
        evidence: list[Evidence] = []
        score = stats[self.aggregate]
        positioned = spans_on_output and all(t.start is not None for t in tokens)
        if self.over == "claims" and positioned:
            claims = []
            for s, e in sentences(ctx.output):
                inside = [t for t in tokens if t.start is not None and t.end is not None and t.start < e
                          and t.end > s]
                if inside:
                    claims.append((s, e, token_stats(inside)[self.aggregate]))
            if claims:
                s, e, worst = min(claims, key=lambda c: c[2])
                score = worst
                details["claims"] = [{"start": a, "end": b, "score": round(v, 4)} for a, b, v in claims]
                if worst < self.threshold:
                    evidence.append(Evidence(start=s, end=e, text=ctx.output[s:e],
                                             reason=f"weakest sentence: {self.aggregate} token probability "
                                                    f"{worst:.2f}"))
        elif self.over == "claims":
            details["over"] = "answer (token positions unknown)"
        low = sorted((t for t in tokens if t.prob < self.token_threshold), key=lambda t: t.logprob)[:5]
        details["low_tokens"] = [{"token": t.text, "prob": round(t.prob, 4)} for t in low]
        if positioned:
            for t in low:
                assert t.start is not None and t.end is not None
                evidence.append(Evidence(start=t.start, end=max(t.start, t.end), text=ctx.output[t.start:t.end],
                                         reason=f"token {clip(t.text or '', 30)!r} has probability {t.prob:.3f}"))
        return self.result(score, evidence=evidence, **details)
