"""One validated chat completion, written once as async code and run by every front end.

:func:`complete` (one completion) and :func:`relay` (one stream) are the whole exchange: call the model,
log a ``review`` when the call failed, validate the answer, re-ask on a ``retry`` decision (and keep the
last response), cut a stream when a chunk check fires, validate it when it ends. Everything that touches
the outside world comes in through an :class:`ExchangeIO`: the async drop-in client and the proxy give
truly async ones; the sync drop-in client gives one whose ``async`` methods just call the sync SDK and
:meth:`Guard.check`, and drives the same coroutine with :func:`run_sync` — no event loop, no thread, and
no second copy of the logic (httpx's pattern of I/O-free logic shared by both clients, taken one step
further: the control flow is shared too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, Protocol, TypeVar

from catalyst import _sync
from catalyst.errors import RegenerateFailed
from catalyst.flow import Regenerate
from catalyst.openai._wire import Request, StreamAccumulator, cut_chunk
from catalyst.records import Interaction, Verdict
from catalyst.wrapping._chat import choice_text, response_choices

__all__ = ["ExchangeIO", "StreamState", "complete", "relay", "run_sync", "sync_iter"]

T = TypeVar("T")
AsyncRegenerate = Callable[[Interaction, list[str]], Coroutine[Any, Any, str]]


class ExchangeIO(Protocol):
    """The outside world of one exchange."""

    async def send(self, body: dict[str, Any]) -> Any:
        """Call the model with a request body (``create()``'s keyword arguments); raise on failure."""

    async def check(self, records: list[Interaction], regenerate: AsyncRegenerate | None) -> list[Verdict]:
        """Validate and log ``records``; ``regenerate`` re-asks the model (it is async: adapt it if needed)."""

    async def fail(self, record: Interaction, error: BaseException) -> Verdict:
        """Log (and return) the ``review`` verdict of a model call that failed."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Drive a never-suspending coroutine to its result without a loop (:func:`catalyst._sync.run_sync`)."""
    return _sync.run_sync(coro, loop=False)


def sync_regenerate(regenerate: AsyncRegenerate | None) -> Regenerate | None:
    """The sync face of a never-suspending async ``regenerate`` (for :meth:`Guard.check`)."""
    if regenerate is None:
        return None
    return lambda rec, reasons: run_sync(regenerate(rec, reasons))


async def complete(request: Request, io: ExchangeIO, *, retry: bool) -> tuple[Any, list[Verdict]]:
    """Call the model, validate every choice, re-ask on ``retry`` (one choice only); returns the last response
    and the verdicts. A failed first call is logged as a review and re-raised unchanged."""
    try:
        response = await io.send(request.body)
    except Exception as e:
        await io.fail(request.failure_record(e), e)
        raise
    latest = [response]

    async def regenerate(rec: Interaction, reasons: list[str]) -> str:
        try:
            again = await io.send(request.retry_body(rec.output, reasons))
        except Exception as e:
            raise RegenerateFailed(e) from e
        latest[0] = again
        choices = response_choices(again)
        return choice_text(choices[0]) if choices else ""

    records = request.records(response)
    if not records:
        err = ValueError("the model answered without any choice")
        return response, [await io.fail(request.failure_record(err), err)]
    verdicts = await io.check(records, regenerate if retry and len(records) == 1 else None)
    return latest[0], verdicts


class StreamState:
    """What one stream carries along: the request, the text so far, the chunk checks, the verdicts at the end."""

    def __init__(self, request: Request, chunk_ok: Callable[[str, Any, dict[str, Any]], bool] | None,
                 cut_by: Callable[[], str | None]) -> None:
        self.request = request
        self.acc = StreamAccumulator()
        self._chunk_ok = chunk_ok
        self._cut_by = cut_by
        self.cut_off = False
        self.verdicts: list[Verdict] = []

    def admit(self, chunk: Any) -> bool:
        """Add a chunk; False when a chunk check fired (the chunk is withheld and the stream ends)."""
        touched = self.acc.add(chunk)
        if self._chunk_ok is not None:
            req = self.request
            for i in touched:
                if not self._chunk_ok(self.acc.text(i), req.messages, req.metadata):
                    self.cut_off = True
                    return False
        return True

    def records(self, **metadata: Any) -> list[Interaction]:
        if self.cut_off:
            metadata["stream_cut_by"] = self._cut_by()
        return self.acc.records(self.request, **metadata)


async def relay(chunks: AsyncIterator[Any], state: StreamState, io: ExchangeIO,
                close: Callable[[], Awaitable[None]]) -> AsyncIterator[Any]:
    """Pass ``chunks`` on as they come; on a chunk check, withhold that chunk, ``close()`` the upstream and end
    with :func:`cut_chunk` (a dict). At the end ``state.verdicts`` holds the verdicts (also when the caller
    stopped reading early); a broken stream logs a ``review`` with what came so far and re-raises."""
    try:
        async for chunk in chunks:
            if not state.admit(chunk):
                with contextlib.suppress(Exception):
                    await close()
                yield cut_chunk(state.acc)
                break
            yield chunk
    except (GeneratorExit, asyncio.CancelledError):  # the caller stopped reading or went away: judge what it got
        state.verdicts = await io.check(state.records(partial=True, stopped_by_caller=True), None)
        raise
    except Exception as e:
        rec = state.request.failure_record(e, state.acc.text(0), partial=True)
        state.verdicts = [await io.fail(rec, e)]
        raise
    state.verdicts = await io.check(state.records(), None)


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def sync_iter(agen: AsyncIterator[T]) -> Generator[T, None, None]:
    """Iterate a never-suspending async generator from sync code (closing it when the caller stops)."""
    try:
        while True:
            try:
                item: T = run_sync(agen.__anext__())  # type: ignore[arg-type]
            except StopAsyncIteration:
                return
            yield item
    finally:
        run_sync(agen.aclose())  # type: ignore[attr-defined]


def as_async(items: Iterable[T]) -> AsyncIterator[T]:
    """A sync iterable as an async one that never suspends (for :func:`sync_iter`)."""
    return _aiter(items)
