"""The one retry rule for every upstream model call: the model client (:class:`catalyst.llm.LLM`) and the proxy.

What is retried
    HTTP 408, 409, 429 and every 5xx except 501 (Not Implemented) and 505 (HTTP Version Not Supported), which
    no retry can fix; timeouts; dropped or refused connections; a 200 whose body is not a JSON completion with
    ``choices``. Anything else (400, 401, 403, 404, 422...) fails at once: the request itself is wrong.
How long to wait
    What the server asked for (``retry-after-ms`` or ``retry-after``, seconds or an HTTP date); otherwise
    ``backoff_initial * 2**(n-1)`` plus a uniform jitter in ``[0, backoff_initial)``, capped at ``backoff_max``.
When to stop
    After ``max_retries`` retries; at once when ``Retry-After`` asks for more than ``retry_after_max`` or more
    than what is left of the call's ``deadline`` (the caller gets the server's answer now instead of a sleep);
    when the next wait would reach past the deadline. Each attempt's timeout is ``timeout`` or what is left of
    the deadline, whichever is shorter.

:class:`RetryRule` is the rule for one call (it holds the call's start time). It is transport-free:
:meth:`RetryRule.run` (tenacity's ``Retrying``) drives the model client's and the sync drop-in client's calls
through the ``openai`` SDK, :meth:`RetryRule.arun` (``AsyncRetrying``) the async client's and the proxy's
``aiohttp`` calls. An attempt reports a failure worth retrying by raising
:class:`Retryable`; any other exception ends the call at once.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from catalyst.llm._config import LLMConfig

__all__ = ["RetryRule", "Retryable", "retry_after_seconds", "retryable_status", "sdk_failure"]

T = TypeVar("T")

#: 5xx statuses that say the request can never succeed as sent (not retried)
_PERMANENT_5XX = frozenset({501, 505})


def retryable_status(status: int) -> bool:
    """True for the statuses a retry can fix: 408, 409, 429, and 5xx except 501 and 505."""
    return status in (408, 409, 429) or (500 <= status <= 599 and status not in _PERMANENT_5XX)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds asked for by ``retry-after-ms`` / ``retry-after`` (number or HTTP date), or None."""
    if headers is None:
        return None
    for name, div in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            v = float(raw) / div
        except ValueError:
            parsed = email.utils.parsedate_tz(raw) if div == 1.0 else None
            if parsed is None:
                continue
            v = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(v):
            return max(0.0, v)
    return None


class Retryable(Exception):
    """An attempt failed in a way worth retrying. ``retry_after`` is what the server asked for (seconds);
    ``result`` is what the caller should get if this was the last attempt (the proxy's reply, say)."""

    def __init__(self, message: str, *, retry_after: float | None = None, http_status: int | None = None,
                 result: Any = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.http_status = http_status
        self.result = result


def short(s: str, n: int = 300) -> str:
    """``s`` on one line, at most ``n`` characters."""
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def sdk_failure(e: BaseException, timeout: float | None = None) -> Retryable | None:
    """The :class:`Retryable` for an ``openai`` SDK exception this rule retries (``result`` is the exception
    itself), or None when a retry cannot help. ``timeout``: the attempt's, for the message."""
    import openai

    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        if not retryable_status(status):
            return None
        return Retryable(f"HTTP {status}: {short(e.message)}", retry_after=retry_after_seconds(e.response.headers),
                         http_status=status, result=e)
    if isinstance(e, openai.APITimeoutError):
        return Retryable("timed out" + (f" after {timeout:.2f}s" if timeout is not None else ""), result=e)
    if isinstance(e, openai.APIConnectionError):
        return Retryable(f"connection failed: {short(str(e.__cause__ or e))}", result=e)
    if isinstance(e, ValueError):  # the body was not JSON (the SDK parses lazily and raises JSONDecodeError)
        return Retryable(f"response body is not valid JSON: {short(str(e))}", result=e)
    if type(e).__module__.split(".")[0] in ("httpx", "httpcore", "h11"):
        return Retryable(f"transport error: {type(e).__name__}: {short(str(e))}", result=e)
    return None


class _Stop(stop_base):
    def __init__(self, rule: RetryRule) -> None:
        self.rule = rule

    def __call__(self, state: RetryCallState) -> bool:
        return self.rule.stop_now(state)


class RetryRule:
    """The retry rule for one call under ``config`` (see the module docstring); make one per call."""

    __slots__ = ("config", "started")

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.started = time.monotonic()

    def remaining(self) -> float:
        """Seconds left of the call's deadline (``inf`` without one)."""
        if self.config.deadline is None:
            return math.inf
        return self.config.deadline - (time.monotonic() - self.started)

    def attempt_timeout(self) -> float:
        """This attempt's timeout: ``timeout``, or what is left of the deadline when that is shorter."""
        return min(self.config.timeout, max(0.05, self.remaining()))

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with additive jitter for the wait after attempt number ``attempt`` (1-based)."""
        cfg = self.config
        return min(cfg.backoff_max, cfg.backoff_initial * 2 ** (attempt - 1) + random.uniform(0, cfg.backoff_initial))

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ra = getattr(exc, "retry_after", None)
        wait = ra if ra is not None else self.backoff(state.attempt_number)
        return max(0.0, min(wait, self.remaining()))

    def stop_now(self, state: RetryCallState) -> bool:
        """Stop at once when the server asks for a wait we will not make, or the deadline is spent."""
        exc = state.outcome.exception() if state.outcome else None
        ra = getattr(exc, "retry_after", None)
        remaining = self.remaining()
        if isinstance(exc, Retryable) and ra is not None and (ra > self.config.retry_after_max or ra >= remaining):
            limit = "retry_after_max" if ra > self.config.retry_after_max else "the call's deadline"
            exc.args = (f"{exc.args[0]}; Retry-After {ra:g}s is past {limit}",)
            return True
        return remaining - state.upcoming_sleep <= 0.01

    def _strategy(self) -> dict[str, Any]:
        return {"retry": retry_if_exception_type(Retryable),
                "stop": stop_after_attempt(self.config.max_retries + 1) | _Stop(self),
                "wait": self.wait, "reraise": True}

    def run(self, attempt: Callable[..., T], *args: Any) -> T:
        """Call ``attempt(*args)`` under this rule (tenacity's ``Retrying``); the last :class:`Retryable` is
        re-raised. A first attempt that succeeds costs one call: tenacity only takes over after a failure."""
        try:
            return attempt(*args)
        except Retryable as e:
            first: Retryable | None = e
        return Retrying(**self._strategy())(_replay(first, attempt), *args)  # type: ignore[no-any-return]

    async def arun(self, attempt: Callable[..., Awaitable[T]], *args: Any) -> T:
        """:meth:`run` for an async ``attempt`` (tenacity's ``AsyncRetrying``, sleeping on the event loop)."""
        try:
            return await attempt(*args)
        except Retryable as e:
            first: Retryable | None = e
        return await AsyncRetrying(**self._strategy())(_areplay(first, attempt), *args)  # type: ignore[no-any-return]


def _replay(first: Retryable | None, attempt: Callable[..., T]) -> Callable[..., T]:
    """``attempt``, except that its first call re-raises ``first`` (the failure already seen): tenacity then
    numbers, waits and stops exactly as if it had made that call itself."""
    pending = [first]

    def again(*args: Any) -> T:
        if pending[0] is not None:
            e, pending[0] = pending[0], None
            raise e
        return attempt(*args)

    return again


def _areplay(first: Retryable | None, attempt: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    sync_again = _replay(first, attempt)

    async def again(*args: Any) -> T:
        return await sync_again(*args)

    return again
