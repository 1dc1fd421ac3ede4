"""Node functions. Each takes the flow (bound by the graph builder) and the state, and returns an update.

Every node works on the whole batch, so a batch of 1,000 records costs one graph invocation, not 1,000.
Nodes are written once, as ``async def``; the sync flow drives the same coroutines (``catalyst._sync``).
No node writes the log: the pipeline hands the outcomes to its sink, except ``enqueue``, which must make a
review item durable (with its waiting thread) before the flow stops for a person.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from langgraph.config import get_config
from langgraph.types import interrupt

from catalyst import engine
from catalyst.flow import Flow, FlowState, Outcome
from catalyst.records import Decision


def _fresh(state: FlowState) -> list[engine.Item]:
    return [it for it in state["items"] if not it.results]


def _provisional(flow: Flow, items: list[engine.Item]) -> FlowState:
    """Decide on cheap results only where costly checks could still change the outcome."""
    plan_of = flow.policy.plan_of
    for it in items:
        if plan_of(it.record).costly:
            engine.decide(it, flow.policy)
    return {}


async def screen(flow: Flow, state: FlowState) -> FlowState:
    """Cheap checks, in one batch per check, on items not yet screened (new or retried)."""
    items = _fresh(state)
    await engine.arun_checks(flow.policy, items, "cheap", flow.services, flow.concurrency)
    return _provisional(flow, items)


def after_screen(flow: Flow, state: FlowState) -> str:
    return "escalate" if any(engine.needs_escalation(flow.policy, it) for it in state["items"]) else "decide"


async def escalate(flow: Flow, state: FlowState) -> FlowState:
    """Costly checks (sampling, LLM judge...) only for the answers the cheap ones left in doubt."""
    items = [it for it in state["items"] if engine.needs_escalation(flow.policy, it)]
    for it in items:
        it.escalated = True
    await engine.arun_checks(flow.policy, items, "costly", flow.services, flow.concurrency)
    return {}


async def decide(flow: Flow, state: FlowState) -> FlowState:
    """Aggregate + calibrate → confidence and decision; a retry with no attempts left falls back."""
    retry = flow.policy.policy.retry
    for it in state["items"]:
        engine.decide(it, flow.policy)
        _replace_input(it)
        if it.decision is Decision.RETRY and flow.regenerate is not None and it.attempts > retry.max_retries:
            it.decision = Decision(retry.on_exhausted)
            it.reasons.append(f"still failing after {retry.max_retries} retries: {retry.on_exhausted}")
    return {}


def after_decide(flow: Flow, state: FlowState) -> str:
    items = state["items"]
    if flow.regenerate is not None and any(it.decision is Decision.RETRY for it in items):
        return "retry"
    if flow.interactive and any(it.decision is Decision.REVIEW for it in items):
        return "enqueue"
    return "log"


async def retry(flow: Flow, state: FlowState) -> FlowState:
    """Re-ask the model with the reasons; the new answer goes back to screening."""
    assert flow.regenerate is not None
    for it in state["items"]:
        if it.decision is not Decision.RETRY:
            continue
        out = flow.regenerate(it.record, list(it.reasons))
        if inspect.isawaitable(out):
            out = await out
        it.record = it.record.model_copy(update={"output": str(out)})
        it.results = []
        it.escalated = False
        it.attempts += 1
        it.delivered = str(out)
    return {}


async def enqueue(flow: Flow, state: FlowState) -> FlowState:
    """Before waiting for a person: the pending verdicts go to the sink with this run's thread, and are made
    durable — the review item and its thread link in one transaction, so a decision can always resume it."""
    thread_id = get_config().get("configurable", {}).get("thread_id")
    pending = [Outcome(it.record, engine.to_verdict(it, flow.policy, delivered(it)), thread_id=thread_id, final=False)
               for it in state["items"] if it.decision is Decision.REVIEW]
    for it in state["items"]:
        it._ctx = None  # the per-run check context (and its services) must not go into the checkpoint
    flow.sink.put(pending)
    flow.sink.flush()
    return {}


#: reviewer decision → final decision
REVIEW_OUTCOMES = {"approve": Decision.ACCEPT, "correct": Decision.ACCEPT, "reject": Decision.BLOCK,
                   "escalate": Decision.REVIEW}


async def review(flow: Flow, state: FlowState) -> FlowState:
    """Wait for a reviewer (LangGraph ``interrupt``); resume with ``{"decision": ..., "output": ...}``."""
    for it in state["items"]:
        if it.decision is not Decision.REVIEW:
            continue
        answer: Any = interrupt({"id": it.record.id, "output": it.record.output, "confidence": it.confidence,
                                 "reasons": it.reasons})
        if not isinstance(answer, dict) or answer.get("decision") not in REVIEW_OUTCOMES:
            raise ValueError(f"resume with {{'decision': one of {sorted(REVIEW_OUTCOMES)}}}, got {answer!r}")
        it.decision = REVIEW_OUTCOMES[answer["decision"]]
        # the verdict's ms is Catalyst's own time, not the reviewer's wait (which may span processes, where
        # perf_counter values mean nothing): restart the clock from the time spent before the interrupt
        it.started = time.perf_counter() - it.ms / 1000
        who = answer.get("reviewer", "a reviewer")
        it.reasons.append(f"{who}: {answer['decision']}" + (f" ({answer['reason']})" if answer.get("reason") else ""))
        if answer["decision"] == "correct":
            if not answer.get("output"):
                raise ValueError("a `correct` decision needs the corrected `output`")
            it.record = it.record.model_copy(update={"output": answer["output"]})
            it.delivered = answer["output"]
    return {}


def _replace_input(it: engine.Item) -> None:
    """A check that replaced the input (a redacted question): that is the input logged and sent on (re-asked)."""
    for r in it.results:
        rep = r.replacement
        if rep is not None and rep.field == "input" and rep.text != it.record.input_text:
            it.record = it.record.model_copy(update={"input": rep.text})


def delivered(it: engine.Item) -> str | None:
    """The verdict carries the output only when it differs from what came in (retried, corrected, redacted)."""
    if it.delivered is not None:
        return it.delivered
    for r in it.results:
        rep = r.replacement
        if rep is not None and rep.field == "output":
            return rep.text
    return None


async def log(flow: Flow, state: FlowState) -> FlowState:
    """Turn items into verdicts (the pipeline hands them to its sink once the flow has finished)."""
    return {"verdicts": [engine.to_verdict(it, flow.policy, delivered(it)) for it in state["items"]]}


#: name → (node, whether it may wait on I/O: async checks or an async re-ask)
NODES: dict[str, tuple[Any, bool]] = {
    "screen": (screen, True),
    "escalate": (escalate, True),
    "decide": (decide, False),
    "retry": (retry, True),
    "enqueue": (enqueue, False),
    "review": (review, False),
    "log": (log, False),
}
