"""The Python API: ``Validator(policy).validate(answer)``, async, and in batches."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from catalyst import engine
from catalyst._gc import gc_paused
from catalyst.flow import Flow, FlowState, Regenerate
from catalyst.graph import arun_direct, build_graph, run_direct
from catalyst.jsonl import parse_record
from catalyst.policy import CompiledPolicy, Policy, compile_policy, load_policy
from catalyst.records import Interaction, Verdict
from catalyst.store import Store

PolicyLike = CompiledPolicy | Policy | str | Path


def as_policy(policy: PolicyLike) -> CompiledPolicy:
    if isinstance(policy, CompiledPolicy):
        return policy
    if isinstance(policy, Policy):
        return compile_policy(policy)
    return load_policy(policy)


class Validator:
    """Validates answers against a policy and (optionally) logs every verdict.

    - ``validate(x)`` / ``await avalidate(x)``: one answer (a record, a dict, or the output string).
    - ``validate_many(xs)``: many; the flow runs once per batch of ``batch_size``, not once per record.
    - With ``checkpointer=`` the flow is durable and review *waits*: ``validate(x, thread_id=...)``
      returns the pending verdict; ``resume(thread_id, {"decision": "approve"})`` finishes it, from any
      process that opens the same checkpointer.
    """

    def __init__(self, policy: PolicyLike = "default", *, store: Store | str | Path | None = None,
                 services: dict[str, Any] | None = None, regenerate: Regenerate | None = None,
                 checkpointer: Any = None, batch_size: int = 2000,
                 on_verdict: Callable[[Interaction, Verdict], None] | None = None) -> None:
        self.policy = as_policy(policy)
        self.store = Store(store) if isinstance(store, str | Path) else store
        self.batch_size = batch_size
        self.flow = Flow(policy=self.policy, store=self.store, services=dict(services or {}),
                         regenerate=regenerate, on_verdict=on_verdict)
        self._graph: Any = None
        self._checkpointer = checkpointer
        self._interactive: Any = None

    # -- graphs ----------------------------------------------------------------------------------
    @property
    def graph(self) -> Any:
        """The compiled LangGraph graph for batches (no checkpointer: review items are enqueued)."""
        if self._graph is None:
            self._graph = build_graph(self.flow)
        return self._graph

    @property
    def interactive_graph(self) -> Any:
        if self._interactive is None:
            if self._checkpointer is None:
                from catalyst.errors import ConfigError

                raise ConfigError("waiting for review needs `Validator(..., checkpointer=...)`")
            flow = Flow(**{**self.flow.__dict__, "interactive": True})
            self._interactive = build_graph(flow, checkpointer=self._checkpointer)
        return self._interactive

    # -- one answer ------------------------------------------------------------------------------
    def validate(self, answer: Interaction | dict[str, Any] | str, *, thread_id: str | None = None) -> Verdict:
        """Validate one answer. With ``thread_id`` (and a checkpointer) a review waits for a person."""
        rec = parse_record(answer)
        if thread_id is not None:
            return self._validate_interactive(rec, thread_id)
        state = run_direct(self.flow, {"items": engine.make_items([rec])})
        return state["verdicts"][0]

    async def avalidate(self, answer: Interaction | dict[str, Any] | str) -> Verdict:
        rec = parse_record(answer)
        state = await arun_direct(self.flow, {"items": engine.make_items([rec])})
        return state["verdicts"][0]

    def _validate_interactive(self, rec: Interaction, thread_id: str) -> Verdict:
        config = {"configurable": {"thread_id": thread_id}}
        # durability="exit": checkpoint only where the flow stops (the interrupt), not after every node,
        # whose state still holds per-run check contexts (services such as model clients)
        out = self.interactive_graph.invoke({"items": engine.make_items([rec])}, config, durability="exit")
        if not out.get("verdicts") and self.store is not None:
            # the flow waits: link its review item to this thread so a queue decision can resume it
            from catalyst.review.queue import link_thread

            link_thread(self.store, rec.id, thread_id)
        return self._verdict_or_pending(out, config)

    def resume(self, thread_id: str, decision: dict[str, Any]) -> Verdict:
        """Answer a waiting review: ``{"decision": "approve"|"reject"|"correct"|"escalate", ...}``."""
        from langgraph.types import Command

        config = {"configurable": {"thread_id": thread_id}}
        out = self.interactive_graph.invoke(Command(resume=decision), config, durability="exit")
        return self._verdict_or_pending(out, config)

    def _verdict_or_pending(self, out: dict[str, Any], config: dict[str, Any]) -> Verdict:
        if out.get("verdicts"):
            if self.store is not None:
                self.store.flush()
            return out["verdicts"][0]
        snap = self.interactive_graph.get_state(config)
        items = snap.values["items"]
        v = items[0].verdict or engine.to_verdict(items[0], self.policy)
        return v

    # -- many answers ----------------------------------------------------------------------------
    def iter_batches(self, answers: Iterable[Interaction | dict[str, Any] | str],
                     batch_size: int | None = None) -> Iterator[list[Verdict]]:
        """Validate in batches, yielding each batch's verdicts after it ran (one graph invocation each)."""
        size = batch_size or self.batch_size
        it = iter(answers)
        while True:
            with gc_paused():  # a batch allocates many small acyclic objects; see gc_paused
                batch = [parse_record(a) for a in itertools.islice(it, size)]
                if not batch:
                    return
                verdicts = self._run_batch(batch)
            yield verdicts

    def _run_batch(self, records: list[Interaction]) -> list[Verdict]:
        state: FlowState = self.graph.invoke({"items": engine.make_items(records)})
        return state["verdicts"]

    def validate_many(self, answers: Iterable[Interaction | dict[str, Any] | str], *,
                      batch_size: int | None = None) -> list[Verdict]:
        out: list[Verdict] = []
        for verdicts in self.iter_batches(answers, batch_size):
            out.extend(verdicts)
        if self.store is not None:
            self.store.flush()
        return out

    async def avalidate_many(self, answers: Iterable[Interaction | dict[str, Any] | str], *,
                             batch_size: int | None = None) -> list[Verdict]:
        size = batch_size or self.batch_size
        records = [parse_record(a) for a in answers]
        out: list[Verdict] = []
        for i in range(0, len(records), size):
            state = await self.graph.ainvoke({"items": engine.make_items(records[i:i + size])})
            out.extend(state["verdicts"])
        if self.store is not None:
            await asyncio.to_thread(self.store.flush)
        return out

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
