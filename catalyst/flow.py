"""What the flow's nodes and the pipeline share: the outcome of one answer, the sink that takes it, the flow.

Every entry point (``Validator``, ``catalyst.wrap``, the OpenAI client, the proxy, the LangGraph node, the
batch workers, the waiting review) runs one :class:`~catalyst.pipeline.Pipeline` and hands each
:class:`Outcome` to one :class:`Sink`. The sink decides what becomes durable and when (the DuckDB log and
its journal, review items with their waiting thread, notifications, redaction before anything is written);
see :class:`catalyst.sink.LogSink`, the default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict, runtime_checkable

from catalyst.engine import Item
from catalyst.policy import CompiledPolicy, Policy, compile_policy, load_policy
from catalyst.records import Interaction, Verdict

__all__ = ["Flow", "FlowState", "NullSink", "Outcome", "PolicyLike", "Regenerate", "Sink", "as_policy"]

#: a policy as callers give it: compiled, a Policy object, a shipped name or a YAML path
PolicyLike = CompiledPolicy | Policy | str | Path


def as_policy(policy: PolicyLike) -> CompiledPolicy:
    """The compiled policy for anything a caller may pass as a policy."""
    if isinstance(policy, CompiledPolicy):
        return policy
    if isinstance(policy, Policy):
        return compile_policy(policy)
    return load_policy(policy)

#: ``regenerate(record, reasons) -> new output``: re-ask the model with the reasons (the retry path).
Regenerate = Callable[[Interaction, list[str]], str | Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One answer's outcome: the record as validated (a redacted input already applied), its verdict, and
    for a flow that waits for a reviewer, the thread to resume (``final`` is False until the decision)."""

    record: Interaction
    verdict: Verdict
    thread_id: str | None = None
    final: bool = True

    @property
    def output(self) -> str:
        """The text to deliver: the retried, corrected or redacted answer when it changed, else the answer."""
        out = self.verdict.output
        return self.record.output if out is None else out


@runtime_checkable
class Sink(Protocol):
    """Takes every outcome of a pipeline. ``put`` must not block on slow I/O longer than its promise says;
    ``flush`` makes everything put so far durable and returns how many; ``close`` flushes and releases."""

    def put(self, outcomes: Sequence[Outcome]) -> None: ...

    def flush(self) -> int: ...

    def close(self) -> None: ...


class NullSink:
    """Keeps nothing (a pipeline whose caller handles outcomes itself)."""

    def put(self, outcomes: Sequence[Outcome]) -> None:
        return None

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        return None


class FlowState(TypedDict, total=False):
    """The graph's state: a batch of items (one for inline calls), and the verdicts once decided."""

    items: list[Item]
    verdicts: list[Verdict]


@dataclass
class Flow:
    """The flow's settings, bound to every node. ``sink`` is used only by the ``enqueue`` node (a review
    item must be durable, with its thread, before the flow waits); the pipeline hands over everything else."""

    policy: CompiledPolicy
    sink: Sink = field(default_factory=NullSink)
    services: dict[str, Any] = field(default_factory=dict)
    regenerate: Regenerate | None = None
    interactive: bool = False  # review interrupts the graph (needs a checkpointer)
    concurrency: int = 8

    @property
    def on_verdict(self) -> Callable[[Interaction, Verdict], None] | None:
        """The sink's callback for final verdicts (kept here for code that chains onto it)."""
        return getattr(self.sink, "on_verdict", None)

    @on_verdict.setter
    def on_verdict(self, fn: Callable[[Interaction, Verdict], None] | None) -> None:
        self.sink.on_verdict = fn  # type: ignore[attr-defined]
