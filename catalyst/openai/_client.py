"""The drop-in OpenAI client: ``client.chat.completions.create(...)`` returns the usual response, validated.

Everything but ``chat.completions.create`` is the wrapped client's own (delegated unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalyst.errors import ConfigError
from catalyst.llm import LLMConfig, Retryable, RetryRule, sdk_failure
from catalyst.openai._exchange import AsyncRegenerate, complete, run_sync, sync_regenerate
from catalyst.openai._stream import AsyncValidatedStream, ChunkChecker, ValidatedStream, chunk_steps
from catalyst.openai._wire import (
    DEFAULT_ON_BLOCK,
    Request,
    attach,
    blocked,
    check_on_block,
    deliver,
    describe_failure,
)
from catalyst.records import Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator
from catalyst.wrapping import Guard, OnBlock
from catalyst.wrapping._chat import choice_text, response_choices

__all__ = ["wrap_client"]


class _Options:
    def __init__(self, guard: Guard, on_block: str, stream_checks: Sequence[str], retry: bool) -> None:
        self.guard = guard
        self.on_block = check_on_block(on_block)
        self.steps = chunk_steps(guard.policy, list(stream_checks))
        self.retry = retry

    def finish(self, response: Any, verdicts: list[Verdict]) -> Any:
        """Deliver (retried, redacted or refused text), attach the verdicts, raise on a block if asked to."""
        deliver(response, verdicts, self.on_block)
        attach(response, verdicts, "catalyst_verdict", lambda v: v)
        if self.on_block == "raise":
            err = blocked(verdicts, [choice_text(c) for c in response_choices(response)], response)
            if err is not None:
                raise err
        return response


def retry_config(client: Any) -> LLMConfig:
    """catalyst.llm's retry rule with the SDK client's own settings: its ``max_retries`` and ``timeout``, the
    SDK's backoff range (0.5 s doubling up to 8 s) and ``Retry-After`` honoured up to 60 s."""
    t = client.timeout
    timeout = float(t) if isinstance(t, int | float) else float(getattr(t, "read", None) or 600.0)
    return LLMConfig(max_retries=min(20, int(client.max_retries)), timeout=timeout, deadline=None,
                     backoff_initial=0.5, backoff_max=8.0, retry_after_max=60.0, budget_calls=None,
                     budget_tokens=None)


class _SyncIO:
    """The exchange's outside world for the sync SDK: each ``async`` method only reaches sync code (it never
    suspends, so :func:`run_sync` can drive it). Model calls run under catalyst.llm's retry rule (the SDK's
    own retries are off for them); the last attempt's SDK exception is raised as is."""

    def __init__(self, create: Any, guard: Guard, rule: LLMConfig) -> None:
        self.create = create
        self.guard = guard
        self.rule = rule

    async def _call(self, body: dict[str, Any]) -> Any:
        return self.create(**body)

    async def _attempt(self, body: dict[str, Any]) -> Any:
        try:
            response = await self._call(body)
        except Exception as e:
            again = sdk_failure(e)
            if again is not None:
                raise again from e
            raise
        if not body.get("stream") and not response_choices(response):
            err = ValueError("the model answered without any choice")
            raise Retryable(str(err), result=err)
        return response

    async def _retried(self, body: dict[str, Any]) -> Any:
        return RetryRule(self.rule).run(lambda: run_sync(self._attempt(body)))

    async def send(self, body: dict[str, Any]) -> Any:
        try:
            return await self._retried(body)
        except Retryable as e:
            err: BaseException = e.result
            err.__suppress_context__ = True
            raise err from err.__cause__

    async def check(self, records: list[Interaction], regenerate: AsyncRegenerate | None) -> list[Verdict]:
        return self.guard.check(records, sync_regenerate(regenerate))

    async def fail(self, record: Interaction, error: BaseException) -> Verdict:
        return self.guard.log_failure(record, describe_failure(error))


class _AsyncIO(_SyncIO):
    async def _call(self, body: dict[str, Any]) -> Any:
        return await self.create(**body)

    async def _retried(self, body: dict[str, Any]) -> Any:
        return await RetryRule(self.rule).arun(self._attempt, body)

    async def check(self, records: list[Interaction], regenerate: AsyncRegenerate | None) -> list[Verdict]:
        return await self.guard.acheck(records, regenerate)


