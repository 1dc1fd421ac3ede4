"""The flow as a LangGraph ``StateGraph``, and a direct runner of the same topology for the hot path.

The topology is written once, as data, over the nodes of :mod:`catalyst_agents.nodes` (each an
``async def``). ``build_graph`` compiles it into LangGraph (durable review with ``interrupt()`` and a
checkpointer, one invocation per *batch*); ``arun_direct`` walks the same nodes and routers in-process for
inline calls, where LangGraph's per-invoke cost (~1-2 ms) would dominate, and ``run_direct`` is its sync
wrapper (no event loop unless a check or the re-ask is async: see :mod:`catalyst._sync`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph

from catalyst._sync import run_sync
from catalyst.engine import has_async_checks
from catalyst.errors import ConfigError
from catalyst.flow import Flow, FlowState
from catalyst_agents import nodes

#: static edges; the other moves are decided by the routers below
EDGES: dict[str, str] = {"escalate": "decide", "retry": "screen", "enqueue": "review", "review": "log", "log": END}
#: node → (router, its possible targets)
ROUTERS: dict[str, tuple[Callable[[Flow, FlowState], str], tuple[str, ...]]] = {
    "screen": (nodes.after_screen, ("escalate", "decide")),
    "decide": (nodes.after_decide, ("retry", "enqueue", "log")),
}
FIRST = "screen"
MAX_STEPS = 100  # retry loops are bounded by the policy; this only guards against a routing bug


def needs_loop(flow: Flow) -> bool:
    """Whether a sync run of this flow needs an event loop (an async check, or an async re-ask)."""
    return has_async_checks(flow.policy) or inspect.iscoroutinefunction(flow.regenerate)


def _sync_node(afn: Any, loop: bool, flow: Flow, state: FlowState) -> FlowState:
    return run_sync(afn(flow, state), loop=loop)  # type: ignore[no-any-return]


def build_graph(flow: Flow, *, checkpointer: Any = None) -> Any:
    """Compile the flow into a LangGraph graph. ``flow.interactive`` needs a checkpointer (review waits)."""
    if flow.interactive and checkpointer is None:
        raise ConfigError("interactive review needs a checkpointer, e.g. langgraph's SqliteSaver")
    loop = needs_loop(flow)
    g: StateGraph = StateGraph(FlowState)
    for name, (afn, io) in nodes.NODES.items():
        sync = functools.partial(_sync_node, afn, io and loop, flow)
        g.add_node(name, RunnableLambda(sync, afunc=functools.partial(afn, flow)))
    g.add_edge(START, FIRST)
    for src, dst in EDGES.items():
        g.add_edge(src, dst)
    for src, (router, targets) in ROUTERS.items():
        g.add_conditional_edges(src, functools.partial(router, flow), list(targets))
    return g.compile(checkpointer=checkpointer)


async def arun_direct(flow: Flow, state: FlowState) -> FlowState:
    """Run the topology in-process (no interrupts: review items are not waited for)."""
    if flow.interactive:
        raise ConfigError("interactive flows run through the compiled graph")
    node = FIRST
    for _ in range(MAX_STEPS):
        state.update(await nodes.NODES[node][0](flow, state) or {})  # type: ignore[typeddict-item]
        node = ROUTERS[node][0](flow, state) if node in ROUTERS else EDGES[node]
        if node == END:
            return state
    raise RuntimeError(f"flow did not finish in {MAX_STEPS} steps")


def run_direct(flow: Flow, state: FlowState, *, loop: bool | None = None) -> FlowState:
    """The sync wrapper of :func:`arun_direct`."""
    return run_sync(arun_direct(flow, state), loop=needs_loop(flow) if loop is None else loop)
