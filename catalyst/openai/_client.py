"""The drop-in OpenAI client: ``client.chat.completions.create(...)`` returns the usual response, validated.

Everything but ``chat.completions.create`` is the wrapped client's own (delegated unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalyst.errors import Blocked, ConfigError
from catalyst.openai._stream import AsyncValidatedStream, ChunkChecker, ValidatedStream, chunk_steps
from catalyst.records import Decision, Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator
from catalyst.wrapping import Guard, RegenerateFailed
from catalyst.wrapping._chat import (
    choice_logprobs,
    choice_text,
    make_record,
    refusal_text,
    response_choices,
    retry_messages,
)

__all__ = ["wrap_client"]


class _Options:
    def __init__(self, guard: Guard, on_block: str, stream_checks: Sequence[str], retry: bool) -> None:
        if on_block not in ("raise", "refuse", "return"):
            raise ConfigError(f"on_block={on_block!r}; use 'refuse' (default), 'raise' or 'return'")
        self.guard = guard
        self.on_block = on_block
        self.steps = chunk_steps(guard.policy, list(stream_checks))
        self.retry = retry


def _split(kwargs: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Take Catalyst's own keyword arguments out of a ``create`` call: (messages, context, metadata)."""
    context = kwargs.pop("catalyst_context", None)
    meta = dict(kwargs.pop("catalyst_metadata", None) or {})
    sent_meta = kwargs.get("metadata")
    if context is None and isinstance(sent_meta, dict) and sent_meta.get("catalyst_context"):
        context = [str(sent_meta["catalyst_context"])]
    if kwargs.get("model"):
        meta.setdefault("model", kwargs["model"])
    messages = kwargs.get("messages")
    if messages is None:
        raise ConfigError("chat.completions.create needs `messages=`")
    return messages, context, meta


def _records(response: Any, messages: Any, context: Any, meta: dict[str, Any]) -> list[Interaction]:
    choices = response_choices(response)
    texts = [choice_text(c) for c in choices]
    return [make_record(messages, texts[i], context=context, logprobs=choice_logprobs(c), metadata=meta,
                        samples=[t for j, t in enumerate(texts) if j != i]) for i, c in enumerate(choices)]


def _apply(response: Any, verdicts: list[Verdict], on_block: str) -> Any:
    """Attach verdicts (``response.catalyst_verdict``, ``choice.catalyst_verdict``) and act on blocks."""
    choices = response_choices(response)
    for choice, v in zip(choices, verdicts, strict=False):
        choice.catalyst_verdict = v
        if v.decision is Decision.BLOCK and on_block == "refuse":
            choice.message.content = refusal_text(v)
            choice.finish_reason = "content_filter"
        elif v.output is not None and choice.message is not None:
            choice.message.content = v.output  # retried or redacted text
    response.catalyst_verdict = verdicts[0] if verdicts else None
    if on_block == "raise":
        blocked = [v for v in verdicts if v.decision is Decision.BLOCK]
        if blocked:
            v = blocked[0]
            raise Blocked(f"answer blocked by policy `{v.policy}`: {'; '.join(v.reasons[:3])}", verdict=v,
                          output=choice_text(choices[verdicts.index(v)]), response=response)
    return response


class _Completions:
    def __init__(self, inner: Any, opts: _Options) -> None:
        self._inner = inner
        self._opts = opts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _regenerate(self, kwargs: dict[str, Any], holder: list[Any]) -> Any:
        def regen(rec: Interaction, reasons: list[str]) -> str:
            try:
                resp = self._inner.create(**{**kwargs, "messages": retry_messages(kwargs["messages"], rec.output,
                                                                                  reasons)})
            except Exception as e:
                raise RegenerateFailed(e) from e
            holder[0] = resp
            return choice_text(response_choices(resp)[0])
        return regen

    def create(self, **kwargs: Any) -> Any:
        messages, context, meta = _split(kwargs)
        opts = self._opts
        if kwargs.get("stream"):
            return ValidatedStream(self._inner.create(**kwargs), opts.guard, messages, context, meta,
                                   ChunkChecker(opts.steps), opts.on_block)
        try:
            response = self._inner.create(**kwargs)
        except Exception as e:
            opts.guard.log_failure(make_record(messages, "", context=context,
                                               metadata={**meta, "error": f"{type(e).__name__}: {e}"}), e)
            raise
        records = _records(response, messages, context, meta)
        holder = [response]
        regen = self._regenerate(kwargs, holder) if opts.retry and len(records) == 1 else None
        verdicts = opts.guard.check(records, regen)
        return _apply(holder[0], verdicts, opts.on_block)


