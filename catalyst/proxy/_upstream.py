"""Talking to the upstream model for the proxy: raw bytes over ``aiohttp``, under the client layer's retry policy.

The proxy passes upstream bodies on (unknown fields included) and its hot path must stay cheap, so it does
not round-trip every answer through the ``openai`` SDK's models (measured here: ~2.4 ms more CPU per call,
which under 8 concurrent clients on 2 cores became most of the added latency), and it uses ``aiohttp``
rather than ``httpx`` (0.22 vs 0.97 ms of CPU per request against the same server). It shares the transport-free part
with the client layer: its settings (:class:`catalyst.llm.LLMConfig`) and its one retry rule
(:class:`catalyst.llm.RetryRule`, driven here by tenacity's ``AsyncRetrying``): the same retryable statuses,
timeouts, dropped connections and unparseable bodies, the same backoff with jitter, ``Retry-After`` honoured up
to ``retry_after_max``, per-attempt ``timeout``, overall ``deadline``. A stream is retried only until it
answered 200; once bytes were passed on, never (the client already has them).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from catalyst.errors import UpstreamError
from catalyst.llm import LLMConfig, Retryable, RetryRule, retry_after_seconds, retryable_status
from catalyst.openai._wire import error_body

__all__ = ["UpstreamError", "as_error_body", "error_of", "send"]


def error_of(e: BaseException) -> UpstreamError:
    """Map a failed upstream request (no answer at all) to the reply the proxy sends: 504 on timeout, else 502."""
    if isinstance(e, TimeoutError):
        return UpstreamError(504, error_body(f"upstream timed out: {e!r}", "upstream_timeout"),
                             "upstream timed out", {})
    return UpstreamError(502, error_body(f"upstream failed: {type(e).__name__}: {e}", "upstream_error"),
                         f"upstream failed: {type(e).__name__}: {e}", {})


async def _attempt(http: aiohttp.ClientSession, rule: RetryRule, url: str, body: bytes, headers: dict[str, str],
                   stream: bool) -> tuple[aiohttp.ClientResponse, Any]:
    """One POST. Raises :class:`Retryable` (carrying the reply to give if it was the last) or :class:`UpstreamError`."""
    t = rule.attempt_timeout()
    timeout = aiohttp.ClientTimeout(total=None if stream else t, connect=t, sock_read=t)
    try:
        resp = await http.post(url, data=body, headers=headers, timeout=timeout)
        if resp.status == 200 and stream:
            return resp, None
        try:
            data = await resp.read()
        finally:
            resp.release()
    except (TimeoutError, aiohttp.ClientError) as e:
        final = error_of(e)
        raise Retryable(final.message, result=final) from e
    if resp.status == 200:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("choices"), list) and parsed["choices"]:
            return resp, parsed
        why = "upstream answered badly: the response body is not a JSON completion with `choices`"
        raise Retryable(why, result=UpstreamError(502, error_body(why, "upstream_error"), why, {}))
    hdrs = {k: v for k, v in resp.headers.items() if k.lower() in ("retry-after", "retry-after-ms")}
    final = UpstreamError(resp.status, as_error_body(resp.status, data), f"upstream answered HTTP {resp.status}", hdrs)
    if not retryable_status(resp.status):
        raise final
    raise Retryable(final.message, retry_after=retry_after_seconds(resp.headers), http_status=resp.status,
                    result=final)


async def send(http: aiohttp.ClientSession, cfg: LLMConfig, url: str, body: bytes, headers: dict[str, str], *,
               stream: bool) -> tuple[aiohttp.ClientResponse, Any]:
    """POST under the shared retry rule; returns ``(response, parsed JSON or None for streams)``.

    Raises :class:`UpstreamError` with the reply to pass on: the upstream's own status and (JSON) error body
    when it answered, 502/504 when it did not. A stream's response is returned open (the caller reads and
    releases it); its reads time out after ``timeout`` seconds of silence.
    """
    rule = RetryRule(cfg)
    attempts = 0

    async def attempt() -> tuple[aiohttp.ClientResponse, Any]:
        nonlocal attempts
        attempts += 1
        return await _attempt(http, rule, url, body, headers, stream)

    try:
        return await rule.arun(attempt)
    except Retryable as e:
        final: UpstreamError = e.result
        final.message = f"{final.message} (after {attempts} attempt{'s' if attempts != 1 else ''}: {e})"
        raise final from None


def as_error_body(status: int, data: bytes) -> bytes:
    """The upstream's error body if it is OpenAI-style JSON, else one made from it (never HTML or text)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict | str):
        return data
    text = " ".join(data.decode("utf-8", "replace").split())[:300]
    return error_body(f"upstream answered HTTP {status}" + (f": {text}" if text else ""), "upstream_error")
