"""A scripted OpenAI-compatible HTTP server on loopback, run in a thread, for tests and notebooks.

Built on :mod:`http.server` (stdlib, starts in milliseconds). Each connection is handled in its own
thread; :meth:`ScriptedServer.stop` wakes every sleeping handler, closes every open connection and
joins every thread, so a test leaves nothing behind.

Speaks ``POST /v1/chat/completions`` and ``POST /v1/completions`` (also without the ``/v1``
prefix), non-streaming and SSE streaming (``data: {...}`` chunks and a final ``data: [DONE]``),
``n > 1``, ``logprobs`` / ``top_logprobs``, ``stream_options.include_usage``, and ``GET /v1/models``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from catalyst.testing._script import (
    Reply,
    Script,
    ScriptedRequest,
    Scripter,
    ScriptError,
    ScriptItem,
    tokenize,
    top_alternatives,
)

__all__ = ["ScriptedServer"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # tracked, so server_close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, owner: ScriptedServer, addr: tuple[str, int]) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # no tracebacks on stderr
        import sys

        exc = sys.exc_info()[1]
        if not self.stopping.is_set() and not isinstance(exc, ConnectionError | TimeoutError):
            self.owner._errors.append(f"handler error: {exc!r}")

    def close_all_connections(self) -> None:
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conns_lock:
                self.server.conns.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        return

    # -- routing --------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [
                {"id": self.server.owner.model, "object": "model", "created": 0, "owned_by": "catalyst-testing"}]})
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?")[0].rstrip("/")
        req = owner._record(self.command, path, dict(self.headers.items()), body, raw)
        kind = {"/v1/chat/completions": "chat", "/chat/completions": "chat",
                "/v1/completions": "text", "/completions": "text"}.get(path)
        if kind is None:
            self._error(404, f"no route POST {self.path}; use /v1/chat/completions or /v1/completions", "not_found")
            return
        if not isinstance(body, dict):
            self._error(400, "request body is not a JSON object", "invalid_request_error")
            return
        try:
            reply = owner._scripter.next(req)
        except ScriptError as e:
            owner._errors.append(str(e))
            self._error(500, f"scripted server: {e}", "script_error")
            return
        if reply.delay > 0 and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        self._answer(kind, req, reply)

    # -- responses ------------------------------------------------------------------------
    def _answer(self, kind: str, req: ScriptedRequest, reply: Reply) -> None:
        if reply.fault == "drop":
            self.close_connection = True
            return
        if reply.body is not None:
            self._send(reply.status, reply.body, reply.headers)
            return
        if reply.status != 200 or reply.error_message:
            status = reply.status if reply.status != 200 else 500
            etype = "rate_limit_exceeded" if status == 429 else "server_error"
            self._error(status, reply.error_message or f"scripted status {status}", etype, reply.headers)
            return
        if reply.fault == "malformed" and req.stream:  # a well-framed stream whose second event is broken JSON
            self._start(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked", **reply.headers})
            events = _stream_events(kind, req, reply, self.server.owner.model)
            for line in (b"data: " + json.dumps(events[0]).encode() + b"\n\n", b'data: {"id": "broken", "choi\n\n',
                         b"data: [DONE]\n\n"):
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if reply.fault == "malformed":
            self._send(200, b'{"id": "scripted-broken", "choices": [{"index": 0, "message": {"content": "hal',
                       reply.headers)
            return
        if req.stream:
            self._stream(kind, req, reply)
            return
        payload = _completion(kind, req, reply, self.server.owner.model)
        data = json.dumps(payload).encode()
        if reply.fault == "drop_mid_body":
            self._start(200, {"content-type": "application/json", "content-length": str(len(data)),
                              **reply.headers})
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hard_close()
            return
        self._send(200, data, reply.headers)

    def _stream(self, kind: str, req: ScriptedRequest, reply: Reply) -> None:
        self._start(200, {"content-type": "text/event-stream", "cache-control": "no-cache",
                          "transfer-encoding": "chunked", **reply.headers})
        for sent, event in enumerate(_stream_events(kind, req, reply, self.server.owner.model)):
            if reply.fault == "drop_mid_stream" and sent >= reply.drop_after_chunks:
                self._hard_close()
                return
            if sent and reply.chunk_delay > 0 and self.server.stopping.wait(reply.chunk_delay):
                self._hard_close()
                return
            line = b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        h = {"content-type": "application/json", **(headers or {}), "content-length": str(len(data))}
        self._start(status, h)
        self.wfile.write(data)
        self.wfile.flush()

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, message: str, etype: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": {"message": message, "type": etype, "param": None, "code": etype}}, headers)

    def _hard_close(self) -> None:
        """Drop the connection: no more bytes, no clean end of the body."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# -- payloads (pure functions) ---------------------------------------------------------------

