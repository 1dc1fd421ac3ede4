"""What the flow's nodes share: the compiled policy, the log, services, and how to re-ask the model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from catalyst.engine import Item
from catalyst.policy import CompiledPolicy
from catalyst.records import Interaction, Verdict
from catalyst.store import Store

#: ``regenerate(record, reasons) -> new output``: re-ask the model with the reasons (the retry path).
Regenerate = Callable[[Interaction, list[str]], str | Awaitable[str]]


class FlowState(TypedDict, total=False):
    """The graph's state: a batch of items (one for inline calls), and the verdicts once logged."""

    items: list[Item]
    verdicts: list[Verdict]


@dataclass
class Flow:
    policy: CompiledPolicy
    store: Store | None = None
    services: dict[str, Any] = field(default_factory=dict)
    regenerate: Regenerate | None = None
    interactive: bool = False  # review interrupts the graph (needs a checkpointer)
    concurrency: int = 8
    on_verdict: Callable[[Interaction, Verdict], None] | None = None
