"""``catalyst.wrap``: validate what any function returns, retry per policy, log every verdict.

>>> @catalyst.wrap(policy="default", store="log.duckdb")
... def ask(question: str, feedback: str | None = None) -> str:
...     return my_model(question if feedback is None else f"{question}\\n\\n{feedback}")
>>> answer = ask("When was the Eiffel Tower built?", catalyst_context=["...built 1887-1889..."])
>>> answer.output, answer.decision, answer.confidence
('In 1889.', <Decision.ACCEPT: 'accept'>, 0.93)

The wrapped function may be sync or async and may return text or an OpenAI ``ChatCompletion``; the
wrapper returns a :class:`Validated` (``.output``, ``.verdict``, ``.response``). Outcomes:

- **accept / review**: returned; a review is also queued for a person (``catalyst review``).
- **block**: ``on_block="raise"`` (default) raises :class:`~catalyst.errors.Blocked` carrying the
  verdict; ``"refuse"`` returns a refusal text in ``.output``; ``"return"`` returns the answer as is.
- **retry** (a check with ``on_fail: retry``): the model is re-asked with the reasons, at most the
  policy's ``retry.max_retries`` times; only the final answer's verdict is logged. How it re-asks:
  ``regenerate=`` if given; else, if the function has a ``feedback`` parameter, it is called again
  with ``feedback=<the reasons, as an instruction>``; else, if it was called with chat messages, the
  rejected answer and the reasons are appended to them; else it is simply called again.
- **the function raises** (model unreachable, timeout...): a ``review`` verdict with the error is
  logged and the exception propagates unchanged.

Per call, ``catalyst_context=`` (passages the answer must be grounded in) and ``catalyst_metadata=``
are taken out of the keyword arguments before the function is called.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from catalyst._sync import run_sync
from catalyst.errors import Blocked, ConfigError, RegenerateFailed
from catalyst.records import Decision, Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator
from catalyst.wrapping._chat import (
    choice_logprobs,
    choice_text,
    feedback_text,
    is_messages,
    make_record,
    pop_extras,
    refusal_text,
    response_choices,
    retry_messages,
)
from catalyst.wrapping._guard import Guard

__all__ = ["OnBlock", "Validated", "wrap"]

T = TypeVar("T")
OnBlock = Literal["raise", "refuse", "return"]
_INPUT_KEYS = ("messages", "prompt", "question", "query", "input", "text")


@dataclass(frozen=True, slots=True)
class Validated(Generic[T]):
    """An answer with its verdict. ``output`` is the text to use (retried or redacted text when it changed);
    ``response`` is what the function returned on its last attempt."""

    output: str
    verdict: Verdict
    response: T

    @property
    def decision(self) -> Decision:
        return self.verdict.decision

    @property
    def confidence(self) -> float | None:
        return self.verdict.confidence

    @property
    def reasons(self) -> list[str]:
        return self.verdict.reasons

    @property
    def accepted(self) -> bool:
        return self.verdict.decision is Decision.ACCEPT

    def __str__(self) -> str:
        return self.output


def output_of(value: Any) -> tuple[str, list[float] | None]:
    """Text (and token logprobs) from what a model call returned: a str or a chat completion."""
    if isinstance(value, str):
        return value, None
    choices = response_choices(value)
    if choices:
        return choice_text(choices[0]), choice_logprobs(choices[0])
    raise ConfigError(f"the wrapped function returned {type(value).__name__}; catalyst.wrap validates functions "
                      "that return text (str) or an OpenAI chat completion")


@dataclass(slots=True)
class _Call:
    """One call of the wrapped function: its arguments, and the latest response across retries."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    response: Any = None


