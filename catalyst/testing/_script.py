"""What the scripted server answers: replies, faults, and the rules that pick one per request.

A *script* is any of:

- a ``str`` or a :class:`Reply`: every request gets it;
- a ``list`` / ``tuple`` of those: a queue, one item per request, in order (then ``default``);
- a ``dict`` mapping a prompt substring to a reply: the first key found in the request's prompt wins
  (key ``"*"`` matches anything);
- a callable ``f(request) -> str | Reply | list | dict``: a rule computed from the request.

Token log-probabilities are deterministic functions of the scripted text, so tests can assert on them:
the text is cut into tokens by :func:`tokenize`, and each token's logprob is
:func:`default_logprob` unless the reply gives its own.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Fault",
    "Reply",
    "ScriptedRequest",
    "default_logprob",
    "tokenize",
]

Fault = Literal["malformed", "drop", "drop_mid_body", "drop_mid_stream"]

_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into tokens that concatenate back to it: words and punctuation with leading spaces."""
    return _TOKEN_RE.findall(text)


def default_logprob(token: str) -> float:
    """A deterministic logprob in [-2.0, -0.001] for ``token`` (a stable hash, not a language model)."""
    h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big")
    return -0.001 - 1.999 * (h / 0xFFFFFFFF) ** 3  # skewed towards confident tokens, like real models


