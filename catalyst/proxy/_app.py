"""The validating proxy: an OpenAI-compatible endpoint in front of another one, validating every answer.

An unchanged app pointed at the proxy (``base_url="http://127.0.0.1:8080/v1"``) gets the upstream's
answer plus the verdict: headers ``x-catalyst-decision`` / ``x-catalyst-confidence`` /
``x-catalyst-evidence`` / ``x-catalyst-id``
and an extra JSON field ``catalyst`` (also per choice). Blocked answers come back as a normal completion
whose content says it was withheld and why, with ``finish_reason: "content_filter"``. Streams pass
through chunk by chunk; the verdict arrives as one last chunk ``{"choices": [], "catalyst": {...}}``
before ``data: [DONE]`` (headers are sent before the answer exists). Upstream errors are passed
through (status and body) and logged as a ``review`` verdict with the reason.

Requests may carry ``catalyst_context`` (passages: a list of strings, or one) and ``catalyst_metadata`` (an
object) in the JSON body (the SDK's ``extra_body=``); they are removed before the request goes upstream.
Every request is bounded and checked *before* anything goes upstream: a body over ``max_body_bytes`` is a
413, invalid JSON or a bad field (``model``, ``messages``, ``stream``, ``catalyst_*``) a 400 whose ``param``
names the field. Every error the proxy returns is an OpenAI-style JSON error body (never plain text), and
the connection stays usable for the next request. The wire format itself (both here and in the drop-in
client) is :mod:`catalyst.openai._wire`; the exchange (call, validate, re-ask, relay) is
:mod:`catalyst.openai._exchange`, driven here by :class:`_ProxyIO`.

The proxy process owns the DuckDB file (``Store(keep_open=True)``). Its log is the guard's sink
(:class:`catalyst.sink.LogSink`): a verdict is in the journal before its answer is sent and in DuckDB within
``flush_interval`` seconds, so a killed proxy loses no verdict it answered (``benchmarks/proxy_crash.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from catalyst.checks import CheckContext
from catalyst.errors import ConfigError, RecordError, UpstreamError
from catalyst.llm import LLMConfig
from catalyst.openai._exchange import AsyncRegenerate, StreamState, complete, relay
from catalyst.openai._stream import ChunkChecker, chunk_steps
from catalyst.openai._wire import (
    Request,
    attach,
    deliver,
    describe_failure,
    error_body,
    final_chunk,
    verdict_headers,
    verdict_payload,
)
from catalyst.policy._compile import Step
from catalyst.proxy._upstream import as_error_body, error_of, send
from catalyst.records import Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike
from catalyst.wrapping import Guard

__all__ = ["ProxyConfig", "create_app"]

_JSON = "application/json"
_log = logging.getLogger("catalyst.proxy")
MiB = 1 << 20


@dataclass
class ProxyConfig:
    """Everything ``catalyst serve`` configures. ``upstream`` is the base URL ending in ``/v1``."""

    upstream: str
    policy: PolicyLike = "default"
    db: str | Path | None = "catalyst.duckdb"
    flush_interval: float = 1.0
    timeout: float = 60.0
    max_retries: int = 2
    retry_after_max: float = 10.0
    deadline: float = 120.0
    concurrency: int = 64
    check_threads: int = 4
    inline_below_ms: float = 2.0  # checks faster than this (moving average) run on the event loop, no thread hop
    stream_checks: list[str] = field(default_factory=list)
    retry: bool = True
    evidence: bool = False  # include evidence spans in the `catalyst` field
    max_body_bytes: int = 4 * MiB  # a larger request body is refused (413) before it is read


def _error(status: int, message: str, etype: str = "invalid_request_error", *, param: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(message, etype, param=param), status_code=status, media_type=_JSON, headers=headers)


class _TooLarge(Exception):
    pass


class Proxy:
    """The proxy's state: the upstream settings and HTTP pool, the guard (validator + log), the check threads."""

    def __init__(self, cfg: ProxyConfig) -> None:
        if not cfg.upstream.startswith(("http://", "https://")):
            raise ConfigError(f"--upstream {cfg.upstream!r} must be a URL like http://127.0.0.1:8000/v1")
        if cfg.max_body_bytes < 1024:
            raise ConfigError(f"--max-body-bytes {cfg.max_body_bytes} is too small; use at least 1024 (default 4 MiB)")
        self.cfg = cfg
        self.upstream = cfg.upstream.rstrip("/")
        self.llm_config = LLMConfig(base_url=self.upstream, timeout=cfg.timeout, max_retries=cfg.max_retries,
                                    retry_after_max=cfg.retry_after_max, deadline=cfg.deadline,
                                    concurrency=cfg.concurrency, budget_calls=None, budget_tokens=None,
                                    backoff_initial=0.2, backoff_max=5.0)
        store = Store(cfg.db, keep_open=True) if cfg.db is not None else None
        self.guard = Guard(cfg.policy, store=store, flush_interval=cfg.flush_interval)
        self.steps: list[Step] = chunk_steps(self.guard.policy, cfg.stream_checks)
        self.chat_url = f"{self.upstream}/chat/completions"
        self.pool = ThreadPoolExecutor(cfg.check_threads, thread_name_prefix="catalyst-proxy-check")
        self.http: aiohttp.ClientSession | None = None
        self.started = time.time()
        self.check_ms = 0.0
        self.timings: deque[float] = deque(maxlen=2000)  # upstream round trips, ms (for /healthz)

    def open_log(self) -> None:
        """Open (and migrate) the DuckDB file now, so a locked or unwritable log fails at startup."""
        store = self.guard.store
        if store is not None:
            with store.connect():
                pass

    def warm(self) -> None:
        """Run the policy's cheap sync checks once on a made-up answer, so the models they load lazily (PII,
        injection...) are loaded before the first request, not during it. Nothing is logged."""
        rec = Interaction(id="catalyst-warm-up", input="Warm-up question?", output="Warm-up answer.",
                          context=["Warm-up passage."])
        for step in self.guard.policy.default.steps:
            if step.costly or type(step.check).is_async():
                continue  # model calls and async checks are never made for a warm-up
            with contextlib.suppress(Exception):  # a broken check shows up, closed, on real answers
                step.check.run(CheckContext(rec))

    async def start(self) -> None:
        await asyncio.to_thread(self.open_log)
        await asyncio.to_thread(self.warm)  # before the server accepts connections (lifespan startup)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.cfg.concurrency))

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        self.pool.shutdown(wait=True)
        self.guard.close()  # drains the queue and flushes: every verdict is on disk after shutdown

    async def in_pool(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _auth(self, request: HTTPRequest) -> dict[str, str]:
        auth = request.headers.get("authorization")
        return {"Authorization": auth} if auth else {}

    # -- routes -----------------------------------------------------------------------------------
    async def models(self, request: HTTPRequest) -> Response:
        assert self.http is not None
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout)
        try:
            async with self.http.get(f"{self.upstream}/models", headers=self._auth(request), timeout=timeout) as r:
                data = await r.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            err = error_of(e)
            return Response(err.body, status_code=err.status, media_type=_JSON)
        if r.status >= 400:
            return Response(as_error_body(r.status, data), status_code=r.status, media_type=_JSON)
        return Response(data, status_code=r.status, media_type=r.headers.get("content-type", _JSON))

    async def health(self, request: HTTPRequest) -> Response:
        w = self.guard.writer
        data = {"ok": True, "upstream": self.upstream, "policy": self.guard.policy.version,
                "pending_verdicts": w.pending if w else 0, "log_write_errors": w.errors if w else 0,
                "uptime_s": round(time.time() - self.started, 1),
                "upstream_ms_p50": round(statistics.median(self.timings), 2) if self.timings else None,
                "checks_ms_avg": round(self.check_ms, 3)}
        return Response(orjson.dumps(data), media_type=_JSON)

    async def _body(self, request: HTTPRequest) -> bytes:
        """The request body, refused past ``max_body_bytes`` before it is read (what is left unread is
        discarded by the server, so the connection stays usable)."""
        limit = self.cfg.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        size, parts = 0, []
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise _TooLarge
            parts.append(part)
        return b"".join(parts)

    async def chat(self, request: HTTPRequest) -> Response:
        try:
            raw = await self._body(request)
        except _TooLarge:
            return _error(413, f"request body is larger than the proxy's limit of {self.cfg.max_body_bytes} bytes "
                               "(catalyst serve --max-body-bytes)", param="body")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            return _error(400, f"request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return _error(400, "a chat completion request is a JSON object with `model` and `messages`")
        try:
            req = Request.parse(body, via="proxy")
        except RecordError as e:
            return _error(400, str(e), param=e.field)
        io = _ProxyIO(self, self._upstream_headers(request, req.stream), req.stream)
        if req.stream:
            return await self._stream(req, io)
        try:
            data, verdicts = await complete(req, io, retry=self.cfg.retry)
        except UpstreamError as err:
            assert io.failure is not None
            return Response(err.body, status_code=err.status, media_type=_JSON,
                            headers={**err.headers, **verdict_headers(io.failure)})
        except Exception as e:  # a fault of ours: the answer is withheld and a review logged with the cause
            if io.failure is None:
                with contextlib.suppress(Exception):
                    await io.fail(req.failure_record(e), e)
            raise
        deliver(data, verdicts, "refuse")  # HTTP has no exception to raise into the app: a block is refused
        attach(data, verdicts, "catalyst", lambda v: verdict_payload(v, evidence=self.cfg.evidence))
        return Response(orjson.dumps(data), media_type=_JSON, headers=verdict_headers(verdicts[0]))

    def _upstream_headers(self, request: HTTPRequest, stream: bool) -> dict[str, str]:
        headers = {"content-type": _JSON, "accept": "text/event-stream" if stream else _JSON, **self._auth(request)}
        if "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.llm_config.api_key()}"
        return headers

    def inline(self) -> bool:
        """Run the checks on the event loop while they are fast (a thread hop costs more than they do)."""
        return self.check_ms < self.cfg.inline_below_ms

    async def _stream(self, req: Request, io: _ProxyIO) -> Response:
        assert self.http is not None
        try:
            upstream, _ = await send(self.http, self.llm_config, self.chat_url, orjson.dumps(req.body), io.headers,
                                     stream=True)
        except UpstreamError as err:
            verdict = await io.fail(req.failure_record(err), err)
            return Response(err.body, status_code=err.status, media_type=_JSON,
                            headers={**err.headers, **verdict_headers(verdict)})
        return StreamingResponse(self._relay(upstream, req, io), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-catalyst-policy": self.guard.policy.version,
                                          "x-catalyst-verdict": "final-chunk"})

    async def _relay(self, upstream: aiohttp.ClientResponse, req: Request, io: _ProxyIO) -> AsyncIterator[bytes]:
        checker = ChunkChecker(self.steps)
        state = StreamState(req, checker.ok if checker.steps else None, lambda: checker.failed)

        async def close() -> None:
            upstream.close()  # stop reading: drop the connection rather than drain the rest

        items = relay(_sse_chunks(upstream), state, io, close)
        try:
            async for item in items:
                yield item.raw if isinstance(item, _Chunk) else _sse(item)
        except Exception as e:  # the relay logged a review with what came so far
            upstream_fault = isinstance(e, TimeoutError | aiohttp.ClientError | orjson.JSONDecodeError | _StreamBroke)
            message = f"upstream stream broke: {type(e).__name__}: {e}" if upstream_fault else \
                f"the Catalyst proxy failed on this stream: {type(e).__name__}: {e}"
            etype = "upstream_error" if upstream_fault else "server_error"
            event: dict[str, Any] = {"error": {"message": message, "type": etype, "param": None, "code": etype}}
            if state.verdicts:
                event["catalyst"] = verdict_payload(state.verdicts[0])
            yield _sse(event)
            return
        finally:
            if not state.cut_off:
                upstream.release()
            with anyio.CancelScope(shield=True):  # a client that hung up: still judge and log what it got
                await items.aclose()  # type: ignore[attr-defined]
        yield _sse(final_chunk(state.acc, state.verdicts, evidence=self.cfg.evidence))
        yield b"data: [DONE]\n\n"


