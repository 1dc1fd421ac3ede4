"""Catalyst as a node in your own LangGraph graph, plus a router for the conditional edges after it.

>>> from catalyst.langgraph import validation_node, route
>>> g = StateGraph(State)                       # State has question, answer, context, catalyst_* keys
>>> g.add_node("generate", generate)            # reads state.get("catalyst_feedback") when retrying
>>> g.add_node("validate", validation_node("default", output_key="answer", store="log.duckdb"))
>>> g.add_edge("generate", "validate")
>>> g.add_conditional_edges("validate", route, {"accept": END, "retry": "generate",
...                                             "review": "human", "block": "refuse"})

The node reads the answer at ``output_key`` (a string or a LangChain message), the question at
``input_key`` (a string, chat messages or LangChain messages) and passages at ``context_key``, and
returns a state update: ``catalyst_verdict`` (the verdict as JSON-ready data, safe for any
checkpointer), ``catalyst_decision`` (``"accept" | "review" | "block" | "retry"``), and, on retry,
``catalyst_feedback`` (the reasons, as an instruction for the model) and ``catalyst_attempts``.

Retries are bounded by the policy's ``retry.max_retries``; past it the decision becomes the policy's
``on_exhausted``. Only final verdicts are logged (one per answer your graph ends with), keyed by the
first attempt's id, exactly like ``catalyst.wrap``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from catalyst.errors import ConfigError
from catalyst.flow import Outcome
from catalyst.records import Decision, Interaction
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator
from catalyst.wrapping._chat import feedback_text, make_record
from catalyst.wrapping._guard import Guard

__all__ = ["ValidationNode", "make_router", "route", "validation_node"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def _text(value: Any) -> str:
    content = getattr(value, "content", value)
    if isinstance(content, list):  # LangChain content blocks
        return " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _input(value: Any) -> Any:
    if isinstance(value, list | tuple) and value and hasattr(value[0], "type") and hasattr(value[0], "content"):
        return [{"role": _ROLES.get(m.type, m.type), "content": _text(m)} for m in value]
    return value


class ValidationNode:
    """The node (a callable ``state -> update``); see the module docstring. ``close()`` flushes the log.

    It runs a :class:`~catalyst.wrapping.Guard`'s pipeline without handing the outcome over, and hands over
    only final ones (a ``retry`` goes back to your graph first)."""

    def __init__(self, policy: PolicyLike = "default", *, output_key: str = "answer", input_key: str = "question",
                 context_key: str = "context", metadata_key: str | None = None,
                 store: Store | str | Path | None = None, validator: Validator | None = None,
                 prefix: str = "catalyst_", flush_interval: float = 1.0,
                 services: dict[str, Any] | None = None) -> None:
        self.guard = Guard(policy, store=store, validator=validator, services=services, flush_interval=flush_interval)
        self.output_key, self.input_key, self.context_key = output_key, input_key, context_key
        self.metadata_key = metadata_key
        self.keys = {k: prefix + k for k in ("verdict", "decision", "feedback", "attempts", "record_id")}

    @property
    def validator(self) -> Validator:
        return self.guard.validator

    def _record(self, state: Mapping[str, Any]) -> Interaction:
        if self.output_key not in state:
            raise ConfigError(f"validation node: the state has no `{self.output_key}`; pass output_key= naming the "
                              f"key that holds the answer (state keys: {', '.join(sorted(state))})")
        meta = state.get(self.metadata_key) if self.metadata_key else None
        rec = make_record(_input(state.get(self.input_key)), _text(state[self.output_key]),
                          context=state.get(self.context_key), metadata=dict(meta or {}))
        first_id = state.get(self.keys["record_id"])
        return rec.model_copy(update={"id": first_id}) if first_id else rec

    def _finish(self, outcome: Outcome, attempts: int) -> dict[str, Any]:
        k = self.keys
        rec, verdict = outcome.record, outcome.verdict
        retry = self.validator.policy.policy.retry
        if verdict.decision is Decision.RETRY and attempts <= retry.max_retries:
            return {k["verdict"]: verdict.model_dump(mode="json"), k["decision"]: "retry",
                    k["feedback"]: feedback_text(rec.output, verdict.reasons), k["attempts"]: attempts,
                    k["record_id"]: rec.id}
        update: dict[str, Any] = {"attempts": attempts}
        if verdict.decision is Decision.RETRY:  # the same fallback as the flow's decide node
            update["decision"] = Decision(retry.on_exhausted)
            update["reasons"] = [*verdict.reasons,
                                 f"still failing after {retry.max_retries} retries: {retry.on_exhausted}"]
        if attempts > 1:
            update["output"] = rec.output
        verdict = verdict.model_copy(update=update)
        self.guard.pipeline.deliver([Outcome(rec, verdict)])
        return {k["verdict"]: verdict.model_dump(mode="json"), k["decision"]: verdict.decision.value,
                k["feedback"]: None, k["attempts"]: 0, k["record_id"]: None}

    def __call__(self, state: Mapping[str, Any]) -> dict[str, Any]:
        attempts = int(state.get(self.keys["attempts"]) or 0) + 1
        [outcome] = self.guard.pipeline.run([self._record(state)], deliver=False)
        return self._finish(outcome, attempts)

    async def acall(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The async twin, for ``RunnableLambda(node, afunc=node.acall)`` when your checks are async."""
        attempts = int(state.get(self.keys["attempts"]) or 0) + 1
        [outcome] = await self.guard.pipeline.arun([self._record(state)], deliver=False)
        return self._finish(outcome, attempts)

    def flush(self) -> int:
        return self.guard.flush()

    def close(self) -> None:
        self.guard.close()


def validation_node(policy: PolicyLike = "default", **kwargs: Any) -> ValidationNode:
    """A LangGraph node validating the answer in the state (see :class:`ValidationNode` for the options)."""
    return ValidationNode(policy, **kwargs)


def make_router(decision_key: str = "catalyst_decision") -> Callable[[Mapping[str, Any]], str]:
    """A router for ``add_conditional_edges``: returns the decision (``accept|review|block|retry``)."""

    def router(state: Mapping[str, Any]) -> str:
        decision = state.get(decision_key)
        if decision not in {d.value for d in Decision}:
            raise ConfigError(f"router: state `{decision_key}` is {decision!r}; put the validation node before it")
        return str(decision)

    return router


#: the router for the default keys
route = make_router()