def _token_entries(text: str, reply: Reply, top: int) -> tuple[list[str], list[float], list[list[tuple[str, float]]]]:
    tokens = tokenize(text)
    lps = reply.token_logprobs(tokens)
    tops = [top_alternatives(t, lp, top) for t, lp in zip(tokens, lps, strict=True)]
    return tokens, lps, tops


def _chat_logprobs(tokens: list[str], lps: list[float], tops: list[list[tuple[str, float]]]) -> dict[str, Any]:
    return {"content": [
        {"token": t, "logprob": lp, "bytes": list(t.encode()),
         "top_logprobs": [{"token": a, "logprob": alp, "bytes": list(a.encode())} for a, alp in alts]}
        for t, lp, alts in zip(tokens, lps, tops, strict=True)], "refusal": None}


def _text_logprobs(tokens: list[str], lps: list[float], tops: list[list[tuple[str, float]]],
                   offset0: int = 0) -> dict[str, Any]:
    offsets, pos = [], offset0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": [dict(a) for a in tops], "text_offset": offsets}


def _logprob_request(kind: str, body: dict[str, Any]) -> tuple[bool, int]:
    """(want logprobs, how many top alternatives) from a request body."""
    if kind == "chat":
        want = bool(body.get("logprobs"))
        return want, int(body.get("top_logprobs") or 0) if want else 0
    lp = body.get("logprobs")
    return lp is not None, int(lp or 0)


def _usage(req: ScriptedRequest, texts: list[str]) -> dict[str, int]:
    p = len(tokenize(req.prompt))
    c = sum(len(tokenize(t)) for t in texts)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _texts(req: ScriptedRequest, reply: Reply) -> tuple[list[str], list[str]]:
    """Each choice's text, cut at the request's ``max_tokens``, and its finish reason."""
    body = req.json
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    texts, reasons = [], []
    for i in range(req.n):
        text = reply.text_for(i)
        if isinstance(limit, int) and limit >= 0:
            toks = tokenize(text)
            if len(toks) > limit:
                texts.append("".join(toks[:limit]))
                reasons.append("length")
                continue
        texts.append(text)
        reasons.append(reply.finish_reason)
    return texts, reasons


def _completion(kind: str, req: ScriptedRequest, reply: Reply, default_model: str) -> dict[str, Any]:
    want, top = _logprob_request(kind, req.json)
    texts, reasons = _texts(req, reply)
    echo = kind == "text" and bool(req.json.get("echo"))
    choices = []
    for i, text in enumerate(texts):
        lp_obj = None
        if want:
            tokens, lps, tops = _token_entries(text, reply, top)
            if echo:
                ptoks = tokenize(req.prompt)
                plps: list[Any] = reply.prompt_logprobs(ptoks)
                ptops = [top_alternatives(t, lp, top) for t, lp in zip(ptoks, plps, strict=True)]
                plps[:1] = [None] * min(1, len(plps))  # like OpenAI: the first prompt token has no logprob
                tokens, lps, tops = ptoks + tokens, plps + lps, ptops + tops
            lp_obj = _chat_logprobs(tokens, lps, tops) if kind == "chat" else _text_logprobs(tokens, lps, tops)
        if echo:
            text = req.prompt + text
        if kind == "chat":
            choices.append({"index": i, "message": {"role": "assistant", "content": text, "refusal": None},
                            "finish_reason": reasons[i], "logprobs": lp_obj})
        else:
            choices.append({"index": i, "text": text, "finish_reason": reasons[i], "logprobs": lp_obj})
    return {
        "id": f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-scripted-{req.index}",
        "object": "chat.completion" if kind == "chat" else "text_completion",
        "created": int(time.time()), "model": req.model or default_model,
        "choices": choices, "usage": _usage(req, texts), "system_fingerprint": "catalyst-testing",
    }


