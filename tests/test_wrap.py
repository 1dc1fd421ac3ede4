"""``catalyst.wrap`` on plain functions and real model calls (scripted server): outcomes, retries, log."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import openai
import pytest
from _policies import retry_policy

import catalyst
from catalyst import Blocked, Decision, Validated
from catalyst.testing import Reply, ScriptedServer

POLICY = retry_policy("wrap-fn", max_retries=2, on_exhausted="block")


@pytest.fixture
def policy():
    return POLICY


def logged(db: Path) -> list[dict]:
    with catalyst.Store(db) as s:
        return s.query("SELECT v.id, v.decision, v.attempts, v.output, i.input, i.context FROM verdicts v "
                       "JOIN interactions i USING (verdict_id) ORDER BY v.attempts")


def test_sync_function_returns_validated_and_logs(policy, db_path):
    @catalyst.wrap(policy=policy, store=db_path)
    def ask(question: str) -> str:
        return "The Eiffel Tower was finished in 1889."

    r = ask("When was the Eiffel Tower finished?", catalyst_context=["Built 1887-1889."],
            catalyst_metadata={"segment": {"region": "EU"}})
    assert isinstance(r, Validated) and r.accepted and str(r) == r.output == r.response
    assert r.verdict.segment == {"region": "EU"}
    ask.close()
    [row] = logged(db_path)
    assert row["decision"] == "accept" and row["input"] == '"When was the Eiffel Tower finished?"'
    assert "1887-1889" in row["context"]


def test_block_raises_refuses_or_returns(policy, db_path):
    def bad(q: str) -> str:
        return "Use napalm."

    raising = catalyst.wrap(bad, policy=policy, store=db_path)
    with pytest.raises(Blocked) as ei:
        raising("how?")
    assert ei.value.verdict.decision is Decision.BLOCK and ei.value.output == "Use napalm."
    raising.close()
    refusing = catalyst.wrap(bad, policy=policy, on_block="refuse")
    assert refusing("how?").output.startswith("[catalyst] This answer was withheld")
    returning = catalyst.wrap(bad, policy=policy, on_block="return")
    r = returning("how?")
    assert r.output == "Use napalm." and r.decision is Decision.BLOCK
    assert [x["decision"] for x in logged(db_path)] == ["block"]


def test_retry_passes_feedback_and_logs_only_the_final_answer(policy, db_path):
    seen: list[str | None] = []
    answers = iter(["As an AI language model, I can't.", "As an AI language model, still no.", "1889."])

    @catalyst.wrap(policy=policy, store=db_path)
    def ask(question: str, feedback: str | None = None) -> str:
        seen.append(feedback)
        return next(answers)

    r = ask("When?")
    ask.close()
    assert r.output == "1889." and r.verdict.attempts == 3 and r.accepted
    assert seen[0] is None and "denylist" in seen[1] and "I can't." in seen[1] and "still no." in seen[2]
    [row] = logged(db_path)
    assert row["attempts"] == 3 and row["output"] == "1889."


def test_retry_exhausted_follows_the_policy(policy, db_path):
    calls = []

    def stubborn(q: str) -> str:
        calls.append(q)
        return "As an AI language model, no."

    ask = catalyst.wrap(stubborn, policy=policy, store=db_path)
    with pytest.raises(Blocked, match="still failing after 2 retries"):
        ask("When?")
    ask.close()
    assert len(calls) == 3  # no feedback parameter, no messages: simply asked again
    assert [r["attempts"] for r in logged(db_path)] == [3]


def test_failing_function_logs_a_review_and_reraises(policy, db_path):
    @catalyst.wrap(policy=policy, store=db_path)
    def down(q: str) -> str:
        raise ConnectionError("model host unreachable")

    with pytest.raises(ConnectionError):
        down("anything?")
    down.close()
    [row] = logged(db_path)
    assert row["decision"] == "review"


def test_failed_reask_keeps_last_answer_for_review(policy, db_path):
    state = {"n": 0}

    def flaky(q: str) -> str:
        state["n"] += 1
        if state["n"] > 1:
            raise TimeoutError("model timed out")
        return "As an AI language model, no."

    ask = catalyst.wrap(flaky, policy=policy, store=db_path)
    r = ask("q")
    ask.close()
    assert r.decision is Decision.REVIEW and any("TimeoutError" in x for x in r.reasons)
    assert [x["decision"] for x in logged(db_path)] == ["review"]


def test_user_regenerate_hook(policy):
    got = []

    def regen(record, reasons):
        got.append((record.output, reasons))
        return "Fixed answer."

    ask = catalyst.wrap(lambda q: "As an AI language model, hm.", policy=policy, regenerate=regen)
    r = ask("q")
    assert r.output == "Fixed answer." and got[0][0].startswith("As an AI") and got[0][1]


async def test_async_function_and_messages_retry(policy, db_path):
    with ScriptedServer(["As an AI language model, no.", "Paris."]) as srv:
        client = srv.async_client()

        @catalyst.wrap(policy=policy, store=db_path)
        async def chat(messages: list[dict]) -> object:
            return await client.chat.completions.create(model="m", messages=messages, logprobs=True)

        r = await chat([{"role": "user", "content": "Capital of France?"}])
        await client.close()
        retry_msgs = srv.requests[1].messages
    chat.close()
    assert r.output == "Paris." and r.verdict.attempts == 2
    assert isinstance(r.response, openai.types.chat.ChatCompletion)
    assert r.response.choices[0].message.content == "Paris."
    assert [m["role"] for m in retry_msgs] == ["user", "assistant", "user"]
    [row] = logged(db_path)
    assert row["attempts"] == 2


def test_model_faults_through_wrap_are_clear_and_logged(policy, db_path):
    with ScriptedServer([Reply.rate_limited(retry_after=2), Reply.slow(10)]) as srv:
        client = srv.client(timeout=0.5)

        @catalyst.wrap(policy=policy, store=db_path)
        def chat(messages: list[dict]) -> object:
            return client.chat.completions.create(model="m", messages=messages)

        with pytest.raises(openai.RateLimitError):
            chat([{"role": "user", "content": "q"}])
        with pytest.raises(openai.APITimeoutError):
            chat([{"role": "user", "content": "q"}])
        client.close()
    chat.close()
    assert [r["decision"] for r in logged(db_path)] == ["review", "review"]


def test_concurrent_calls_log_one_verdict_each(policy, db_path):
    @catalyst.wrap(policy=policy, store=db_path, flush_interval=0.05)
    def echo(q: str) -> str:
        return f"Answer number {q}."

    threads = [threading.Thread(target=lambda i=i: echo(str(i))) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    echo.close()
    assert len({r["id"] for r in logged(db_path)}) == 40 == len(logged(db_path))


def test_wrap_rejects_results_it_cannot_read(policy):
    ask = catalyst.wrap(lambda q: 42, policy=policy)
    with pytest.raises(catalyst.errors.ConfigError, match="returned int"):
        ask("q")
    with pytest.raises(catalyst.errors.ConfigError, match="on_block"):
        catalyst.wrap(lambda q: "x", on_block="explode")


def test_wrap_inside_a_running_loop_with_sync_function(policy):
    async def main() -> Validated:
        return catalyst.wrap(lambda q: "Fine answer.", policy=policy)("q")

    assert asyncio.run(main()).accepted


def test_guard_logs_failures_as_review_with_the_error(db_path):
    from catalyst.records import Interaction
    from catalyst.wrapping import Guard

    g = Guard("default", store=db_path, flush_interval=0)
    v = g.log_failure(Interaction(input="q", output=""), TimeoutError("upstream timed out"))
    assert v.decision is Decision.REVIEW and v.checks[0].name == "model_call"
    g.close()
    with catalyst.Store(db_path) as s:
        [row] = s.query("SELECT v.decision, c.error FROM verdicts v JOIN check_results c USING (verdict_id)")
    assert row == {"decision": "review", "error": "TimeoutError: upstream timed out"}
