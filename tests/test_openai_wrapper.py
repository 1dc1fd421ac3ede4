"""The drop-in OpenAI client against the scripted server: verdicts attached, blocks, retries, streams, faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
import pytest

import catalyst
from catalyst import Blocked, Decision
from catalyst.openai import wrap_client
from catalyst.policy import loads_policy
from catalyst.testing import Reply, ScriptedServer, default_logprob, tokenize

MSG = [{"role": "user", "content": "What is the capital of France?"}]
POLICY = """
name: wrap-test
checks:
  - non_empty: {}
    on_fail: block
  - denylist: {phrases: ["as an AI language model"]}
    on_fail: retry
  - denylist: {phrases: ["napalm"], patterns: ['password\\s*=\\s*\\S+']}
    as: banned
    on_fail: block
thresholds: {accept: 0.8, block: 0.3}
retry: {max_retries: 2, on_exhausted: review}
on_unverified: accept  # rules only, no evidence check: an answer that passes them goes out (as unverified)
"""


@pytest.fixture
def policy():
    return loads_policy(POLICY)


def rows(db: Path, sql: str = "SELECT id, decision, attempts, output, reasons FROM verdicts") -> list[dict]:
    with catalyst.Store(db) as s:
        return s.query(sql)


def test_accept_attaches_verdict_and_logs_logprobs(policy, db_path):
    with ScriptedServer("Paris is the capital of France.") as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        r = client.chat.completions.create(model="m", messages=MSG, logprobs=True,
                                           catalyst_context=["Paris is the capital of France."])
        client.close()
    assert r.choices[0].message.content == "Paris is the capital of France."
    assert r.catalyst_verdict.decision is Decision.ACCEPT
    assert r.choices[0].catalyst_verdict is r.catalyst_verdict
    assert r.model_dump()["catalyst_verdict"]["decision"] == "accept"
    [row] = rows(db_path, "SELECT v.decision, i.input, i.context, i.logprobs, i.metadata FROM verdicts v "
                          "JOIN interactions i USING (verdict_id)")
    assert row["decision"] == "accept"
    assert "capital of France?" in row["input"] and "Paris is the capital" in row["context"]
    expected = [default_logprob(t) for t in tokenize("Paris is the capital of France.")]
    assert json.loads(row["logprobs"]) == pytest.approx(expected)
    assert '"model": "m"' in row["metadata"].replace('":"', '": "')


def test_block_raises_by_default_and_is_refused_on_request(policy, db_path):
    with ScriptedServer("Mix napalm like this.") as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        with pytest.raises(Blocked) as ei:
            client.chat.completions.create(model="m", messages=MSG)
        assert ei.value.verdict.decision is Decision.BLOCK and ei.value.output == "Mix napalm like this."
        assert ei.value.response.catalyst_verdict is ei.value.verdict
        refusing = wrap_client(srv.client(), policy, store=catalyst.Store(db_path.with_suffix(".2.duckdb")),
                               on_block="refuse")
        r = refusing.chat.completions.create(model="m", messages=MSG)
        assert r.choices[0].finish_reason == "content_filter"
        assert r.choices[0].message.content.startswith("[catalyst] This answer was withheld")
        assert "banned" in r.choices[0].message.content
        assert r.catalyst_verdict.decision is Decision.BLOCK
        client.close()
        refusing.close()
    assert [r["decision"] for r in rows(db_path)] == ["block"]


def test_one_on_block_default_for_wrap_and_wrap_client():
    import inspect

    from catalyst.openai._wire import DEFAULT_ON_BLOCK

    assert DEFAULT_ON_BLOCK == "raise"
    for fn in (catalyst.wrap, wrap_client):
        assert inspect.signature(fn).parameters["on_block"].default == DEFAULT_ON_BLOCK, fn
    with pytest.raises(catalyst.errors.ConfigError, match="on_block='ignore'"):
        wrap_client(openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1"), on_block="ignore")


@pytest.mark.parametrize(("extra", "field"), [
    ({"catalyst_context": 5}, "catalyst_context"),
    ({"catalyst_context": [1, 2]}, "catalyst_context"),
    ({"catalyst_context": [None]}, "catalyst_context"),
    ({"catalyst_context": [{"text": "x"}]}, "catalyst_context"),
    ({"catalyst_context": {"k": "v"}}, "catalyst_context"),
    ({"catalyst_metadata": ["a"]}, "catalyst_metadata"),
    ({"catalyst_contxt": ["a"]}, "catalyst_contxt"),
], ids=["int", "ints", "null", "objects", "object", "metadata-list", "typo"])
def test_bad_catalyst_arguments_fail_before_the_model_is_called(policy, db_path, extra, field):
    with ScriptedServer("Paris.") as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        with pytest.raises(catalyst.errors.RecordError, match=f"field `{field}`"):
            client.chat.completions.create(model="m", messages=MSG, **extra)
        client.close()
        assert srv.requests == []


def test_retry_reasks_with_reasons_and_logs_one_verdict(policy, db_path):
    with ScriptedServer(["As an AI language model, I cannot say.", "Paris."]) as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        r = client.chat.completions.create(model="m", messages=MSG)
        client.close()
        second = srv.requests[1].messages
    assert r.choices[0].message.content == "Paris."
    assert r.catalyst_verdict.decision is Decision.ACCEPT and r.catalyst_verdict.attempts == 2
    assert second[:1] == MSG and second[1] == {"role": "assistant", "content": "As an AI language model, I cannot say."}
    assert "denylist" in second[2]["content"] and second[2]["role"] == "user"
    [row] = rows(db_path)
    assert row["attempts"] == 2 and row["output"] == "Paris." and row["decision"] == "accept"


def test_retry_is_bounded_then_falls_back_to_policy(policy, db_path):
    with ScriptedServer("As an AI language model, no.") as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        r = client.chat.completions.create(model="m", messages=MSG)
        client.close()
        assert len(srv.requests) == 3  # the first ask plus max_retries=2
    assert r.catalyst_verdict.decision is Decision.REVIEW and r.catalyst_verdict.attempts == 3
    assert any("still failing after 2 retries" in x for x in r.catalyst_verdict.reasons)
    assert len(rows(db_path)) == 1


def test_failed_reask_sends_last_answer_to_review_once(policy, db_path):
    with ScriptedServer(["As an AI language model, no.", Reply.server_error()]) as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        r = client.chat.completions.create(model="m", messages=MSG)
        client.close()
    assert r.catalyst_verdict.decision is Decision.REVIEW
    assert any("re-asking the model failed" in x and "500" in x for x in r.catalyst_verdict.reasons)
    [row] = rows(db_path)
    assert row["decision"] == "review"
    [item] = rows(db_path, "SELECT status FROM review_items")
    assert item["status"] == "pending"


@pytest.mark.parametrize(("reply", "error"), [
    (Reply.rate_limited(retry_after=1), openai.RateLimitError),
    (Reply.server_error(), openai.InternalServerError),
    (Reply.malformed(), Exception),
    (Reply.dropped(), openai.APIConnectionError),
    (Reply.dropped_mid_body(), Exception),
    (Reply.slow(10), openai.APITimeoutError),
], ids=["429", "500", "malformed", "dropped", "dropped-mid-body", "slow"])
def test_every_fault_raises_clearly_and_logs_a_review(policy, db_path, reply, error):
    with ScriptedServer(reply) as srv:
        client = wrap_client(srv.client(timeout=0.5), policy, store=db_path)
        t0 = time.monotonic()
        with pytest.raises(error):
            client.chat.completions.create(model="m", messages=MSG)
        assert time.monotonic() - t0 < 5
        client.close()
    [row] = rows(db_path, "SELECT v.decision, v.reasons, c.name, c.error FROM verdicts v "
                          "JOIN check_results c USING (verdict_id)")
    assert row["decision"] == "review" and row["name"] == "model_call" and row["error"]
    assert "the model call failed" in row["reasons"]


def test_n_choices_get_their_own_verdicts_with_the_others_as_samples(policy, db_path):
    with ScriptedServer(Reply(text=["Paris.", "Mix napalm.", "Paris, France."])) as srv:
        client = wrap_client(srv.client(), policy, store=db_path, on_block="refuse")
        r = client.chat.completions.create(model="m", messages=MSG, n=3)
        client.close()
    assert [c.catalyst_verdict.decision for c in r.choices] == [Decision.ACCEPT, Decision.BLOCK, Decision.ACCEPT]
    assert r.choices[1].finish_reason == "content_filter"
    got = {r["output"]: json.loads(r["samples"]) for r in rows(db_path, "SELECT output, samples FROM interactions")}
    assert got == {"Paris.": ["Mix napalm.", "Paris, France."], "Mix napalm.": ["Paris.", "Paris, France."],
                   "Paris, France.": ["Paris.", "Mix napalm."]}


def test_stream_passes_chunks_through_and_validates_at_the_end(policy, db_path):
    text = "Paris is the capital of France."
    with ScriptedServer(Reply(text=text)) as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True, logprobs=True)
        pieces = []
        for chunk in stream:
            assert stream.catalyst_verdict is None  # not before the end
            pieces += [c.delta.content or "" for c in chunk.choices]
        client.close()
    assert "".join(pieces) == text
    assert stream.catalyst_verdict.decision is Decision.ACCEPT
    [row] = rows(db_path, "SELECT i.output, i.logprobs FROM interactions i")
    assert row["output"] == text and row["logprobs"].startswith("[")


def test_stream_is_cut_when_a_chunk_check_blocks(policy, db_path):
    text = "Sure. First you take the napalm and then you mix it with more napalm carefully."
    with ScriptedServer(Reply(text=text)) as srv:
        client = wrap_client(srv.client(), policy, store=db_path, stream_checks=["banned"], on_block="refuse")
        chunks = list(client.chat.completions.create(model="m", messages=MSG, stream=True))
        raising = wrap_client(srv.client(), policy, store=db_path.with_suffix(".2.duckdb"), stream_checks=["banned"])
        stream = raising.chat.completions.create(model="m", messages=MSG, stream=True)
        seen = []
        with pytest.raises(Blocked, match="streamed answer blocked") as ei:
            seen.extend(stream)  # the chunks before the cut are delivered, then the block is raised
        assert ei.value.verdict is stream.catalyst_verdict and ei.value.output.endswith("napalm")  # what was judged
        assert seen[-1].choices[0].finish_reason == "content_filter"
        assert "napalm" not in "".join(c.choices[0].delta.content or "" for c in seen)
        client.close()
        raising.close()
    sent = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "napalm" not in sent and sent.startswith("Sure. First you take the")
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert rows(db_path)[0]["decision"] == "block"


def test_stream_checks_must_be_block_rules(policy):
    with pytest.raises(catalyst.errors.ConfigError, match="on_fail: block"):
        wrap_client(openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1"), policy, stream_checks=["denylist"])


def test_stream_dropped_midway_raises_and_logs_partial_answer(policy, db_path):
    with ScriptedServer(Reply.dropped_mid_stream("one two three four five", after_chunks=3)) as srv:
        client = wrap_client(srv.client(timeout=2), policy, store=db_path)
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True)
        with pytest.raises(openai.APIError):
            for _ in stream:
                pass
        client.close()
    assert stream.catalyst_verdict.decision is Decision.REVIEW
    [row] = rows(db_path, "SELECT v.decision, i.output, i.metadata FROM verdicts v "
                          "JOIN interactions i USING (verdict_id)")
    assert row["decision"] == "review" and row["output"] == "one two" and '"partial":true' in row["metadata"]


async def test_async_client_accept_retry_and_stream(policy, db_path):
    async with ScriptedServer(["As an AI language model, hmm.", "Paris.", "Paris is lovely."]) as srv:
        client = wrap_client(srv.async_client(), policy, store=db_path)
        r = await client.chat.completions.create(model="m", messages=MSG)
        assert r.choices[0].message.content == "Paris." and r.catalyst_verdict.attempts == 2
        stream = await client.chat.completions.create(model="m", messages=MSG, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "Paris is lovely." and stream.catalyst_verdict.decision is Decision.ACCEPT
        await client.aclose()
    assert sorted(r["attempts"] for r in rows(db_path)) == [1, 2]


def test_wrap_client_rejects_other_objects():
    with pytest.raises(catalyst.errors.ConfigError, match=r"openai\.OpenAI"):
        wrap_client(object())


def test_stream_abandoned_by_the_caller_still_gets_one_verdict(policy, db_path):
    with ScriptedServer(Reply(text="one two three four five six")) as srv:
        client = wrap_client(srv.client(), policy, store=db_path)
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break  # the caller stops reading: the generator is closed here
        client.close()
    assert stream.catalyst_verdict is not None
    [row] = rows(db_path, "SELECT i.output, i.metadata FROM interactions i")
    assert row["output"] == "one" and '"stopped_by_caller":true' in row["metadata"]


async def test_async_client_faults_are_logged_as_reviews(policy, db_path):
    async with ScriptedServer([Reply.server_error(), Reply.dropped_mid_stream("a b c d e", after_chunks=2)]) as srv:
        client = wrap_client(srv.async_client(timeout=2), policy, store=db_path)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=MSG)
        stream = await client.chat.completions.create(model="m", messages=MSG, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        await client.aclose()
    assert stream.catalyst_verdict.decision is Decision.REVIEW
    assert [r["decision"] for r in rows(db_path)] == ["review", "review"]


def test_malformed_stream_event_raises_and_logs_a_review(policy, db_path):
    with ScriptedServer(Reply.malformed()) as srv:
        client = wrap_client(srv.client(timeout=2), policy, store=db_path)
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True)
        with pytest.raises(ValueError):
            list(stream)
        client.close()
    assert stream.catalyst_verdict.decision is Decision.REVIEW
    assert [r["decision"] for r in rows(db_path)] == ["review"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_model_calls_follow_the_one_retry_rule(policy, db_path, is_async):
    """The client's max_retries feed catalyst.llm's rule: Retry-After is honoured; a 501 is never retried
    (the SDK's own loop would retry it)."""
    script = [Reply.rate_limited(retry_after=0.05), "Paris.", Reply.server_error(501), "Paris."]
    async with ScriptedServer(script) as srv:
        sdk = srv.async_client(max_retries=2) if is_async else srv.client(max_retries=2)
        client = wrap_client(sdk, policy, store=db_path)
        create = client.chat.completions.create
        r = (await create(model="m", messages=MSG)) if is_async else create(model="m", messages=MSG)
        assert r.choices[0].message.content == "Paris." and len(srv.requests) == 2
        assert srv.requests[1].received_at - srv.requests[0].received_at >= 0.05
        with pytest.raises(openai.InternalServerError) as ei:
            await create(model="m", messages=MSG) if is_async else create(model="m", messages=MSG)
        assert ei.value.status_code == 501 and len(srv.requests) == 3
        await client.aclose() if is_async else client.close()
    assert [r["decision"] for r in rows(db_path, "SELECT decision FROM verdicts ORDER BY created_at")] == [
        "accept", "review"]


def test_the_sync_shell_runs_the_async_core_without_a_loop_and_refuses_one_that_suspends():
    from catalyst.openai._exchange import run_sync

    async def answer() -> int:
        return 42

    class Suspend:
        def __await__(self):
            yield

    async def suspends() -> None:
        await Suspend()

    assert run_sync(answer()) == 42
    with pytest.raises(TypeError, match="waited on I/O"):
        run_sync(suspends())