def _stream_events(kind: str, req: ScriptedRequest, reply: Reply, default_model: str) -> list[Any]:
    want, top = _logprob_request(kind, req.json)
    texts, reasons = _texts(req, reply)
    base = {"id": f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-scripted-{req.index}",
            "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": int(time.time()), "model": req.model or default_model}
    events: list[Any] = []
    for i, text in enumerate(texts):
        tokens, lps, tops = _token_entries(text, reply, top)
        if kind == "chat":
            events.append({**base, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                                "logprobs": None, "finish_reason": None}]})
        offset = 0
        for t, lp, alts in zip(tokens, lps, tops, strict=True):
            if kind == "chat":
                choice = {"index": i, "delta": {"content": t}, "finish_reason": None,
                          "logprobs": _chat_logprobs([t], [lp], [alts]) if want else None}
            else:
                choice = {"index": i, "text": t, "finish_reason": None,
                          "logprobs": _text_logprobs([t], [lp], [alts], offset) if want else None}
            offset += len(t)
            events.append({**base, "choices": [choice]})
        final = ({"index": i, "delta": {}, "finish_reason": reasons[i], "logprobs": None} if kind == "chat"
                 else {"index": i, "text": "", "finish_reason": reasons[i], "logprobs": None})
        events.append({**base, "choices": [final]})
    opts = req.json.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        events.append({**base, "choices": [], "usage": _usage(req, texts)})
    events.append(b"[DONE]")
    return events


class ScriptedServer:
    """An OpenAI-compatible server on ``127.0.0.1`` (a free port) that answers from a script.

    >>> from catalyst.testing import ScriptedServer, Reply
    >>> with ScriptedServer(["first answer", Reply.rate_limited(0.1), "third"]) as srv:
    ...     client = openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
    ...     ...
    ...     assert len(srv.requests) == 3

    ``script`` is described in :mod:`catalyst.testing._script`; it can be replaced at any time
    (``srv.script = ...``) and replies appended (``srv.push(...)``). Every request is recorded in
    :attr:`requests`. Problems of the script itself (queue exhausted, no matching key) answer 500
    and are listed in :attr:`errors`, so a test can assert there were none.
    """

    def __init__(self, script: Script | None = None, *, default: ScriptItem | None = None,
                 model: str = "scripted-model", host: str = "127.0.0.1", port: int = 0) -> None:
        self.model = model
        self._host, self._port = host, port
        self._scripter = Scripter(script, default)
        self._requests: list[ScriptedRequest] = []
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(self, (self._host, self._port))
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"catalyst-scripted-server:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()  # joins every handler thread
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    close = stop

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedServer:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- addresses and clients ----------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the scripted server is not running; use `with ScriptedServer(...) as srv:`")
        return self._port

    @property
    def url(self) -> str:
        """The ``base_url`` for the ``openai`` client (ends in ``/v1``)."""
        return f"http://{self._host}:{self.port}/v1"

    base_url = url

    def client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` pointed here, SDK retries off (``max_retries=0``) unless given."""
        import openai

        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=self.url, api_key="test", **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        """An ``openai.AsyncOpenAI`` pointed here, SDK retries off unless given."""
        import openai

        kwargs.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(base_url=self.url, api_key="test", **kwargs)

    # -- the script and the record -----------------------------------------------------------
    @property
    def script(self) -> Any:
        return self._scripter._script

    @script.setter
    def script(self, script: Script) -> None:
        self._scripter.set(script)

    def push(self, *replies: ScriptItem) -> None:
        """Queue more replies (served before ``default``)."""
        self._scripter.push(replies)

    @property
    def remaining(self) -> int:
        """Replies still queued."""
        return self._scripter.remaining

    @property
    def requests(self) -> list[ScriptedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_suffix: str) -> list[ScriptedRequest]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    def reset(self) -> None:
        """Forget recorded requests and errors (the script stays)."""
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any, raw: bytes) -> ScriptedRequest:
        with self._lock:
            req = ScriptedRequest(index=len(self._requests), method=method, path=path, headers=headers,
                                  body=body, raw=raw, received_at=time.monotonic())
            self._requests.append(req)
            return req
