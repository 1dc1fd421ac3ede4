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
from dataclasses import dataclass
from typing import Any

from catalyst.checks import CheckContext, to_result
from catalyst.errors import ConfigError
from catalyst.openai._exchange import ExchangeIO, StreamState, as_async, relay, sync_iter
from catalyst.openai._wire import Request, blocked
from catalyst.policy import CompiledPolicy
from catalyst.policy._compile import Step
from catalyst.records import Decision, Interaction, Verdict
from catalyst.wrapping import OnBlock

__all__ = ["AsyncValidatedStream", "ChunkChecker", "ValidatedStream", "chunk_steps"]


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


class _Base:
    def __init__(self, upstream: Any, request: Request, io: ExchangeIO, checker: ChunkChecker,
                 on_block: OnBlock) -> None:
        self.upstream = upstream
        self.io = io
        self.on_block = on_block
        self.state = StreamState(request, checker.ok if checker.steps else None, lambda: checker.failed)

    def __getattr__(self, name: str) -> Any:  # response, close, etc. of the SDK stream
        return getattr(self.upstream, name)

    @property
    def catalyst_verdicts(self) -> list[Verdict]:
        """Every choice's verdict (empty until the stream ended)."""
        return self.state.verdicts

    @property
    def catalyst_verdict(self) -> Verdict | None:
        """Choice 0's verdict (None until the stream ended)."""
        return self.state.verdicts[0] if self.state.verdicts else None

    @property
    def cut_off(self) -> bool:
        return self.state.cut_off

    @staticmethod
    def _chunk(item: Any) -> Any:
        if isinstance(item, dict):  # the cut-off chunk
            from openai.types.chat import ChatCompletionChunk

            return ChatCompletionChunk.model_validate(item)
        return item

    def _ended(self) -> None:
        if self.on_block == "raise":
            texts = [self.state.acc.text(i) for i in sorted(self.state.acc.texts) or [0]]
            err = blocked(self.state.verdicts, texts, what="streamed answer")
            if err is not None:
                raise err


class ValidatedStream(_Base):
    """A sync SDK ``Stream`` passed through chunk by chunk; ``catalyst_verdict`` is set when it ends."""

    async def _close(self) -> None:
        self.upstream.close()

    def __iter__(self) -> Iterator[Any]:
        with contextlib.closing(sync_iter(relay(as_async(self.upstream), self.state, self.io, self._close))) as items:
            for item in items:
                yield self._chunk(item)
        self._ended()

    def __enter__(self) -> ValidatedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.upstream.close()


class AsyncValidatedStream(_Base):
    """An ``AsyncStream`` passed through chunk by chunk; ``catalyst_verdict`` is set when it ends."""

    async def _close(self) -> None:
        await self.upstream.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        items = relay(self.upstream, self.state, self.io, self._close)
        try:
            async for item in items:
                yield self._chunk(item)
        finally:
            await items.aclose()  # type: ignore[attr-defined]
        self._ended()

    async def __aenter__(self) -> AsyncValidatedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.upstream.close()
