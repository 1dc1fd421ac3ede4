"""Chat-shaped plumbing shared by every wrapper: records from chat calls, refusals, the re-ask message.

Works on both shapes a chat completion comes in: the ``openai`` SDK's objects (attributes) and plain
JSON dicts (the proxy), so the wrapper, the drop-in client, the proxy and the LangGraph node build the
same :class:`~catalyst.records.Interaction` from the same call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from catalyst.errors import RecordError
from catalyst.records import Interaction, Message, Verdict

__all__ = [
    "EXTRAS",
    "REFUSAL_PREFIX",
    "choice_logprobs",
    "choice_text",
    "feedback_text",
    "is_messages",
    "json_kind",
    "make_record",
    "pop_extras",
    "refusal_text",
    "response_choices",
    "retry_messages",
]

REFUSAL_PREFIX = "[catalyst] This answer was withheld"
#: the keyword arguments / request fields that are Catalyst's own (taken out before the model is called)
EXTRAS = ("catalyst_context", "catalyst_metadata")


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def is_messages(value: Any) -> bool:
    """True for a list of chat messages (dicts or SDK objects with a ``role``)."""
    return (isinstance(value, list | tuple) and bool(value)
            and all(_get(m, "role") is not None for m in value))


def response_choices(response: Any) -> list[Any]:
    """The ``choices`` of a chat completion (SDK object or dict); empty when it has none."""
    choices = _get(response, "choices")
    return list(choices) if isinstance(choices, list | tuple) else []


def choice_text(choice: Any) -> str:
    """The assistant's text in one choice: content, else the refusal, else the tool calls as JSON."""
    msg = _get(choice, "message")
    if msg is None:  # a plain text completion
        text = _get(choice, "text")
        return text if isinstance(text, str) else ""
    content = _get(msg, "content")
    if isinstance(content, str) and content:
        return content
    refusal = _get(msg, "refusal")
    if isinstance(refusal, str) and refusal:
        return refusal
    calls = _get(msg, "tool_calls")
    if calls:
        dumped = [c if isinstance(c, dict) else c.model_dump(mode="json") for c in calls]
        return orjson.dumps(dumped).decode()
    return content if isinstance(content, str) else ""


def choice_logprobs(choice: Any) -> list[float] | None:
    """Token logprobs of one choice (chat ``logprobs.content[*].logprob`` or text ``token_logprobs``)."""
    lp = _get(choice, "logprobs")
    if lp is None:
        return None
    content = _get(lp, "content")
    if isinstance(content, list | tuple):
        vals = [_get(t, "logprob") for t in content]
        return [float(v) for v in vals if isinstance(v, int | float)] or None
    tok = _get(lp, "token_logprobs")
    if isinstance(tok, list | tuple):
        return [float(v) for v in tok if isinstance(v, int | float)] or None
    return None


def _plain_messages(messages: Sequence[Any]) -> list[Message]:
    out: list[Message] = []
    for m in messages:
        if isinstance(m, dict):
            out.append(dict(m))
        elif hasattr(m, "model_dump"):
            out.append(m.model_dump(mode="json", exclude_none=True))
        else:
            out.append({"role": str(_get(m, "role")), "content": _get(m, "content")})
    return out


def make_record(input: Any, output: str, *, context: Any = None, samples: Sequence[str] | None = None,
                logprobs: list[float] | None = None, metadata: dict[str, Any] | None = None,
                id: str | None = None) -> Interaction:
    """An interaction from a call: ``input`` may be a prompt string or chat messages (dicts or SDK objects)."""
    if input is not None and not isinstance(input, str):
        input = _plain_messages(input) if is_messages(input) else str(input)
    if isinstance(context, str):
        context = [context]
    return Interaction(id=id or "", input=input, output=output, context=list(context or []),
                       samples=list(samples or []), logprobs=logprobs, metadata=dict(metadata or {}))


def json_kind(v: Any) -> str:
    """A value's kind in JSON words (``object``, ``array``, ``null``...), for error messages."""
    return "null" if v is None else {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(v), type(v).__name__)


def _context(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise RecordError(f"must be a list of strings (passages) or one string; item {i} is "
                                  f"{json_kind(item)}", field="catalyst_context")
        return list(value)
    raise RecordError(f"must be a list of strings (passages) or one string, not {json_kind(value)}",
                      field="catalyst_context")


def pop_extras(kwargs: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Take ``catalyst_context`` (a list of strings, or one) and ``catalyst_metadata`` (an object) out of a
    call's keyword arguments or a request body, checked: anything else, or an unknown ``catalyst_*`` name,
    raises :class:`~catalyst.errors.RecordError` naming the field."""
    unknown = sorted(k for k in kwargs if k.startswith("catalyst_") and k not in EXTRAS)
    if unknown:
        raise RecordError(f"unknown Catalyst argument; known: {', '.join(EXTRAS)}", field=unknown[0])
    context = _context(kwargs.pop("catalyst_context", None))
    meta = kwargs.pop("catalyst_metadata", None)
    if meta is None:
        return context, {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise RecordError(f"must be an object with string keys, not {json_kind(meta)}", field="catalyst_metadata")
    return context, dict(meta)


def feedback_text(previous: str, reasons: Sequence[str], *, quote: bool = True) -> str:
    """What the model is told when its answer is sent back (the retry path); ``quote`` repeats the answer."""
    why = "\n".join(f"- {r}" for r in reasons) or "- it did not pass validation"
    said = f"Your previous answer was:\n<<<\n{previous}\n>>>\n" if quote else ""
    return (f"{said}Your previous answer was not accepted, for these reasons:\n"
            f"{why}\n"
            "Answer the original request again, fixing these problems. Reply with the new answer only.")


def retry_messages(messages: Sequence[Any], previous: str, reasons: Sequence[str]) -> list[Message]:
    """The conversation plus the rejected answer and the reasons, ready to re-ask the model."""
    return [*_plain_messages(messages), {"role": "assistant", "content": previous},
            {"role": "user", "content": feedback_text(previous, reasons, quote=False)}]


def refusal_text(verdict: Verdict) -> str:
    """The text that replaces a blocked answer: says it was withheld and why (the first reasons)."""
    reasons = "; ".join(verdict.reasons[:3]) or "it failed the validation policy"
    return f"{REFUSAL_PREFIX} by the validation policy `{verdict.policy}`: {reasons}."
