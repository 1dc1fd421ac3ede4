"""The model client: the official ``openai`` SDK behind one retry policy, a concurrency limit and budgets.

- **One retry policy**, :mod:`catalyst.llm._retry`'s (the proxy uses the same): the SDK's own retries are
  off (``max_retries=0``); ``tenacity`` retries 408, 409, 429, 5xx but 501/505, timeouts, dropped
  connections and unparseable bodies with exponential backoff plus jitter, and waits what ``Retry-After``
  asks (a wait longer than ``retry_after_max`` or the call's ``deadline`` fails at once instead of
  sleeping). Anything else (400, 401, 404...) fails at once.
- **Timeouts.** ``timeout`` bounds each attempt; ``deadline`` bounds the call, retries included.
- **Concurrency.** A semaphore caps calls in flight per client, for sync and async callers alike.
- **Budgets per verdict.** Calls made with ``key=<record id>`` count against ``budget_calls``
  attempts and ``budget_tokens`` tokens for that key; past either, the call raises
  :class:`~catalyst.errors.ModelBudgetExceeded` before anything is sent, so the check fails closed.
- **Failures** end as :class:`~catalyst.errors.ModelCallError` naming the endpoint, the model, the
  attempts and the cause; the engine turns it into a review with that reason.

Async methods run the same pooled sync client in this client's own worker threads: one connection
pool then serves every event loop (``Validator.validate`` runs each batch in a fresh loop, where a
loop-bound async client would leak its connections).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalyst.errors import ModelBudgetExceeded, ModelCallError
from catalyst.llm._config import LLMConfig
from catalyst.llm._retry import Retryable, RetryRule, sdk_failure, short

__all__ = ["LLM", "CallRecord", "Usage"]

_MAX_KEYS = 20_000  # per-verdict usage entries kept (oldest dropped first)


@dataclass(slots=True)
class Usage:
    """Model use counted for one budget key (one verdict), or for the whole client."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True, frozen=True)
class CallRecord:
    """One attempt at a model call, as handed to ``on_call`` listeners (and the ``model_calls`` table)."""

    ts: datetime
    model: str
    base_url: str
    endpoint: str
    latency_ms: float
    status: str  # "ok" | "error" | "budget"
    attempt: int
    key: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    http_status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class _Call:
    endpoint: str
    model: str
    key: str | None
    rule: RetryRule
    attempts: int = 0