class _ProxyIO:
    """The exchange's outside world in the proxy: aiohttp upstream, checks inline or in the check threads."""

    def __init__(self, proxy: Proxy, headers: dict[str, str], stream: bool) -> None:
        self.proxy = proxy
        self.headers = headers
        self.stream = stream
        self.failure: Verdict | None = None

    async def send(self, body: dict[str, Any]) -> Any:
        px = self.proxy
        assert px.http is not None
        t0 = time.perf_counter()
        _, data = await send(px.http, px.llm_config, px.chat_url, orjson.dumps(body), self.headers, stream=False)
        px.timings.append((time.perf_counter() - t0) * 1000)
        return data

    async def check(self, records: list[Interaction], regenerate: AsyncRegenerate | None) -> list[Verdict]:
        if not self.stream:  # only a stream's task is cancelled when its client hangs up
            return await self._check(records, regenerate)
        verdicts: list[Verdict] = []
        with anyio.CancelScope(shield=True):  # a verdict is finished and logged even if the client hangs up
            verdicts = await self._check(records, regenerate)
        return verdicts

    async def _check(self, records: list[Interaction], regenerate: AsyncRegenerate | None) -> list[Verdict]:
        px = self.proxy
        if px.inline():
            verdicts = await px.guard.acheck(records, regenerate)
        else:  # a check thread; a re-ask runs on this event loop while the thread waits for it
            loop = asyncio.get_running_loop()
            wait = (px.llm_config.deadline or 600) + 5

            def regen(rec: Interaction, reasons: list[str]) -> str:
                assert regenerate is not None
                return asyncio.run_coroutine_threadsafe(regenerate(rec, reasons), loop).result(timeout=wait)

            verdicts = await px.in_pool(px.guard.check, records, regen if regenerate is not None else None)
        ms = sum(v.ms or 0.0 for v in verdicts) / max(1, len(verdicts))
        px.check_ms = 0.9 * px.check_ms + 0.1 * ms  # moving average of the flow's own time
        return verdicts

    async def fail(self, record: Interaction, error: BaseException) -> Verdict:
        with anyio.CancelScope(shield=True):
            verdict: Verdict = await self.proxy.in_pool(self.proxy.guard.log_failure, record, describe_failure(error))
        self.failure = verdict
        return verdict


