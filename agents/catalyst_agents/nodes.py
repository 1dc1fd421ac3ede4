"""Node functions. Each takes the flow (bound by the graph builder) and the state, and returns an update.

Every node works on the whole batch, so a batch of 1,000 records costs one graph invocation, not 1,000.
Nodes with I/O have an async twin; the sync and async flows share everything else.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from catalyst import engine
from catalyst.flow import Flow, FlowState
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


def screen(flow: Flow, state: FlowState) -> FlowState:
    """Cheap checks, in one batch per check, on items not yet screened (new or retried)."""
    items = _fresh(state)
    engine.run_checks(flow.policy, items, "cheap", flow.services, flow.concurrency)
    return _provisional(flow, items)


async def ascreen(flow: Flow, state: FlowState) -> FlowState:
    items = _fresh(state)
    await engine.arun_checks(flow.policy, items, "cheap", flow.services, flow.concurrency)
    return _provisional(flow, items)


def after_screen(flow: Flow, state: FlowState) -> str:
    return "escalate" if any(engine.needs_escalation(flow.policy, it) for it in state["items"]) else "decide"


def _doubtful(flow: Flow, state: FlowState) -> list[engine.Item]:
    items = [it for it in state["items"] if engine.needs_escalation(flow.policy, it)]
    for it in items:
        it.escalated = True
    return items


def escalate(flow: Flow, state: FlowState) -> FlowState:
    """Costly checks (sampling, LLM judge...) only for the answers the cheap ones left in doubt."""
    engine.run_checks(flow.policy, _doubtful(flow, state), "costly", flow.services, flow.concurrency)
    return {}


async def aescalate(flow: Flow, state: FlowState) -> FlowState:
    await engine.arun_checks(flow.policy, _doubtful(flow, state), "costly", flow.services, flow.concurrency)
    return {}


def decide(flow: Flow, state: FlowState) -> FlowState:
    """Aggregate + calibrate → confidence and decision; a retry with no attempts left falls back."""
    retry = flow.policy.policy.retry
    for it in state["items"]:
        engine.decide(it, flow.policy)
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


def _retry_items(state: FlowState) -> list[engine.Item]:
    return [it for it in state["items"] if it.decision is Decision.RETRY]


def _reset(it: engine.Item, output: str) -> None:
    it.record = it.record.model_copy(update={"output": output})
    it.results = []
    it.escalated = False
    it.attempts += 1
    it.delivered = output


def retry(flow: Flow, state: FlowState) -> FlowState:
    """Re-ask the model with the reasons; the new answer goes back to screening."""
    assert flow.regenerate is not None
    for it in _retry_items(state):
        out = flow.regenerate(it.record, list(it.reasons))
        if inspect.isawaitable(out):
            raise TypeError("regenerate is async; use avalidate() or pass a sync function")
        _reset(it, str(out))
    return {}


async def aretry(flow: Flow, state: FlowState) -> FlowState:
    assert flow.regenerate is not None
    for it in _retry_items(state):
        out = flow.regenerate(it.record, list(it.reasons))
        if inspect.isawaitable(out):
            out = await out
        _reset(it, str(out))
    return {}


def enqueue(flow: Flow, state: FlowState) -> FlowState:
    """Before waiting for a person: log the pending verdicts, which puts them in the review queue."""
    for it in state["items"]:
        it._ctx = None  # the per-run check context (and its services) must not go into the checkpoint
    if flow.store is not None:
        pending = [it for it in state["items"] if it.decision is Decision.REVIEW]
        flow.store.add((it.record, engine.to_verdict(it, flow.policy, _delivered(it))) for it in pending)
        flow.store.flush()
    return {}


#: reviewer decision → final decision
REVIEW_OUTCOMES = {"approve": Decision.ACCEPT, "correct": Decision.ACCEPT, "reject": Decision.BLOCK,
                   "escalate": Decision.REVIEW}


def review(flow: Flow, state: FlowState) -> FlowState:
    """Wait for a reviewer (LangGraph ``interrupt``); resume with ``{"decision": ..., "output": ...}``."""
    from langgraph.types import interrupt

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


def _delivered(it: engine.Item) -> str | None:
    """The verdict carries the output only when it differs from what came in (retried, corrected, redacted)."""
    if it.delivered is not None:
        return it.delivered
    for r in it.results:
        red = r.details.get("redacted") if r.details else None
        if isinstance(red, str):
            return red
    return None


def log(flow: Flow, state: FlowState) -> FlowState:
    """Turn items into verdicts and buffer them in the log (the caller decides when to flush)."""
    verdicts = [engine.to_verdict(it, flow.policy, _delivered(it)) for it in state["items"]]
    if flow.store is not None:
        flow.store.add(zip((it.record for it in state["items"]), verdicts, strict=True))
    if flow.on_verdict is not None:
        for it, v in zip(state["items"], verdicts, strict=True):
            flow.on_verdict(it.record, v)
    return {"verdicts": verdicts}


#: name → (sync node, async node or None when the sync one serves both)
NODES: dict[str, tuple[Any, Any]] = {
    "screen": (screen, ascreen),
    "escalate": (escalate, aescalate),
    "decide": (decide, None),
    "retry": (retry, aretry),
    "enqueue": (enqueue, None),
    "review": (review, None),
    "log": (log, None),
}