class _Completions:
    """``chat.completions`` with a validated ``create``; the sync shell around :func:`complete`."""

    _io_cls: type[_SyncIO] = _SyncIO

    def __init__(self, inner: Any, opts: _Options, rule: LLMConfig) -> None:
        self._inner = inner
        self._opts = opts
        self._io = self._io_cls(inner.create, opts.guard, rule)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _stream(self, request: Request, upstream: Any, cls: Any) -> Any:
        return cls(upstream, request, self._io, ChunkChecker(self._opts.steps), self._opts.on_block)

    def create(self, **kwargs: Any) -> Any:
        request = Request.parse(kwargs)
        if request.stream:
            return self._stream(request, run_sync(self._io.send(request.body)), ValidatedStream)
        return self._opts.finish(*run_sync(complete(request, self._io, retry=self._opts.retry)))


class _AsyncCompletions(_Completions):
    """The async shell around the same :func:`complete`."""

    _io_cls = _AsyncIO

    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        request = Request.parse(kwargs)
        if request.stream:
            return self._stream(request, await self._io.send(request.body), AsyncValidatedStream)
        return self._opts.finish(*await complete(request, self._io, retry=self._opts.retry))


class _Chat:
    def __init__(self, inner: Any, completions: _Completions) -> None:
        self._inner = inner
        self.completions = completions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ValidatedClient:
    """An ``openai.OpenAI`` / ``AsyncOpenAI`` whose chat completions are validated. ``.guard`` holds the
    validator and the log; ``.close()`` flushes the log and closes the client."""

    def __init__(self, client: Any, opts: _Options, is_async: bool) -> None:
        self._client = client
        self.guard = opts.guard
        comp_cls = _AsyncCompletions if is_async else _Completions
        quiet = client.with_options(max_retries=0)  # retries are catalyst.llm's rule's, with the client's settings
        self.chat = _Chat(client.chat, comp_cls(quiet.chat.completions, opts, retry_config(client)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def flush(self) -> int:
        return self.guard.flush()

    def close(self) -> None:
        self.guard.close()
        close = self._client.close()
        if hasattr(close, "close"):  # AsyncOpenAI.close() is a coroutine: close it without a loop
            close.close()

    async def aclose(self) -> None:
        import asyncio

        await asyncio.to_thread(self.guard.close)
        await self._client.close()

    def __enter__(self) -> ValidatedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ValidatedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def wrap_client(client: Any, policy: PolicyLike = "default", *, store: Store | str | Path | None = None,
                validator: Validator | None = None, on_block: OnBlock = DEFAULT_ON_BLOCK,
                stream_checks: Sequence[str] = (), retry: bool = True, services: dict[str, Any] | None = None,
                flush_interval: float = 1.0) -> ValidatedClient:
    """Wrap an ``openai.OpenAI`` or ``openai.AsyncOpenAI``.

    ``create(...)`` returns the SDK's own response with ``response.catalyst_verdict`` (choice 0) and
    ``choice.catalyst_verdict`` (each choice; with ``n > 1`` the other choices are the samples). Extra
    keyword arguments: ``catalyst_context=[passages]``, ``catalyst_metadata={...}``.

    Catalyst's own arguments are checked before anything is sent: a bad one raises
    :class:`~catalyst.errors.RecordError` naming it.

    - ``on_block``: ``"raise"`` (the default, as in ``catalyst.wrap``) raises :class:`~catalyst.errors.Blocked`
      carrying the verdict, the withheld text and the response; ``"refuse"`` replaces a blocked answer with a
      refusal saying why and ``finish_reason="content_filter"`` (what the proxy does); ``"return"`` leaves it.
    - ``retry``: on a ``retry`` decision, re-ask with the rejected answer and the reasons appended to the
      messages (at most the policy's ``retry.max_retries``); the returned response is the last one.
    - Streams (``stream=True``) pass through chunk by chunk; ``stream.catalyst_verdict`` is set when the
      stream ends (and, under ``on_block="raise"``, a blocked stream raises then). ``stream_checks=["denylist"]``
      cuts a stream whose text fails those checks.
    - Model calls (the first, re-asks, opening a stream) are retried by catalyst.llm's one rule (408, 409, 429,
      5xx but 501/505, timeouts, dropped connections; backoff with jitter; ``Retry-After`` honoured), taking
      the client's ``max_retries`` and ``timeout``; the SDK's own retry loop is off for them.
    - A failed call logs a ``review`` verdict with the error and raises the SDK's exception unchanged.
    """
    import openai

    is_async = isinstance(client, openai.AsyncOpenAI)
    if not is_async and not isinstance(client, openai.OpenAI):
        raise ConfigError(f"wrap_client takes openai.OpenAI or openai.AsyncOpenAI, got {type(client).__name__}")
    guard = Guard(policy, store=store, validator=validator, services=services, flush_interval=flush_interval)
    return ValidatedClient(client, _Options(guard, on_block, stream_checks, retry), is_async)
