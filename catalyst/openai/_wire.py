"""The OpenAI chat-completions wire format as Catalyst speaks it — once, for the drop-in client and the proxy.

Both ends do the same things to the same JSON, whether it arrives as the ``openai`` SDK's objects (the
client) or as plain dicts (the proxy):

- **Requests.** :meth:`Request.parse` takes Catalyst's own fields out of a request (``catalyst_context``: a
  list of passages or one string; ``catalyst_metadata``: an object) and checks them, and the request's
  ``model`` and ``messages``, against the record contract *before* anything is sent upstream. A bad field is
  a :class:`~catalyst.errors.RecordError` naming it (the proxy answers 400 with ``param`` set to it).
- **What is validated.** :meth:`Request.records` turns a completion into one record per choice (the other
  choices are its samples); :class:`StreamAccumulator` does the same for a stream's chunks.
- **What is delivered.** :func:`deliver` puts the delivered text in each choice: the retried or redacted
  answer, or, for a blocked answer under ``on_block="refuse"``, a refusal saying why with
  ``finish_reason: "content_filter"``. :func:`attach` hangs the verdicts on the response (the client:
  ``catalyst_verdict`` objects; the proxy: the ``catalyst`` JSON field, :func:`verdict_payload`).
  :func:`verdict_headers` are the ``x-catalyst-*`` headers; :func:`cut_chunk` / :func:`final_chunk` end a
  stream that a chunk check cut, and carry the verdict after the last chunk; :func:`error_body` is the
  OpenAI-style error every proxy error uses.

``on_block`` (client, ``catalyst.wrap``): :data:`DEFAULT_ON_BLOCK` is ``"raise"`` for both — a blocked answer
raises :class:`~catalyst.errors.Blocked` (carrying the verdict, the withheld text and the response), so code
that never planned for a block finds out at once. ``"refuse"`` returns the refusal completion instead (what
the proxy always does: HTTP has no exception to raise into the app), ``"return"`` the answer as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import orjson
from pydantic import ValidationError

from catalyst.errors import Blocked, ConfigError, RecordError
from catalyst.records import Decision, Interaction, Verdict, confidence_text, content_id
from catalyst.wrapping import OnBlock
from catalyst.wrapping._chat import (
    choice_logprobs,
    choice_text,
    is_messages,
    json_kind,
    make_record,
    pop_extras,
    refusal_text,
    response_choices,
    retry_messages,
)

__all__ = ["DEFAULT_ON_BLOCK", "Request", "StreamAccumulator", "attach", "blocked", "check_on_block", "cut_chunk",
           "deliver", "describe_failure", "error_body", "final_chunk", "verdict_headers", "verdict_payload"]

#: what a blocked answer does in the drop-in client and ``catalyst.wrap`` unless told otherwise
DEFAULT_ON_BLOCK: OnBlock = "raise"
_RECORD_FIELD = {"context": "catalyst_context", "metadata": "catalyst_metadata", "input": "messages"}


def check_on_block(value: str) -> OnBlock:
    if value not in get_args(OnBlock):
        raise ConfigError(f"on_block={value!r}; use 'raise' (default), 'refuse' or 'return'")
    return value  # type: ignore[return-value]


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _set(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[key] = value
    else:
        setattr(obj, key, value)


def error_body(message: str, etype: str = "invalid_request_error", *, param: str | None = None,
               code: str | None = None) -> bytes:
    """An OpenAI-style error: ``{"error": {"message", "type", "param", "code"}}``."""
    return orjson.dumps({"error": {"message": message, "type": etype, "param": param, "code": code or etype}})


# -- requests ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class Request:
    """A chat completion request with Catalyst's fields taken out and checked; ``body`` is what goes upstream."""

    body: dict[str, Any]
    context: list[str]
    metadata: dict[str, Any]
    template: Interaction = field(repr=False)

    @property
    def messages(self) -> Any:
        return self.body["messages"]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @classmethod
    def parse(cls, body: dict[str, Any], *, via: str | None = None) -> Request:
        """Check ``body`` (a JSON request or ``create()``'s keyword arguments) and take Catalyst's fields out.

        Raises :class:`~catalyst.errors.RecordError` naming the field at fault; ``body`` is not changed.
        """
        body = dict(body)
        context, meta = pop_extras(body)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RecordError(f"a chat completion needs a model name (a non-empty string), got {json_kind(model)}",
                              field="model")
        if not is_messages(body.get("messages")):
            raise RecordError("a chat completion needs a non-empty list of messages, each with a `role`",
                              field="messages")
        if "stream" in body and not isinstance(body["stream"], bool | None):
            raise RecordError(f"must be true or false, not {json_kind(body['stream'])}", field="stream")
        sent_meta = body.get("metadata")
        if not context and isinstance(sent_meta, dict) and isinstance(sent_meta.get("catalyst_context"), str):
            context = [sent_meta["catalyst_context"]]  # OpenAI's own `metadata` (string values only)
        meta.setdefault("model", model)
        if via is not None:
            meta.setdefault("via", via)
        try:  # the record contract, checked now: a bad request never reaches the upstream
            template = make_record(body["messages"], "", context=context, metadata=meta, id="-")  # id: per answer
        except ValidationError as e:
            err = e.errors()[0]
            loc = [str(x) for x in err["loc"]]
            name = ".".join([_RECORD_FIELD.get(loc[0], loc[0]), *loc[1:]]) if loc else "request"
            raise RecordError(err["msg"], field=name) from None
        return cls(body, context, meta, template)

    def record(self, output: str, *, samples: Sequence[str] = (), logprobs: list[float] | None = None,
               **metadata: Any) -> Interaction:
        """The record for one answer to this request."""
        t = self.template
        return t.model_copy(update={
            "id": content_id(t.input, output, t.context), "output": output, "samples": list(samples),
            "logprobs": logprobs, "metadata": {**t.metadata, **metadata} if metadata else dict(t.metadata)})

    def records(self, response: Any) -> list[Interaction]:
        """One record per choice of a completion (SDK object or dict); the other choices are its samples."""
        choices = response_choices(response)
        texts = [choice_text(c) for c in choices]
        return [self.record(texts[i], logprobs=choice_logprobs(c), samples=[t for j, t in enumerate(texts) if j != i])
                for i, c in enumerate(choices)]

    def failure_record(self, error: BaseException, text: str = "", **metadata: Any) -> Interaction:
        """The record logged when the model call failed (``text``: what a stream delivered before)."""
        status = _status(error)
        if status is not None:
            metadata["upstream_status"] = status
        return self.record(text, error=describe_failure(error)[:1000], **metadata)

    def retry_body(self, previous: str, reasons: Sequence[str]) -> dict[str, Any]:
        """The request again, with the rejected answer and the reasons appended (the retry path)."""
        return {**self.body, "messages": retry_messages(self.messages, previous, reasons)}


