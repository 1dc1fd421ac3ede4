"""The validating proxy: an OpenAI-compatible endpoint in front of another one, validating every answer.

An unchanged app pointed at the proxy (``base_url="http://127.0.0.1:8080/v1"``) gets the upstream's
answer plus the verdict: headers ``x-catalyst-decision`` / ``x-catalyst-confidence`` /
``x-catalyst-evidence`` / ``x-catalyst-id``
and an extra JSON field ``catalyst`` (also per choice). Blocked answers come back as a normal completion
whose content says it was withheld and why, with ``finish_reason: "content_filter"``. Streams pass
through chunk by chunk; the verdict arrives as one last chunk ``{"choices": [], "catalyst": {...}}``
before ``data: [DONE]`` (headers are sent before the answer exists). Upstream errors are passed
through (status and body) and logged as a ``review`` verdict with the reason.

Requests may carry ``catalyst_context`` (passages) and ``catalyst_metadata`` in the JSON body (the
SDK's ``extra_body=``); they are removed before the request goes upstream.

The proxy process owns the DuckDB file (``Store(keep_open=True)``): verdicts are queued in memory and
written every ``flush_interval`` seconds and at shutdown, so a crash loses at most that interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from catalyst.errors import ConfigError
from catalyst.llm import LLMConfig
from catalyst.openai._stream import ChunkChecker, StreamAccumulator, chunk_steps
from catalyst.policy._compile import Step
from catalyst.proxy._upstream import UpstreamError, error_of, send
from catalyst.records import Decision, Interaction, Verdict, confidence_text
from catalyst.store import Store
from catalyst.validator import PolicyLike
from catalyst.wrapping import Guard, RegenerateFailed
from catalyst.wrapping._chat import (
    choice_logprobs,
    choice_text,
    make_record,
    refusal_text,
    response_choices,
    retry_messages,
    verdict_payload,
)

__all__ = ["ProxyConfig", "create_app"]

_JSON = "application/json"


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


def _headers(verdict: Verdict, record_id: str) -> dict[str, str]:
    return {"x-catalyst-decision": verdict.decision.value,
            "x-catalyst-confidence": confidence_text(verdict.confidence, 4),  # `not verified` without evidence
            "x-catalyst-evidence": verdict.evidence,
            "x-catalyst-id": record_id, "x-catalyst-policy": verdict.policy}


def _split(body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    context = body.pop("catalyst_context", None)
    meta = body.pop("catalyst_metadata", None)
    meta = dict(meta) if isinstance(meta, dict) else {}
    if body.get("model"):
        meta.setdefault("model", body["model"])
    meta.setdefault("via", "proxy")
    return context, meta


class Proxy:
    """The proxy's state: the upstream settings and HTTP pool, the guard (validator + log), the check threads."""

    def __init__(self, cfg: ProxyConfig) -> None:
        if not cfg.upstream.startswith(("http://", "https://")):
            raise ConfigError(f"--upstream {cfg.upstream!r} must be a URL like http://127.0.0.1:8000/v1")
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
        self._check_ms = 0.0
        self.timings: deque[float] = deque(maxlen=2000)  # upstream round trips, ms (for /healthz)

    def open_log(self) -> None:
        """Open (and migrate) the DuckDB file now, so a locked or unwritable log fails at startup."""
        store = self.guard.store
        if store is not None:
            with store.connect():
                pass

    async def start(self) -> None:
        await asyncio.to_thread(self.open_log)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.cfg.concurrency))

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        self.pool.shutdown(wait=True)
        self.guard.close()  # drains the queue and flushes: every verdict is on disk after shutdown

    # -- helpers ----------------------------------------------------------------------------------
    async def _in_pool(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _auth(self, request: Request) -> dict[str, str]:
        auth = request.headers.get("authorization")
        return {"Authorization": auth} if auth else {}

    def _fail(self, messages: Any, context: Any, meta: dict[str, Any], err: UpstreamError,
              partial: str = "") -> Verdict:
        rec = make_record(messages, partial, context=context,
                          metadata={**meta, "error": err.message[:1000], "upstream_status": err.status})
        return self.guard.log_failure(rec, f"upstream HTTP {err.status}: {err.message}")

    # -- routes -----------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        assert self.http is not None
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout)
        try:
            async with self.http.get(f"{self.upstream}/models", headers=self._auth(request), timeout=timeout) as r:
                data = await r.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            err = error_of(e)
            return Response(err.body, status_code=err.status, media_type=_JSON)
        return Response(data, status_code=r.status, media_type=r.headers.get("content-type", _JSON))

    async def health(self, request: Request) -> Response:
        w = self.guard.writer
        data = {"ok": True, "upstream": self.upstream, "policy": self.guard.policy.version,
                "pending_verdicts": w.pending if w else 0, "log_write_errors": w.errors if w else 0,
                "uptime_s": round(time.time() - self.started, 1),
                "upstream_ms_p50": round(statistics.median(self.timings), 2) if self.timings else None,
                "checks_ms_avg": round(self._check_ms, 3)}
        return Response(orjson.dumps(data), media_type=_JSON)

    async def chat(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "request body is not valid JSON", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            return _error(400, "a chat completion needs a JSON object with `model` and a list of `messages`",
                          "invalid_request_error")
        context, meta = _split(body)
        if body.get("stream"):
            return await self._stream(request, body, context, meta)
        return await self._complete(request, body, context, meta)

    def _upstream_headers(self, request: Request, stream: bool) -> dict[str, str]:
        headers = {"content-type": _JSON, "accept": "text/event-stream" if stream else _JSON, **self._auth(request)}
        if "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.llm_config.api_key()}"
        return headers

    async def _complete(self, request: Request, body: dict[str, Any], context: Any,
                        meta: dict[str, Any]) -> Response:
        assert self.http is not None
        messages = body["messages"]
        headers = self._upstream_headers(request, stream=False)
        t0 = time.perf_counter()
        try:
            _, data = await send(self.http, self.llm_config, self.chat_url, orjson.dumps(body), headers, stream=False)
            self.timings.append((time.perf_counter() - t0) * 1000)
        except UpstreamError as err:
            verdict = await self._in_pool(self._fail, messages, context, meta, err)
            return Response(err.body, status_code=err.status, media_type=_JSON,
                            headers={**err.headers, **_headers(verdict, verdict.id)})
        records = _records(data, messages, context, meta)
        regen = None
        inline = self._inline()
        if self.cfg.retry and len(records) == 1:
            regen = self._regenerate(body, headers, data, None if inline else asyncio.get_running_loop())
        verdicts = await self._validate(records, regen, inline)
        data = regen.latest if regen is not None else data  # type: ignore[attr-defined]
        for choice, v in zip(response_choices(data), verdicts, strict=False):
            choice["catalyst"] = verdict_payload(v, evidence=self.cfg.evidence)
            if v.decision is Decision.BLOCK:
                choice["message"]["content"] = refusal_text(v)
                choice["finish_reason"] = "content_filter"
            elif v.output is not None:
                choice["message"]["content"] = v.output
        data["catalyst"] = verdict_payload(verdicts[0], evidence=self.cfg.evidence)
        return Response(orjson.dumps(data), media_type=_JSON, headers=_headers(verdicts[0], records[0].id))

    def _inline(self) -> bool:
        """Run the checks on the event loop while they are fast (a thread hop costs more than they do)."""
        return self._check_ms < self.cfg.inline_below_ms

    async def _validate(self, records: list[Interaction], regen: Any, inline: bool) -> list[Verdict]:
        if inline:
            verdicts = await self.guard.acheck(records, regen)
        else:
            verdicts = await self._in_pool(self.guard.check, records, regen)
        ms = sum(v.ms or 0.0 for v in verdicts) / max(1, len(verdicts))
        self._check_ms = 0.9 * self._check_ms + 0.1 * ms  # moving average of the flow's own time
        return verdicts

    def _regenerate(self, body: dict[str, Any], headers: dict[str, str], first: dict[str, Any],
                    loop: asyncio.AbstractEventLoop | None) -> Any:
        """Re-ask upstream with the rejected answer and the reasons. Inline (``loop`` None) it is a coroutine;
        from a check thread the request runs on the server's event loop and the thread waits for it."""
        assert self.http is not None
        http = self.http

        async def aregen(rec: Interaction, reasons: list[str]) -> str:
            again = {**body, "messages": retry_messages(body["messages"], rec.output, reasons)}
            try:
                _, data = await send(http, self.llm_config, self.chat_url, orjson.dumps(again), headers, stream=False)
            except Exception as e:
                raise RegenerateFailed(e) from e
            aregen.latest = data  # type: ignore[attr-defined]
            return choice_text(response_choices(data)[0])

        if loop is None:
            aregen.latest = first  # type: ignore[attr-defined]
            return aregen

        def regen(rec: Interaction, reasons: list[str]) -> str:
            again = {**body, "messages": retry_messages(body["messages"], rec.output, reasons)}
            fut = asyncio.run_coroutine_threadsafe(
                send(http, self.llm_config, self.chat_url, orjson.dumps(again), headers, stream=False), loop)
            try:
                _, data = fut.result(timeout=(self.llm_config.deadline or 600) + 5)
            except Exception as e:
                raise RegenerateFailed(e) from e
            regen.latest = data  # type: ignore[attr-defined]
            return choice_text(response_choices(data)[0])

        regen.latest = first  # type: ignore[attr-defined]
        return regen

    async def _stream(self, request: Request, body: dict[str, Any], context: Any,
                      meta: dict[str, Any]) -> Response:
        assert self.http is not None
        messages = body["messages"]
        headers = self._upstream_headers(request, stream=True)
        try:
            upstream, _ = await send(self.http, self.llm_config, self.chat_url, orjson.dumps(body), headers,
                                     stream=True)
        except UpstreamError as err:
            verdict = await self._in_pool(self._fail, messages, context, meta, err)
            return Response(err.body, status_code=err.status, media_type=_JSON,
                            headers={**err.headers, **_headers(verdict, verdict.id)})
        return StreamingResponse(self._relay(upstream, messages, context, meta), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-catalyst-policy": self.guard.policy.version,
                                          "x-catalyst-verdict": "final-chunk"})

    async def _relay(self, upstream: aiohttp.ClientResponse, messages: Any, context: Any,
                     meta: dict[str, Any]) -> AsyncIterator[bytes]:
        acc = StreamAccumulator()
        checker = ChunkChecker(self.steps)
        cut = False
        try:
            async for raw in upstream.content:
                if not raw.startswith(b"data:"):
                    continue
                payload = raw[5:].strip()
                if payload == b"[DONE]":
                    break
                chunk = orjson.loads(payload)
                touched = acc.add(chunk)
                if checker.steps and any(not checker.ok(acc.text(i), messages, meta) for i in touched):
                    cut = True
                    yield _sse({**_frame(chunk), "choices": [
                        {"index": i, "delta": {}, "finish_reason": "content_filter", "logprobs": None}
                        for i in sorted(acc.texts) if acc.finish.get(i) is None]})
                    break
                yield b"data: " + payload + b"\n\n"
            else:
                raise _StreamBroke("upstream stream ended without [DONE]")
        except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError, _StreamBroke) as e:
            err = UpstreamError(502, b"", f"upstream stream broke: {type(e).__name__}: {e}", {})
            verdict = await self._in_pool(self._fail, messages, context, meta, err, acc.text(0))
            yield _sse({"error": {"message": err.message, "type": "upstream_error", "param": None,
                                  "code": "upstream_error"}, "catalyst": verdict_payload(verdict)})
            return
        finally:
            if cut:
                upstream.close()  # stop reading: drop the connection rather than drain the rest
            else:
                upstream.release()
        if cut:
            meta = {**meta, "stream_cut_by": checker.failed}
        verdicts = await self._validate(acc.records(messages, context, meta), None, self._inline())
        ev = self.cfg.evidence
        final = {**_frame(acc.last), "choices": [], "catalyst": verdict_payload(verdicts[0], evidence=ev)}
        if len(verdicts) > 1:
            final["catalyst_choices"] = [verdict_payload(v, evidence=self.cfg.evidence) for v in verdicts]
        yield _sse(final)
        yield b"data: [DONE]\n\n"


