"""The flow as a LangGraph ``StateGraph``, and a direct runner of the same topology for the hot path.

The topology is written once, as data. ``build_graph`` compiles it into LangGraph (durable review with
``interrupt()`` and a checkpointer, one invocation per *batch*); ``run_direct`` walks the same nodes and
routers in-process for inline calls, where LangGraph's per-invoke cost (~1-2 ms) would dominate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph

from catalyst.errors import ConfigError
from catalyst.flow import Flow, FlowState

#: static edges; the other moves are decided by the routers below
EDGES: dict[str, str] = {"escalate": "decide", "retry": "screen", "enqueue": "review", "review": "log", "log": END}
#: node → (router function name in catalyst_agents.nodes, its possible targets)
ROUTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "screen": ("after_screen", ("escalate", "decide")),
    "decide": ("after_decide", ("retry", "enqueue", "log")),
}
FIRST = "screen"


@functools.cache
def _agents() -> Any:
    # imported on first use: the agents are built on the core, so the core must not import them at import time
    from catalyst_agents import nodes

    return nodes


def _router(name: str) -> Callable[[Flow, FlowState], str]:
    return getattr(_agents(), ROUTERS[name][0])  # type: ignore[no-any-return]
MAX_STEPS = 100  # retry loops are bounded by the policy; this only guards against a routing bug


def build_graph(flow: Flow, *, checkpointer: Any = None) -> Any:
    """Compile the flow into a LangGraph graph. ``flow.interactive`` needs a checkpointer (review waits)."""
    if flow.interactive and checkpointer is None:
        raise ConfigError("interactive review needs a checkpointer, e.g. langgraph's SqliteSaver")
    g: StateGraph = StateGraph(FlowState)
    for name, (fn, afn) in _agents().NODES.items():
        sync = functools.partial(fn, flow)
        g.add_node(name, RunnableLambda(sync, afunc=functools.partial(afn, flow)) if afn else sync)
    g.add_edge(START, FIRST)
    for src, dst in EDGES.items():
        g.add_edge(src, dst)
    for src, (_fname, targets) in ROUTERS.items():
        g.add_conditional_edges(src, functools.partial(_router(src), flow), list(targets))
    return g.compile(checkpointer=checkpointer)


def _walk(flow: Flow, state: FlowState) -> Any:
    node = FIRST
    for _ in range(MAX_STEPS):
        yield node
        node = _router(node)(flow, state) if node in ROUTERS else EDGES[node]
        if node == END:
            return
    raise RuntimeError(f"flow did not finish in {MAX_STEPS} steps")


def run_direct(flow: Flow, state: FlowState) -> FlowState:
    """Run the topology in-process (no interrupts: review items are enqueued, not waited for)."""
    if flow.interactive:
        raise ConfigError("interactive flows run through the compiled graph")
    for node in _walk(flow, state):
        state.update(_agents().NODES[node][0](flow, state) or {})  # type: ignore[typeddict-item]
    return state


async def arun_direct(flow: Flow, state: FlowState) -> FlowState:
    for node in _walk(flow, state):
        fn, afn = _agents().NODES[node]
        state.update((await afn(flow, state) if afn else fn(flow, state)) or {})  # type: ignore[typeddict-item]
    return state