class _AsyncCompletions(_Completions):
    def _aregenerate(self, kwargs: dict[str, Any], holder: list[Any]) -> Any:
        async def regen(rec: Interaction, reasons: list[str]) -> str:
            try:
                resp = await self._inner.create(**{**kwargs, "messages": retry_messages(kwargs["messages"],
                                                                                        rec.output, reasons)})
            except Exception as e:
                raise RegenerateFailed(e) from e
            holder[0] = resp
            return choice_text(response_choices(resp)[0])
        return regen

    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        messages, context, meta = _split(kwargs)
        opts = self._opts
        if kwargs.get("stream"):
            return AsyncValidatedStream(await self._inner.create(**kwargs), opts.guard, messages, context, meta,
                                        ChunkChecker(opts.steps), opts.on_block)
        try:
            response = await self._inner.create(**kwargs)
        except Exception as e:
            opts.guard.log_failure(make_record(messages, "", context=context,
                                               metadata={**meta, "error": f"{type(e).__name__}: {e}"}), e)
            raise
        records = _records(response, messages, context, meta)
        holder = [response]
        regen = self._aregenerate(kwargs, holder) if opts.retry and len(records) == 1 else None
        verdicts = await opts.guard.acheck(records, regen)
        return _apply(holder[0], verdicts, opts.on_block)


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
        self.chat = _Chat(client.chat, comp_cls(client.chat.completions, opts))

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
                validator: Validator | None = None, on_block: str = "refuse", stream_checks: Sequence[str] = (),
                retry: bool = True, services: dict[str, Any] | None = None,
                flush_interval: float = 1.0) -> ValidatedClient:
    """Wrap an ``openai.OpenAI`` or ``openai.AsyncOpenAI``.

    ``create(...)`` returns the SDK's own response with ``response.catalyst_verdict`` (choice 0) and
    ``choice.catalyst_verdict`` (each choice; with ``n > 1`` the other choices are the samples). Extra
    keyword arguments: ``catalyst_context=[passages]``, ``catalyst_metadata={...}``.

    - ``on_block``: ``"refuse"`` replaces a blocked answer with a refusal and ``finish_reason=
      "content_filter"``; ``"raise"`` raises :class:`~catalyst.errors.Blocked`; ``"return"`` leaves it.
    - ``retry``: on a ``retry`` decision, re-ask with the rejected answer and the reasons appended to the
      messages (at most the policy's ``retry.max_retries``); the returned response is the last one.
    - Streams (``stream=True``) pass through chunk by chunk; ``stream.catalyst_verdict`` is set when the
      stream ends. ``stream_checks=["denylist"]`` cuts a stream whose text fails those checks.
    - A failed call logs a ``review`` verdict with the error and raises the SDK's exception unchanged.
    """
    import openai

    is_async = isinstance(client, openai.AsyncOpenAI)
    if not is_async and not isinstance(client, openai.OpenAI):
        raise ConfigError(f"wrap_client takes openai.OpenAI or openai.AsyncOpenAI, got {type(client).__name__}")
    guard = Guard(policy, store=store, validator=validator, services=services, flush_interval=flush_interval)
    return ValidatedClient(client, _Options(guard, on_block, stream_checks, retry), is_async)
