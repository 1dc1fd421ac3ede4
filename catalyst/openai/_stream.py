"""Streams validated when they end: chunks pass through as they arrive, the verdict comes at the end.

Optional *chunk checks* (``stream_checks=["denylist", "secrets"]``) run on the text received so far
before each chunk is handed on. When one fails and the policy's rule for it is ``block``, the chunk
that completed the offending text is withheld, the upstream stream is closed, and a last chunk with
``finish_reason="content_filter"`` ends the stream. Only checks whose failure cannot be undone by more
text belong there (deny-lists, secrets, PII), not ``non_empty`` or minimum lengths.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalyst.checks import CheckContext, to_result
from catalyst.errors import Blocked, ConfigError
from catalyst.policy import CompiledPolicy
from catalyst.policy._compile import Step
from catalyst.records import Decision, Interaction, Verdict
from catalyst.wrapping import Guard
from catalyst.wrapping._chat import make_record

__all__ = ["AsyncValidatedStream", "ChunkChecker", "StreamAccumulator", "ValidatedStream"]


def chunk_steps(policy: CompiledPolicy, labels: Sequence[str]) -> list[Step]:
    """The policy's steps named in ``labels``; fails now if one is missing, costly, async or not a block rule."""
    by_label = {s.label: s for s in policy.default.steps}
    steps = []
    for label in labels:
        step = by_label.get(label)
        if step is None:
            raise ConfigError(f"stream check `{label}` is not in policy `{policy.name}`; "
                              f"its checks: {', '.join(sorted(by_label))}")
        if step.costly or type(step.check).is_async():
            raise ConfigError(f"stream check `{label}` is costly or async; chunk checks must be cheap sync checks")
        if step.on_fail is not Decision.BLOCK:
            raise ConfigError(f"stream check `{label}` has no `on_fail: block` rule in policy `{policy.name}`; "
                              "a stream is only cut where the policy would block the answer anyway")
        steps.append(step)
    return steps


@dataclass
class ChunkChecker:
    """Runs the chunk checks on a growing text; ``failed`` names the first that fired."""

    steps: list[Step]
    failed: str | None = None

    def ok(self, text: str, input: Any, metadata: dict[str, Any]) -> bool:
        if not self.steps or not text:
            return True
        rec = Interaction.model_construct(id="stream", input=input, output=text, context=[], samples=[],
                                          logprobs=None, metadata=metadata, label=None)
        for step in self.steps:
            try:
                res = to_result(step.check, step.check.run(CheckContext(rec)), step.label)
            except Exception:  # a broken check is judged at the end (review); it cannot cut a stream
                continue
            if not res.passed and res.error is None:
                self.failed = step.label
                return False
        return True


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