class _StreamBroke(Exception):
    """The upstream stream ended without its ``[DONE]`` line."""


class _Chunk(dict[str, Any]):
    """A parsed upstream chunk that remembers its SSE bytes (passed on unchanged)."""

    raw: bytes


async def _sse_chunks(upstream: aiohttp.ClientResponse) -> AsyncIterator[_Chunk]:
    async for line in upstream.content:
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return
        chunk = _Chunk(orjson.loads(payload))
        chunk.raw = b"data: " + payload + b"\n\n"
        yield chunk
    raise _StreamBroke("upstream stream ended without [DONE]")


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def _http_error(request: HTTPRequest, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    etype = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return _error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", etype,
                  headers=dict(exc.headers or {}))


async def _server_error(request: HTTPRequest, exc: Exception) -> Response:
    return _error(500, f"the Catalyst proxy failed on this request: {type(exc).__name__}: {exc}", "server_error")


def _json_errors(endpoint: Any) -> Any:
    """Answer an unexpected exception with a JSON 500 inside the route, so the server keeps the connection
    (an exception that reaches uvicorn closes it, resetting the client's next request on it)."""

    @functools.wraps(endpoint)
    async def guarded(request: HTTPRequest) -> Response:
        try:
            return await endpoint(request)  # type: ignore[no-any-return]
        except Exception as e:
            _log.exception("catalyst proxy: %s %s failed", request.method, request.url.path)
            return await _server_error(request, e)

    return guarded


def create_app(cfg: ProxyConfig) -> Starlette:
    """The ASGI app (serve it with uvicorn). The log is flushed and closed when the app shuts down."""
    proxy = Proxy(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await proxy.start()
        try:
            yield
        finally:
            await proxy.stop()

    app = Starlette(routes=[
        Route("/v1/chat/completions", _json_errors(proxy.chat), methods=["POST"]),
        Route("/chat/completions", _json_errors(proxy.chat), methods=["POST"]),
        Route("/v1/models", _json_errors(proxy.models), methods=["GET"]),
        Route("/models", _json_errors(proxy.models), methods=["GET"]),
        Route("/healthz", proxy.health, methods=["GET"]),
    ], lifespan=lifespan, exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.proxy = proxy
    return app
