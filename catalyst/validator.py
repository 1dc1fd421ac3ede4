"""The Python API: ``Validator(policy).validate(answer)``, async, and in batches."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from catalyst._gc import gc_paused
from catalyst.flow import Flow, PolicyLike, Regenerate, Sink, as_policy
from catalyst.jsonl import parse_record
from catalyst.pipeline import Pipeline
from catalyst.policy import CompiledPolicy
from catalyst.records import Interaction, Verdict
from catalyst.sink import LogSink
from catalyst.store import Store

__all__ = ["Answer", "PolicyLike", "Validator", "as_policy"]

Answer = Interaction | dict[str, Any] | str


class Validator:
    """Validates answers against a policy and (optionally) logs every verdict.

    - ``validate(x)`` / ``await avalidate(x)``: one answer (a record, a dict, or the output string).
    - ``validate_many(xs)``: many; the flow runs once per batch of ``batch_size``, not once per record.
    - With ``store=`` every verdict goes to the DuckDB log through a :class:`~catalyst.sink.LogSink`: it is
      journaled before ``validate`` returns and in DuckDB within ``flush_interval`` seconds, and nothing is
      lost when the script ends without ``close()``. ``sink=`` takes any :class:`~catalyst.flow.Sink` instead.
    - With ``checkpointer=`` the flow is durable and review *waits*: ``validate(x, thread_id=...)``
      returns the pending verdict; ``resume(thread_id, {"decision": "approve"})`` finishes it, from any
      process that opens the same checkpointer.
    """

    def __init__(self, policy: PolicyLike = "default", *, store: Store | str | Path | None = None,
                 services: dict[str, Any] | None = None, regenerate: Regenerate | None = None,
                 checkpointer: Any = None, batch_size: int = 2000,
                 on_verdict: Callable[[Interaction, Verdict], None] | None = None,
                 flush_interval: float = 1.0, sink: Sink | None = None) -> None:
        compiled = as_policy(policy)
        st = Store(store) if isinstance(store, str | Path) else store
        if sink is None:
            sink = LogSink.for_policy(compiled, st, flush_interval=flush_interval, on_verdict=on_verdict)
        self.pipeline = Pipeline(compiled, sink, services=services, regenerate=regenerate, checkpointer=checkpointer)
        self.store = st
        self.batch_size = batch_size

    @property
    def policy(self) -> CompiledPolicy:
        return self.pipeline.policy

    @property
    def sink(self) -> Sink:
        return self.pipeline.sink

    @property
    def flow(self) -> Flow:
        return self.pipeline.flow

    @property
    def graph(self) -> Any:
        """The compiled LangGraph graph for batches (no checkpointer: review items are enqueued)."""
        return self.pipeline.graph

    @property
    def interactive_graph(self) -> Any:
        return self.pipeline.interactive_graph

    # -- one answer ------------------------------------------------------------------------------
    def validate(self, answer: Answer, *, thread_id: str | None = None) -> Verdict:
        """Validate one answer. With ``thread_id`` (and a checkpointer) a review waits for a person."""
        rec = parse_record(answer)
        if thread_id is not None:
            return self.pipeline.run_waiting(rec, thread_id).verdict
        return self.pipeline.run([rec])[0].verdict

    async def avalidate(self, answer: Answer) -> Verdict:
        return (await self.pipeline.arun([parse_record(answer)]))[0].verdict

    def resume(self, thread_id: str, decision: dict[str, Any]) -> Verdict:
        """Answer a waiting review: ``{"decision": "approve"|"reject"|"correct"|"escalate", ...}``."""
        return self.pipeline.resume(thread_id, decision).verdict

    # -- many answers ----------------------------------------------------------------------------
    def iter_batches(self, answers: Iterable[Answer], batch_size: int | None = None) -> Iterator[list[Verdict]]:
        """Validate in batches, yielding each batch's verdicts after it ran (one graph invocation each)."""
        size = batch_size or self.batch_size
        it = iter(answers)
        while True:
            with gc_paused():  # a batch allocates many small acyclic objects; see gc_paused
                batch = [parse_record(a) for a in itertools.islice(it, size)]
                if not batch:
                    return
                verdicts = [o.verdict for o in self.pipeline.run_batch(batch)]
            yield verdicts

    def validate_many(self, answers: Iterable[Answer], *, batch_size: int | None = None) -> list[Verdict]:
        """Validate many answers; the log has every verdict when this returns."""
        out: list[Verdict] = []
        for verdicts in self.iter_batches(answers, batch_size):
            out.extend(verdicts)
        self.sink.flush()
        return out

    async def avalidate_many(self, answers: Iterable[Answer], *, batch_size: int | None = None) -> list[Verdict]:
        size = batch_size or self.batch_size
        records = [parse_record(a) for a in answers]
        out: list[Verdict] = []
        for i in range(0, len(records), size):
            out.extend(o.verdict for o in await self.pipeline.arun_batch(records[i:i + size]))
        await asyncio.to_thread(self.sink.flush)
        return out

    # -- lifecycle -------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write every verdict taken so far to the log now (the sink also does it on its own schedule)."""
        return self.sink.flush()

    def close(self) -> None:
        """Flush and release the log (also done at interpreter exit)."""
        self.sink.close()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