@dataclass(slots=True)
class Reply:
    """One scripted answer (or fault) for one request.

    ``text`` is the answer; a list gives one text per choice when the request asks for ``n > 1``
    (cycled if shorter). ``logprobs`` overrides the per-token logprobs (one value per token of
    :func:`tokenize`, or a constant). ``status`` other than 200 sends an OpenAI-style error body.
    ``logprobs`` may also be a function of the token. ``delay`` waits before the response starts;
    ``chunk_delay`` waits between streamed chunks. A request's ``max_tokens`` cuts the text (``finish_reason``
    becomes ``"length"``); ``echo`` on ``/v1/completions`` returns the prompt's tokens too.
    ``fault`` breaks the response on purpose (see the constructors below).
    """

    text: str | list[str] = "OK"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    logprobs: float | list[float] | Callable[[str], float] | None = None
    finish_reason: str = "stop"
    fault: Fault | None = None
    error_message: str | None = None
    drop_after_chunks: int = 2
    body: bytes | None = None  # raw body, sent as-is (overrides everything but status/headers/delay)

    # -- constructors for the common faults ---------------------------------------------
    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0,
                     message: str = "rate limited by the scripted server") -> Reply:
        """HTTP 429 with a ``Retry-After`` header (seconds; omitted when ``None``)."""
        headers = {} if retry_after is None else {"retry-after": _num(retry_after)}
        return cls(status=429, headers=headers, error_message=message)

    @classmethod
    def server_error(cls, status: int = 500, message: str = "scripted server error") -> Reply:
        """An HTTP 5xx (or any status) with an OpenAI-style error body."""
        return cls(status=status, error_message=message)

    @classmethod
    def slow(cls, seconds: float, text: str | list[str] = "OK") -> Reply:
        """Answer ``text`` after ``seconds`` (for timeouts)."""
        return cls(text=text, delay=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        """HTTP 200 and a body that is not valid JSON (for a stream: an event that is not valid JSON)."""
        return cls(fault="malformed")

    @classmethod
    def dropped(cls) -> Reply:
        """Close the connection without sending any response."""
        return cls(fault="drop")

    @classmethod
    def dropped_mid_body(cls, text: str | list[str] = "OK") -> Reply:
        """Send the headers and half the JSON body, then close the connection."""
        return cls(text=text, fault="drop_mid_body")

    @classmethod
    def dropped_mid_stream(cls, text: str | list[str] = "one two three four five", after_chunks: int = 2) -> Reply:
        """Stream ``after_chunks`` chunks, then close without finishing (no ``[DONE]``)."""
        return cls(text=text, fault="drop_mid_stream", drop_after_chunks=after_chunks)

    @classmethod
    def raw(cls, body: bytes | str, status: int = 200, content_type: str = "application/json") -> Reply:
        """Send exactly ``body`` (for schema-valid-but-wrong JSON and other oddities)."""
        data = body.encode() if isinstance(body, str) else body
        return cls(status=status, headers={"content-type": content_type}, body=data)

    # -- helpers used by the server -----------------------------------------------------
    def text_for(self, index: int) -> str:
        if isinstance(self.text, str):
            return self.text
        if not self.text:
            return ""
        return self.text[index % len(self.text)]

    def prompt_logprobs(self, tokens: Sequence[str]) -> list[float]:
        """Logprobs of echoed prompt tokens: the reply's function if it has one, else the default."""
        if callable(self.logprobs):
            return [float(self.logprobs(t)) for t in tokens]
        return [default_logprob(t) for t in tokens]

    def token_logprobs(self, tokens: Sequence[str]) -> list[float]:
        if self.logprobs is None:
            return [default_logprob(t) for t in tokens]
        if callable(self.logprobs):
            return [float(self.logprobs(t)) for t in tokens]
        if isinstance(self.logprobs, int | float):
            return [float(self.logprobs)] * len(tokens)
        lps = [float(x) for x in self.logprobs]
        if len(lps) < len(tokens):  # pad with the default so a short list is not an error
            lps += [default_logprob(t) for t in tokens[len(lps):]]
        return lps[: len(tokens)]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(slots=True)
class ScriptedRequest:
    """One request the server received, as recorded (in arrival order)."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    received_at: float

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        msgs = self.json.get("messages")
        return msgs if isinstance(msgs, list) else []

    @property
    def prompt(self) -> str:
        """The prompt as text: ``prompt`` for completions, all message contents joined for chat."""
        body = self.json
        if "prompt" in body:
            p = body["prompt"]
            return p if isinstance(p, str) else "\n".join(map(str, p)) if isinstance(p, list) else str(p)
        parts = []
        for m in self.messages:
            c = m.get("content", "")
            if isinstance(c, list):
                c = " ".join(str(x.get("text", "")) for x in c if isinstance(x, dict))
            parts.append(str(c or ""))
        return "\n".join(parts)

    @property
    def last_user_message(self) -> str:
        for m in reversed(self.messages):
            if m.get("role") == "user":
                c = m.get("content", "")
                return c if isinstance(c, str) else str(c)
        return self.prompt

    @property
    def model(self) -> str:
        return str(self.json.get("model", ""))

    @property
    def n(self) -> int:
        try:
            return max(1, int(self.json.get("n") or 1))
        except (TypeError, ValueError):
            return 1

    @property
    def stream(self) -> bool:
        return bool(self.json.get("stream"))


ScriptItem = str | Reply
Script = ScriptItem | Sequence[ScriptItem] | Mapping[str, Any] | Callable[[ScriptedRequest], Any]


class ScriptError(LookupError):
    """The script has no reply for a request (queue exhausted, no matching key)."""


class Scripter:
    """Resolves a script to one :class:`Reply` per request. Thread-safe (the server is threaded)."""

    def __init__(self, script: Script | None = None, default: ScriptItem | None = None) -> None:
        self._lock = threading.Lock()
        self.default = default
        self.set(script)

    def set(self, script: Script | None) -> None:
        with self._lock:
            self._script: Any = "OK" if script is None else script
            self._queue: deque[Any] | None = None
            if isinstance(script, list | tuple):
                self._queue = deque(script)

    def push(self, items: Iterable[ScriptItem]) -> None:
        """Append replies to the queue (turning the script into a queue if it was not one)."""
        with self._lock:
            if self._queue is None:
                self._queue = deque()
                self.default = self.default if self.default is not None else self._script
            self._queue.extend(items)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue) if self._queue is not None else 0

    def next(self, request: ScriptedRequest) -> Reply:
        with self._lock:
            if self._queue is not None:
                if self._queue:
                    item: Any = self._queue.popleft()
                elif self.default is not None:
                    item = self.default
                else:
                    raise ScriptError(
                        f"script exhausted: request #{request.index} ({request.path}) arrived after every scripted "
                        "reply was used; add replies or pass default=")
            else:
                item = self._script
        return self._resolve(item, request, depth=0)

    def _resolve(self, item: Any, request: ScriptedRequest, depth: int) -> Reply:
        if depth > 8:
            raise ScriptError("script rules nest more than 8 levels deep")
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return Reply(text=item)
        if isinstance(item, Mapping):
            prompt = request.prompt
            for key, value in item.items():
                if key != "*" and key in prompt:
                    return self._resolve(value, request, depth + 1)
            if "*" in item:
                return self._resolve(item["*"], request, depth + 1)
            if self.default is not None:
                return self._resolve(self.default, request, depth + 1)
            raise ScriptError(f"no scripted key occurs in the prompt of request #{request.index}: "
                              f"keys {list(item)!r}; add a '*' key or default=")
        if isinstance(item, list | tuple):  # a list returned by a rule: one text per choice
            if all(isinstance(x, str) for x in item):
                return Reply(text=list(item))
            raise ScriptError("a rule returned a list that is not a list of texts")
        if callable(item):
            return self._resolve(item(request), request, depth + 1)
        raise ScriptError(f"cannot use {type(item).__name__} as a scripted reply; use a str, Reply, list, dict or "
                          "callable")


def top_alternatives(token: str, logprob: float, k: int) -> list[tuple[str, float]]:
    """``k`` top candidates, the chosen token first, the rest sharing the remaining probability mass."""
    if k <= 0:
        return []
    p = math.exp(logprob)
    rest = max(1e-9, 1.0 - p)
    out = [(token, logprob)]
    for i in range(1, k):
        share = rest / (2 ** i)  # geometric split; always below the mass left
        out.append((f"{token}~{i}", math.log(max(share, 1e-12))))
    return sorted(out, key=lambda kv: -kv[1])