@dataclass
class StreamAccumulator:
    """Collects text, logprobs and finish reasons per choice index from chat completion chunks."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    logprobs: dict[int, list[float]] = field(default_factory=dict)
    finish: dict[int, str | None] = field(default_factory=dict)
    last: Any = None

    def add(self, chunk: Any) -> list[int]:
        """Add a chunk (SDK object or dict); returns the choice indexes it touched."""
        self.last = chunk
        touched = []
        for ch in _get(chunk, "choices") or []:
            i = int(_get(ch, "index") or 0)
            touched.append(i)
            delta = _get(ch, "delta")
            piece = _get(delta, "content") if delta is not None else _get(ch, "text")
            self.texts.setdefault(i, [])
            if isinstance(piece, str) and piece:
                self.texts[i].append(piece)
            lp = _get(ch, "logprobs")
            content = _get(lp, "content") if lp is not None else None
            if content:
                self.logprobs.setdefault(i, []).extend(
                    float(v) for v in (_get(t, "logprob") for t in content) if isinstance(v, int | float))
            if _get(ch, "finish_reason"):
                self.finish[i] = _get(ch, "finish_reason")
        return touched

    def text(self, i: int) -> str:
        return "".join(self.texts.get(i, []))

    def records(self, messages: Any, context: Any, metadata: dict[str, Any]) -> list[Interaction]:
        idx = sorted(self.texts) or [0]
        texts = {i: self.text(i) for i in idx}
        return [make_record(messages, texts[i], context=context, logprobs=self.logprobs.get(i) or None,
                            samples=[texts[j] for j in idx if j != i], metadata=metadata) for i in idx]


class _Base:
    def __init__(self, upstream: Any, guard: Guard, messages: Any, context: Any, metadata: dict[str, Any],
                 checker: ChunkChecker, on_block: str) -> None:
        self.upstream = upstream
        self.guard = guard
        self.messages = messages
        self.context = context
        self.metadata = metadata
        self.checker = checker
        self.on_block = on_block
        self.acc = StreamAccumulator()
        #: the verdict of choice 0 (None until the stream ended), and every choice's verdict
        self.catalyst_verdict: Verdict | None = None
        self.catalyst_verdicts: list[Verdict] = []
        self.cut_off = False

    def __getattr__(self, name: str) -> Any:  # response, close, etc. of the SDK stream
        return getattr(self.upstream, name)

    def _admit(self, chunk: Any) -> bool:
        """Add a chunk; False when a chunk check fired (the chunk is withheld, the stream ends)."""
        touched = self.acc.add(chunk)
        if self.checker.steps:
            for i in touched:
                if not self.checker.ok(self.acc.text(i), self.messages, self.metadata):
                    self.cut_off = True
                    return False
        return True

    def _cut_chunk(self) -> Any:
        from openai.types.chat import ChatCompletionChunk

        last = self.acc.last
        return ChatCompletionChunk.model_validate({
            "id": _get(last, "id") or "catalyst-cut", "object": "chat.completion.chunk",
            "created": _get(last, "created") or 0, "model": _get(last, "model") or "",
            "choices": [{"index": i, "delta": {}, "finish_reason": "content_filter"} for i in sorted(self.acc.texts)
                        if self.acc.finish.get(i) is None]})

    def _records(self) -> list[Interaction]:
        meta = dict(self.metadata)
        if self.cut_off:
            meta["stream_cut_by"] = self.checker.failed
        return self.acc.records(self.messages, self.context, meta)

    def _set(self, verdicts: list[Verdict]) -> None:
        self.catalyst_verdicts = verdicts
        self.catalyst_verdict = verdicts[0]
        if self.on_block == "raise" and any(v.decision is Decision.BLOCK for v in verdicts):
            v = next(v for v in verdicts if v.decision is Decision.BLOCK)
            raise Blocked(f"streamed answer blocked by policy `{v.policy}`: {'; '.join(v.reasons[:3])}",
                          verdict=v, output=self.acc.text(0))

    def _stopped_early(self) -> None:
        self.metadata = {**self.metadata, "partial": True, "stopped_by_caller": True}
        verdicts = self.guard.check(self._records())
        self.catalyst_verdicts, self.catalyst_verdict = verdicts, verdicts[0]

    def _failed(self, e: BaseException) -> None:
        rec = make_record(self.messages, self.acc.text(0), context=self.context,
                          metadata={**self.metadata, "error": f"{type(e).__name__}: {e}", "partial": True})
        self.catalyst_verdict = self.guard.log_failure(rec, e)
        self.catalyst_verdicts = [self.catalyst_verdict]


class ValidatedStream(_Base):
    """A sync SDK ``Stream`` passed through chunk by chunk; ``catalyst_verdict`` is set when it ends."""

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self.upstream:
                if not self._admit(chunk):
                    with contextlib.suppress(Exception):
                        self.upstream.close()
                    yield self._cut_chunk()
                    break
                yield chunk
        except GeneratorExit:  # the caller stopped reading: judge what it received
            self._stopped_early()
            raise
        except Exception as e:
            self._failed(e)
            raise
        self._set(self.guard.check(self._records()))

    def __enter__(self) -> ValidatedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.upstream.close()


class AsyncValidatedStream(_Base):
    """An ``AsyncStream`` passed through chunk by chunk; ``catalyst_verdict`` is set when it ends."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self.upstream:
                if not self._admit(chunk):
                    with contextlib.suppress(Exception):
                        await self.upstream.close()
                    yield self._cut_chunk()
                    break
                yield chunk
        except GeneratorExit:
            self._stopped_early()
            raise
        except Exception as e:
            self._failed(e)
            raise
        self._set(await self.guard.acheck(self._records()))

    async def __aenter__(self) -> AsyncValidatedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.upstream.close()