class LLM:
    """A client for one OpenAI-compatible endpoint, sync and async, shared by every check that needs a model.

    >>> llm = LLM(LLMConfig(base_url="http://127.0.0.1:8000/v1", model="gemma"))
    >>> reply = llm.chat([{"role": "user", "content": "2+2?"}], key="verdict-1", logprobs=True)
    >>> llm.usage("verdict-1").calls
    1

    ``client`` may be an ``openai.OpenAI`` you already have (its retries are turned off).
    ``on_call`` listeners receive a :class:`CallRecord` per attempt.
    """

    def __init__(self, config: LLMConfig | None = None, *, client: Any = None,
                 on_call: Callable[[CallRecord], None] | None = None, **overrides: Any) -> None:
        cfg = config or LLMConfig()
        self.config = cfg.model_copy(update=overrides) if overrides else cfg
        if overrides:
            self.config = LLMConfig.model_validate(self.config.model_dump())
        self._given_client = client
        self._client: Any = None
        self._lock = threading.Lock()
        self._sem = threading.BoundedSemaphore(self.config.concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._usage: OrderedDict[str, Usage] = OrderedDict()
        self.total = Usage()
        self.listeners: list[Callable[[CallRecord], None]] = [on_call] if on_call else []

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The underlying ``openai.OpenAI`` (built on first use; SDK retries off)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if self._given_client is not None:
                        self._client = self._given_client.with_options(max_retries=0)
                    else:
                        import openai

                        self._client = openai.OpenAI(base_url=self.config.base_url, api_key=self.config.api_key(),
                                                     timeout=self.config.timeout, max_retries=0)
        return self._client

    @property
    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        c = self._client or self._given_client
        return str(c.base_url) if c is not None else "https://api.openai.com/v1"

    def close(self) -> None:
        """Close the connection pool and the worker threads (the client can be used again after)."""
        with self._lock:
            pool, self._pool = self._pool, None
            client, self._client = self._client, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None and self._given_client is None:
            client.close()

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> LLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    # -- budgets ------------------------------------------------------------------------------
    def usage(self, key: str) -> Usage:
        """What calls made with ``key`` used so far (a copy)."""
        with self._lock:
            u = self._usage.get(key) or Usage()
            return Usage(u.calls, u.prompt_tokens, u.completion_tokens)

    def forget(self, key: str) -> None:
        """Drop ``key``'s usage (a new verdict for the same id starts with a fresh budget)."""
        with self._lock:
            self._usage.pop(key, None)

    def _take_call(self, call: _Call) -> None:
        """Count one attempt against the key's budget, or raise if the budget is spent."""
        cfg = self.config
        with self._lock:
            self.total.calls += 1
            if call.key is None:
                return
            u = self._usage.get(call.key)
            if u is None:
                u = self._usage[call.key] = Usage()
                while len(self._usage) > _MAX_KEYS:
                    self._usage.popitem(last=False)
            self._usage.move_to_end(call.key)
            if cfg.budget_calls is not None and u.calls >= cfg.budget_calls:
                self.total.calls -= 1
                raise ModelBudgetExceeded(
                    f"model budget exceeded for `{call.key}`: {u.calls} calls used of budget_calls="
                    f"{cfg.budget_calls}; raise budget_calls in the llm config or check fewer answers with models")
            if cfg.budget_tokens is not None and u.tokens >= cfg.budget_tokens:
                self.total.calls -= 1
                raise ModelBudgetExceeded(
                    f"model budget exceeded for `{call.key}`: {u.tokens} tokens used of budget_tokens="
                    f"{cfg.budget_tokens}; raise budget_tokens in the llm config")
            u.calls += 1

    def _add_tokens(self, key: str | None, prompt: int, completion: int) -> None:
        with self._lock:
            self.total.prompt_tokens += prompt
            self.total.completion_tokens += completion
            if key is not None and key in self._usage:
                self._usage[key].prompt_tokens += prompt
                self._usage[key].completion_tokens += completion

    # -- calls --------------------------------------------------------------------------------
    def chat(self, messages: list[dict[str, Any]], *, model: str | None = None, key: str | None = None,
             **params: Any) -> Any:
        """``chat.completions.create`` with retries, limits and budget; returns the SDK's ``ChatCompletion``."""
        if params.get("stream"):
            raise ValueError("LLM.chat does not stream; call the SDK client directly for streams")
        return self._call("chat", model, key, messages=messages, **params)

    def complete(self, prompt: str, *, model: str | None = None, key: str | None = None, **params: Any) -> Any:
        """``completions.create`` (plain text completion) with retries, limits and budget."""
        if params.get("stream"):
            raise ValueError("LLM.complete does not stream; call the SDK client directly for streams")
        return self._call("completions", model, key, prompt=prompt, **params)

    async def achat(self, messages: list[dict[str, Any]], **kw: Any) -> Any:
        """Async :meth:`chat` (runs in this client's worker threads; see the module docstring)."""
        return await self._in_pool(functools.partial(self.chat, messages, **kw))

    async def acomplete(self, prompt: str, **kw: Any) -> Any:
        """Async :meth:`complete`."""
        return await self._in_pool(functools.partial(self.complete, prompt, **kw))

    async def _in_pool(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="catalyst-llm")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    def _call(self, endpoint: str, model: str | None, key: str | None, **params: Any) -> Any:
        call = _Call(endpoint=endpoint, model=self.config.require_model(model), key=key, rule=RetryRule(self.config))
        try:
            return call.rule.run(self._attempt, call, params)
        except ModelCallError:
            raise
        except Retryable as e:
            raise ModelCallError(self._failure(call, str(e))) from e

    def _failure(self, call: _Call, why: str) -> str:
        return (f"model call to {self.base_url} (model `{call.model}`, {call.endpoint}) failed after "
                f"{call.attempts} attempt{'s' if call.attempts != 1 else ''}: {why}")

    def _attempt(self, call: _Call, params: dict[str, Any]) -> Any:
        call.attempts += 1
        try:
            self._take_call(call)
        except ModelBudgetExceeded as e:
            self._emit(call, 0.0, "budget", error=str(e))
            raise
        timeout = call.rule.attempt_timeout()
        if not self._sem.acquire(timeout=timeout):
            self._emit(call, 0.0, "error", error="concurrency limit wait timed out")
            raise Retryable(f"waited {timeout:.1f}s for one of {self.config.concurrency} concurrent call slots")
        t0 = time.perf_counter()
        try:
            resp = self._send(call, params, timeout)
        except Retryable as e:
            self._emit(call, (time.perf_counter() - t0) * 1000, "error", error=str(e), http_status=e.http_status)
            raise
        except ModelCallError as e:
            self._emit(call, (time.perf_counter() - t0) * 1000, "error", error=str(e))
            raise
        finally:
            self._sem.release()
        pt, ct = _usage_of(resp)
        self._add_tokens(call.key, pt, ct)
        self._emit(call, (time.perf_counter() - t0) * 1000, "ok", prompt_tokens=pt, completion_tokens=ct,
                   http_status=200)
        return resp

    def _send(self, call: _Call, params: dict[str, Any], timeout: float) -> Any:
        import openai

        client = self.client.with_options(timeout=timeout)
        try:
            if call.endpoint == "chat":
                resp = client.chat.completions.create(model=call.model, **params)
            else:
                resp = client.completions.create(model=call.model, **params)
        except Exception as e:
            again = sdk_failure(e, timeout)
            if again is not None:
                raise again from e
            if isinstance(e, openai.APIStatusError):
                raise ModelCallError(self._failure(call, f"HTTP {e.status_code}: {short(e.message)}"
                                                         + _hint(e.status_code))) from e
            if isinstance(e, openai.OpenAIError):
                raise ModelCallError(self._failure(call, short(str(e)))) from e
            raise
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise Retryable("response has no `choices`; the endpoint did not answer like OpenAI")
        return resp

    def _emit(self, call: _Call, ms: float, status: str, *, error: str | None = None, prompt_tokens: int = 0,
              completion_tokens: int = 0, http_status: int | None = None) -> None:
        if not self.listeners:
            return
        rec = CallRecord(ts=datetime.now(UTC), model=call.model, base_url=self.base_url, endpoint=call.endpoint,
                         latency_ms=ms, status=status, attempt=call.attempts, key=call.key,
                         prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                         http_status=http_status, error=error)
        for fn in list(self.listeners):
            fn(rec)


def _usage_of(resp: Any) -> tuple[int, int]:
    u = getattr(resp, "usage", None)
    if u is None:
        return 0, 0
    return int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0)


def _hint(status: int) -> str:
    return {401: " (check the API key variable named by api_key_env)",
            403: " (the key may not have access to this model)",
            404: " (check base_url ends in /v1 and the model name exists)"}.get(status, "")