def _status(error: BaseException) -> int | None:
    """The HTTP status of a failed call (the proxy's ``UpstreamError.status``, the SDK's ``status_code``)."""
    for name in ("status", "status_code"):
        value = getattr(error, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def describe_failure(error: BaseException | str) -> str:
    """One line for a failed model call: ``upstream HTTP 503: ...`` when it answered, else the exception."""
    if isinstance(error, str):
        return error
    status = _status(error)
    if status is not None:
        return f"upstream HTTP {status}: {getattr(error, 'message', None) or error}"
    return f"{type(error).__name__}: {error}"


# -- responses --------------------------------------------------------------------------------------
def deliver(response: Any, verdicts: Sequence[Verdict], on_block: OnBlock) -> None:
    """Put the delivered text in each choice: the refusal for a block under ``"refuse"``, else the verdict's
    output when it changed the answer (a retry or a redaction)."""
    for choice, v in zip(response_choices(response), verdicts, strict=False):
        msg = _get(choice, "message")
        if v.decision is Decision.BLOCK and on_block == "refuse":
            _set(msg, "content", refusal_text(v))
            _set(choice, "finish_reason", "content_filter")
        elif v.output is not None and msg is not None:
            _set(msg, "content", v.output)


def attach(response: Any, verdicts: Sequence[Verdict], key: str, value: Callable[[Verdict], Any]) -> None:
    """Set ``key`` on each choice (its verdict) and on the response (choice 0's verdict)."""
    for choice, v in zip(response_choices(response), verdicts, strict=False):
        _set(choice, key, value(v))
    _set(response, key, value(verdicts[0]) if verdicts else None)


def blocked(verdicts: Sequence[Verdict], texts: Sequence[str], response: Any = None, *,
            what: str = "answer") -> Blocked | None:
    """The :class:`Blocked` to raise for the first blocked verdict (``texts[i]``: the withheld text), or None."""
    for i, v in enumerate(verdicts):
        if v.decision is Decision.BLOCK:
            return Blocked(f"{what} blocked by policy `{v.policy}`: {'; '.join(v.reasons[:3])}", verdict=v,
                           output=texts[i] if i < len(texts) else None, response=response)
    return None


def verdict_payload(verdict: Verdict, *, evidence: bool = False) -> dict[str, Any]:
    """The verdict as JSON-ready data for the wire (``catalyst`` field); evidence spans only on request."""
    data = verdict.model_dump(mode="json", exclude_none=True)
    if verdict.confidence is None:
        data["confidence"] = None  # not verified: say so, do not drop the key
    if not evidence:
        for c in data.get("checks", []):
            c.pop("evidence", None)
            c.pop("details", None)
    return data


def verdict_headers(verdict: Verdict) -> dict[str, str]:
    """The ``x-catalyst-*`` response headers for a verdict."""
    return {"x-catalyst-decision": verdict.decision.value,
            "x-catalyst-confidence": confidence_text(verdict.confidence, 4),  # `not verified` without evidence
            "x-catalyst-evidence": verdict.evidence, "x-catalyst-id": verdict.id, "x-catalyst-policy": verdict.policy}


# -- streams ----------------------------------------------------------------------------------------
@dataclass
class StreamAccumulator:
    """Collects text, logprobs and finish reasons per choice index from chat completion chunks."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    logprobs: dict[int, list[float]] = field(default_factory=dict)
    finish: dict[int, str | None] = field(default_factory=dict)
    last: Any = None

    def add(self, chunk: Any) -> list[int]:
        """Add a chunk (SDK object or dict); returns the choice indexes it touched."""
        self.last = chunk
        touched = []
        for ch in _get(chunk, "choices") or []:
            i = int(_get(ch, "index") or 0)
            touched.append(i)
            delta = _get(ch, "delta")
            piece = _get(delta, "content") if delta is not None else _get(ch, "text")
            self.texts.setdefault(i, [])
            if isinstance(piece, str) and piece:
                self.texts[i].append(piece)
            content = _get(_get(ch, "logprobs"), "content")
            if content:
                self.logprobs.setdefault(i, []).extend(
                    float(v) for v in (_get(t, "logprob") for t in content) if isinstance(v, int | float))
            if _get(ch, "finish_reason"):
                self.finish[i] = _get(ch, "finish_reason")
        return touched

    def text(self, i: int = 0) -> str:
        return "".join(self.texts.get(i, []))

    def records(self, request: Request, **metadata: Any) -> list[Interaction]:
        """One record per choice seen so far (the others as samples)."""
        idx = sorted(self.texts) or [0]
        texts = {i: self.text(i) for i in idx}
        return [request.record(texts[i], logprobs=self.logprobs.get(i) or None,
                               samples=[texts[j] for j in idx if j != i], **metadata) for i in idx]


def _frame(chunk: Any) -> dict[str, Any]:
    return {"id": _get(chunk, "id") or "catalyst", "object": "chat.completion.chunk",
            "created": _get(chunk, "created") or 0, "model": _get(chunk, "model") or ""}


def cut_chunk(acc: StreamAccumulator) -> dict[str, Any]:
    """The last chunk of a stream a chunk check cut: every open choice ends with ``content_filter``."""
    return {**_frame(acc.last), "choices": [
        {"index": i, "delta": {}, "finish_reason": "content_filter", "logprobs": None}
        for i in sorted(acc.texts or {0: []}) if acc.finish.get(i) is None]}


def final_chunk(acc: StreamAccumulator, verdicts: Sequence[Verdict], *, evidence: bool = False) -> dict[str, Any]:
    """The chunk the proxy sends after the answer: no choices, the verdict in ``catalyst`` (and per choice)."""
    final = {**_frame(acc.last), "choices": [], "catalyst": verdict_payload(verdicts[0], evidence=evidence)}
    if len(verdicts) > 1:
        final["catalyst_choices"] = [verdict_payload(v, evidence=evidence) for v in verdicts]
    return final