class _Wrapped:
    def __init__(self, fn: Callable[..., Any], guard: Guard, on_block: OnBlock,
                 regenerate: Callable[..., Any] | None) -> None:
        if on_block not in ("raise", "refuse", "return"):
            raise ConfigError(f"on_block={on_block!r}; use 'raise', 'refuse' or 'return'")
        self.fn = fn
        self.guard = guard
        self.on_block = on_block
        self.user_regenerate = regenerate
        self.is_async = inspect.iscoroutinefunction(fn)
        try:
            self.sig: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.sig = None
        self.takes_feedback = self.sig is not None and "feedback" in self.sig.parameters

    # -- reading a call ---------------------------------------------------------------------------
    def _input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, str | int | None]:
        """The prompt or messages of a call, and where they sit (kwarg name or position)."""
        for key in _INPUT_KEYS:
            if key in kwargs and (isinstance(kwargs[key], str) or is_messages(kwargs[key])):
                return kwargs[key], key
        for i, a in enumerate(args):
            if isinstance(a, str) or is_messages(a):
                return a, i
        return None, None

    def _record(self, call: _Call, value: Any, context: Any, metadata: dict[str, Any]) -> Interaction:
        text, lps = output_of(value)
        prompt, _ = self._input(call.args, call.kwargs)
        return make_record(prompt, text, context=context, logprobs=lps, metadata=metadata)

    # -- the retry path ---------------------------------------------------------------------------
    def _next_args(self, call: _Call, rec: Interaction, reasons: list[str]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = call.args, dict(call.kwargs)
        if self.takes_feedback:
            kwargs["feedback"] = feedback_text(rec.output, reasons)
            return args, kwargs
        prompt, where = self._input(args, kwargs)
        if where is not None and is_messages(prompt):
            new = retry_messages(prompt, rec.output, reasons)
            if isinstance(where, str):
                kwargs[where] = new
            else:
                args = (*args[:where], new, *args[where + 1:])
        return args, kwargs

    def _regenerate(self, call: _Call) -> Callable[[Interaction, list[str]], Any]:
        def regen(rec: Interaction, reasons: list[str]) -> Any:
            try:
                if self.user_regenerate is not None:
                    value = self.user_regenerate(rec, reasons)
                else:
                    args, kwargs = self._next_args(call, rec, reasons)
                    value = self.fn(*args, **kwargs)
            except Exception as e:
                raise RegenerateFailed(e) from e
            if inspect.isawaitable(value):
                return self._await_regen(call, value)
            call.response = value
            return output_of(value)[0]

        return regen

    async def _await_regen(self, call: _Call, value: Any) -> str:
        try:
            value = await value
        except Exception as e:
            raise RegenerateFailed(e) from e
        call.response = value
        return output_of(value)[0]

    # -- outcomes ---------------------------------------------------------------------------------
    def _result(self, call: _Call, rec: Interaction, verdict: Verdict) -> Validated[Any]:
        output = verdict.output if verdict.output is not None else rec.output
        if verdict.decision is Decision.BLOCK:
            if self.on_block == "raise":
                raise Blocked(f"answer blocked by policy `{verdict.policy}`: {'; '.join(verdict.reasons[:3])}",
                              verdict=verdict, output=output, response=call.response)
            if self.on_block == "refuse":
                output = refusal_text(verdict)
        return Validated(output=output, verdict=verdict, response=call.response)

    def _failed(self, call: _Call, e: BaseException, context: Any, metadata: dict[str, Any]) -> None:
        prompt, _ = self._input(call.args, call.kwargs)
        rec = make_record(prompt, "", context=context, metadata={**metadata, "error": f"{type(e).__name__}: {e}"})
        self.guard.log_failure(rec, e)

    def call(self, *args: Any, **kwargs: Any) -> Validated[Any]:
        """The sync wrapper of :meth:`acall` (a sync ``fn`` is called directly; no event loop unless a check
        is async)."""
        return run_sync(self.acall(*args, **kwargs), loop=self.guard.pipeline.needs_loop)

    async def acall(self, *args: Any, **kwargs: Any) -> Validated[Any]:
        context, metadata = pop_extras(kwargs)  # checked before the model is called
        call = _Call(args, kwargs)
        try:
            response = self.fn(*args, **kwargs)
            call.response = await response if inspect.isawaitable(response) else response
        except Exception as e:
            self._failed(call, e, context, metadata)
            raise
        rec = self._record(call, call.response, context, metadata)
        verdict = (await self.guard.acheck([rec], self._regenerate(call)))[0]
        return self._result(call, rec, verdict)


def wrap(fn: Callable[..., Any] | None = None, *, policy: PolicyLike = "default",
         store: Store | str | Path | None = None, validator: Validator | None = None,
         on_block: OnBlock = "raise", regenerate: Callable[[Interaction, list[str]], Any] | None = None,
         services: dict[str, Any] | None = None, flush_interval: float = 1.0) -> Any:
    """Validate every answer ``fn`` returns (see the module docstring). Use as ``@wrap``, ``@wrap(...)`` or
    ``wrap(fn, ...)``. The wrapped function has ``.guard`` (its validator and log), ``.flush()`` and
    ``.close()`` (flush and release the DuckDB file; also done at interpreter exit)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        guard = Guard(policy, store=store, validator=validator, services=services, flush_interval=flush_interval)
        w = _Wrapped(f, guard, on_block, regenerate)
        if w.is_async:
            @functools.wraps(f)
            async def aouter(*args: Any, **kwargs: Any) -> Validated[Any]:
                return await w.acall(*args, **kwargs)
            outer: Any = aouter
        else:
            @functools.wraps(f)
            def souter(*args: Any, **kwargs: Any) -> Validated[Any]:
                return w.call(*args, **kwargs)
            outer = souter
        outer.guard = guard
        outer.flush = guard.flush
        outer.close = guard.close
        return outer  # type: ignore[no-any-return]

    return decorate(fn) if fn is not None else decorate
