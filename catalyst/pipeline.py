"""The pipeline: one way from answers to outcomes, for every entry point.

A :class:`Pipeline` is a compiled policy, its services and a :class:`~catalyst.flow.Sink`. It runs the
flow (``catalyst_agents`` nodes, walked directly for one call or compiled into LangGraph for batches and for
reviews that wait) and hands every outcome to the sink — the only place that decides what is written, when,
and what is said about it. ``run``/``run_batch`` are thin sync wrappers of the async core.

Failure outcomes are the pipeline's too: a re-ask that failed keeps the last answer and sends it to review
(:class:`~catalyst.errors.RegenerateFailed`), and a model call that produced no answer at all becomes a
``review`` verdict with the error (:meth:`Pipeline.fail`). Exactly one outcome per answer reaches the sink.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Sequence
from typing import Any

from langgraph.types import Command

from catalyst import engine
from catalyst._sync import run_sync
from catalyst.errors import ConfigError, RegenerateFailed
from catalyst.flow import Flow, FlowState, NullSink, Outcome, Regenerate, Sink
from catalyst.graph import arun_direct, build_graph, needs_loop
from catalyst.policy import CompiledPolicy
from catalyst.records import CheckResult, Decision, Interaction
from catalyst_agents.nodes import delivered

__all__ = ["MODEL_CALL", "Pipeline"]

#: name of the pseudo-check recorded when the model call itself failed
MODEL_CALL = "model_call"


class Pipeline:
    """Runs the flow of ``policy`` and hands each outcome to ``sink``. See the module docstring."""

    def __init__(self, policy: CompiledPolicy, sink: Sink | None = None, *, services: dict[str, Any] | None = None,
                 regenerate: Regenerate | None = None, checkpointer: Any = None, concurrency: int = 8) -> None:
        self.flow = Flow(policy=policy, sink=sink or NullSink(), services=dict(services or {}),
                         regenerate=regenerate, concurrency=concurrency)
        self.checkpointer = checkpointer
        self._loop = needs_loop(self.flow)
        self._graph: Any = None
        self._interactive: Any = None

    @property
    def policy(self) -> CompiledPolicy:
        return self.flow.policy

    @property
    def sink(self) -> Sink:
        return self.flow.sink

    @property
    def needs_loop(self) -> bool:
        """Whether a sync run needs an event loop (the policy has an async check, or the re-ask is async)."""
        return self._loop

    # -- graphs ----------------------------------------------------------------------------------
    @property
    def graph(self) -> Any:
        """The compiled LangGraph graph for batches (no checkpointer: review items are logged, not waited for)."""
        if self._graph is None:
            self._graph = build_graph(self.flow)
        return self._graph

    @property
    def interactive_graph(self) -> Any:
        """The graph whose review waits for a person (``interrupt()``), checkpointed by ``checkpointer``."""
        if self._interactive is None:
            if self.checkpointer is None:
                raise ConfigError("waiting for review needs `Validator(..., checkpointer=...)`, e.g. "
                                  "catalyst.review.durable.checkpointer(db)")
            flow = dataclasses.replace(self.flow, interactive=True)
            self._interactive = build_graph(flow, checkpointer=self.checkpointer)
        return self._interactive

    # -- one call --------------------------------------------------------------------------------
    async def arun(self, records: Sequence[Interaction], *, regenerate: Regenerate | None = None,
                   deliver: bool = True) -> list[Outcome]:
        """Validate ``records`` in one walk of the flow; ``regenerate`` (this call's) re-asks on ``retry``.
        With ``deliver=False`` the outcomes are returned but not handed to the sink (see :meth:`deliver`)."""
        flow = self.flow if regenerate is None else dataclasses.replace(self.flow, regenerate=regenerate)
        state: FlowState = {"items": engine.make_items(records)}
        try:
            await arun_direct(flow, state)
        except RegenerateFailed as e:
            out = self._regenerate_failed(state["items"], e)
        else:
            out = _outcomes(state)
        if deliver:
            self.sink.put(out)
        return out

    def run(self, records: Sequence[Interaction], *, regenerate: Regenerate | None = None,
            deliver: bool = True) -> list[Outcome]:
        """The sync wrapper of :meth:`arun` (no event loop unless a check or ``regenerate`` is async)."""
        loop = self._loop or inspect.iscoroutinefunction(regenerate)
        return run_sync(self.arun(records, regenerate=regenerate, deliver=deliver), loop=loop)

    def deliver(self, outcomes: Sequence[Outcome]) -> None:
        """Hand outcomes to the sink (for callers that ran with ``deliver=False`` and kept only some)."""
        self.sink.put(outcomes)

    def _regenerate_failed(self, items: list[engine.Item], e: RegenerateFailed) -> list[Outcome]:
        """Re-asking failed: keep the last answer, send it to review with the cause."""
        out = []
        for it in items:
            if it.decision is Decision.RETRY:
                it.decision = Decision.REVIEW
                it.reasons.append(f"re-asking the model failed ({e}); the last answer goes to review")
            out.append(Outcome(it.record, engine.to_verdict(it, self.policy, delivered(it))))
        return out

    def fail(self, record: Interaction, error: BaseException | str) -> Outcome:
        """The outcome of a call that produced no answer (the model call failed): ``review``, with the error.
        Handed to the sink like any other."""
        why = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        it = engine.Item(record=record, started=time.perf_counter(), decision=Decision.REVIEW,
                         results=[CheckResult(name=MODEL_CALL, score=None, passed=False, error=why[:2000])],
                         reasons=[f"the model call failed, so there is no answer to validate: {why}"[:2000]])
        outcome = Outcome(record, engine.to_verdict(it, self.policy))
        self.sink.put([outcome])
        return outcome

    # -- batches ---------------------------------------------------------------------------------
    def run_batch(self, records: Sequence[Interaction]) -> list[Outcome]:
        """One LangGraph invocation for the whole batch; every outcome goes to the sink."""
        state: FlowState = self.graph.invoke({"items": engine.make_items(records)})
        out = _outcomes(state)
        self.sink.put(out)
        return out

    async def arun_batch(self, records: Sequence[Interaction]) -> list[Outcome]:
        state: FlowState = await self.graph.ainvoke({"items": engine.make_items(records)})
        out = _outcomes(state)
        self.sink.put(out)
        return out

    # -- a review that waits -----------------------------------------------------------------------
    def run_waiting(self, record: Interaction, thread_id: str) -> Outcome:
        """Validate on thread ``thread_id``; a ``review`` stops at ``interrupt()`` (its item and thread link
        are durable then) and the pending outcome is returned (``final=False``); resume with :meth:`resume`."""
        config = {"configurable": {"thread_id": thread_id}}
        # durability="exit": checkpoint only where the flow stops (the interrupt), not after every node,
        # whose state still holds per-run check contexts (services such as model clients)
        out = self.interactive_graph.invoke({"items": engine.make_items([record])}, config, durability="exit")
        return self._final_or_pending(out, config)

    def resume(self, thread_id: str, decision: dict[str, Any]) -> Outcome:
        """Answer a waiting review: ``{"decision": "approve"|"reject"|"correct"|"escalate", ...}``."""
        config = {"configurable": {"thread_id": thread_id}}
        out = self.interactive_graph.invoke(Command(resume=decision), config, durability="exit")
        return self._final_or_pending(out, config)

    def _final_or_pending(self, out: dict[str, Any], config: dict[str, Any]) -> Outcome:
        if out.get("verdicts"):
            [final] = _outcomes(out)  # type: ignore[arg-type]
            self.sink.put([final])
            self.sink.flush()  # a resumed review is rare and awaited by a person: durable before it returns
            return final
        [item] = self.interactive_graph.get_state(config).values["items"]
        verdict = item.verdict or engine.to_verdict(item, self.policy)
        return Outcome(item.record, verdict, thread_id=config["configurable"]["thread_id"], final=False)


def _outcomes(state: FlowState) -> list[Outcome]:
    return [Outcome(it.record, v) for it, v in zip(state["items"], state["verdicts"], strict=True)]