class _StreamBroke(Exception):
    """The upstream stream ended without its ``[DONE]`` line."""


def _frame(chunk: Any) -> dict[str, Any]:
    c = chunk if isinstance(chunk, dict) else {}
    return {"id": c.get("id", "catalyst"), "object": "chat.completion.chunk", "created": c.get("created", 0),
            "model": c.get("model", "")}


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _error(status: int, message: str, etype: str) -> Response:
    return Response(orjson.dumps({"error": {"message": message, "type": etype, "param": None, "code": etype}}),
                    status_code=status, media_type=_JSON)


def _records(data: dict[str, Any], messages: Any, context: Any, meta: dict[str, Any]) -> list[Interaction]:
    choices = response_choices(data)
    texts = [choice_text(c) for c in choices]
    return [make_record(messages, texts[i], context=context, logprobs=choice_logprobs(c), metadata=meta,
                        samples=[t for j, t in enumerate(texts) if j != i]) for i, c in enumerate(choices)]


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
        Route("/v1/chat/completions", proxy.chat, methods=["POST"]),
        Route("/chat/completions", proxy.chat, methods=["POST"]),
        Route("/v1/models", proxy.models, methods=["GET"]),
        Route("/models", proxy.models, methods=["GET"]),
        Route("/healthz", proxy.health, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.proxy = proxy
    return app
