"""What the model-using checks share: getting the client, the question as chat messages, reply parsing.

Every helper here raises on trouble instead of guessing: a check that cannot ask the model, or cannot
read its reply, fails closed (the engine sends the answer to review with the reason).
"""

from __future__ import annotations

import json
import re
from typing import Any

from catalyst.checks import CheckContext
from catalyst.errors import ModelCallError, RecordError
from catalyst.llm import LLM, LLMConfig, resolve_llm

__all__ = ["choice_texts", "extract_json", "llm_for", "question_messages", "reply_text", "sample_answers"]


def llm_for(ctx: CheckContext, config: LLMConfig | None, check_name: str) -> tuple[LLM, str | None]:
    """The client for a check and the model name to pass per call (the check's own ``llm.model``, if any)."""
    llm = resolve_llm(ctx.services, config, check_name)
    return llm, (config.model if config is not None else None)


def question_messages(ctx: CheckContext, check_name: str) -> list[dict[str, Any]]:
    """The record's input as chat messages (what the model was asked), for sampling it again."""
    inp = ctx.record.input
    if isinstance(inp, list) and inp:
        return [dict(m) for m in inp]
    if isinstance(inp, str) and inp.strip():
        return [{"role": "user", "content": inp}]
    raise RecordError(f"check `{check_name}` needs the record's `input` (the question) to ask the model again, "
                      "or `samples` in the record", field="input")


def reply_text(resp: Any, what: str) -> str:
    """The first choice's text of a chat or text completion; raises ModelCallError when there is none."""
    texts = choice_texts(resp)
    if not texts or texts[0] is None:
        raise ModelCallError(f"{what}: the model's reply has no text")
    return texts[0]


def choice_texts(resp: Any) -> list[str]:
    out = []
    for c in getattr(resp, "choices", None) or []:
        msg = getattr(c, "message", None)
        text = getattr(msg, "content", None) if msg is not None else getattr(c, "text", None)
        if isinstance(text, str):
            out.append(text)
    return out


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The JSON object in a model reply: bare, in a ``` fence, or the outermost ``{...}``. Raises ValueError."""
    text = text.strip()
    candidates = [text]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first: last + 1])
    err: Exception | None = None
    for c in candidates:
        try:
            return json.loads(c)
        except ValueError as e:
            err = e
    raise ValueError(f"no JSON object in the reply ({err})")


async def sample_answers(ctx: CheckContext, llm: LLM, model: str | None, check_name: str, *, n: int,
                         temperature: float, max_tokens: int, endpoint: str, prompt_template: str) -> list[str]:
    """``n`` fresh answers to the record's input. Asks for ``n`` choices at once and tops up with more calls
    when the endpoint returns fewer (llama.cpp ignores ``n``); each call counts against the verdict's budget."""
    out: list[str] = []
    calls = 0
    while len(out) < n:
        want = n - len(out)
        if endpoint == "completions":
            prompt = prompt_template.format(input=ctx.input) if ctx.input else ""
            if not prompt:
                question_messages(ctx, check_name)  # raises the clear "needs input" error
            resp = await llm.acomplete(prompt, model=model, key=ctx.record.id, n=want, temperature=temperature,
                                       max_tokens=max_tokens)
        else:
            resp = await llm.achat(question_messages(ctx, check_name), model=model, key=ctx.record.id, n=want,
                                   temperature=temperature, max_tokens=max_tokens)
        got = choice_texts(resp)[:want]
        calls += 1
        if not got:
            raise ModelCallError(f"{check_name}: the model returned no sampled text")
        out += [g.strip() for g in got]
        if calls >= n:  # one choice per call at worst
            break
    return out
