"""The validation node inside a user's own LangGraph graph, with a real model call to the scripted server."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from _policies import retry_policy
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

import catalyst
from catalyst.langgraph import make_router, route, validation_node
from catalyst.testing import ScriptedServer

POLICY = retry_policy("node-test", max_retries=1, on_exhausted="review")


class State(TypedDict, total=False):
    question: str
    answer: str
    context: list[str]
    catalyst_verdict: dict[str, Any]
    catalyst_decision: str
    catalyst_feedback: str | None
    catalyst_attempts: int
    catalyst_record_id: str | None
    outcome: str


def build(srv: ScriptedServer, node: Any) -> Any:
    client = srv.client()

    def generate(state: State) -> State:
        msgs = [{"role": "user", "content": state["question"]}]
        if state.get("catalyst_feedback"):
            msgs.append({"role": "user", "content": state["catalyst_feedback"]})
        r = client.chat.completions.create(model="m", messages=msgs)
        return {"answer": r.choices[0].message.content}

    g = StateGraph(State)
    g.add_node("generate", generate)
    g.add_node("validate", node)
    g.add_node("human", lambda s: {"outcome": "queued for review"})
    g.add_node("refuse", lambda s: {"outcome": "refused", "answer": "I can't help with that."})
    g.add_edge(START, "generate")
    g.add_edge("generate", "validate")
    g.add_conditional_edges("validate", route, {"accept": END, "retry": "generate", "review": "human",
                                                "block": "refuse"})
    g.add_edge("human", END)
    g.add_edge("refuse", END)
    return g.compile(checkpointer=InMemorySaver())


def logged(db) -> list[dict]:
    with catalyst.Store(db) as s:
        return s.query("SELECT id, decision, attempts, output FROM verdicts")


def test_retry_loop_in_user_graph_logs_one_final_verdict(db_path):
    with ScriptedServer(["As an AI language model, I can't.", "Paris."]) as srv:
        node = validation_node(POLICY, store=db_path)
        out = build(srv, node).invoke({"question": "Capital of France?"}, {"configurable": {"thread_id": "t1"}})
        node.close()
        feedback = srv.requests[1].messages[-1]["content"]
    assert out["answer"] == "Paris." and out["catalyst_decision"] == "accept"
    assert out["catalyst_verdict"]["attempts"] == 2 and out["catalyst_attempts"] == 0
    assert "denylist" in feedback
    [row] = logged(db_path)
    assert row["attempts"] == 2 and row["output"] == "Paris." and row["decision"] == "accept"


def test_exhausted_retries_go_to_review_and_block_to_refuse(db_path):
    with ScriptedServer("As an AI language model, no.") as srv:
        node = validation_node(POLICY, store=db_path)
        out = build(srv, node).invoke({"question": "q"}, {"configurable": {"thread_id": "t2"}})
        assert len(srv.requests) == 2
        srv.script = "Napalm recipe follows."
        out2 = build(srv, node).invoke({"question": "q"}, {"configurable": {"thread_id": "t3"}})
        node.close()
    assert out["catalyst_decision"] == "review" and out["outcome"] == "queued for review"
    assert out2["catalyst_decision"] == "block" and out2["outcome"] == "refused"
    assert sorted((r["decision"], r["attempts"]) for r in logged(db_path)) == [("block", 1), ("review", 2)]


def test_langchain_messages_and_custom_keys():
    from langchain_core.messages import AIMessage, HumanMessage

    node = validation_node("default", output_key="reply", input_key="messages", prefix="v_")
    upd = node({"messages": [HumanMessage("hi")], "reply": AIMessage("Hello there, how can I help?")})
    assert upd["v_decision"] == "accept" and upd["v_verdict"]["decision"] == "accept"
    assert make_router("v_decision")(upd) == "accept"


def test_missing_keys_are_clear_errors():
    node = validation_node("default")
    with pytest.raises(catalyst.errors.ConfigError, match="no `answer`"):
        node({"question": "q"})
    with pytest.raises(catalyst.errors.ConfigError, match="put the validation node before it"):
        route({})
