"""The validating proxy on 127.0.0.1, in front of the scripted server, driven by the real ``openai`` client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from _policies import retry_policy

import catalyst
from catalyst.proxy import ProxyServer, serve_in_thread
from catalyst.testing import Reply, ScriptedServer

MSG = [{"role": "user", "content": "What is the capital of France?"}]
POLICY = retry_policy("proxy-test", max_retries=1, on_exhausted="review")


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer("Paris is the capital of France.") as srv:
        yield srv


@pytest.fixture
def proxy(upstream: ScriptedServer, db_path: Path) -> Iterator[ProxyServer]:
    with serve_in_thread(upstream.url, policy=POLICY, db=db_path, timeout=1.0, max_retries=2,
                         retry_after_max=2.0, stream_checks=["banned"], flush_interval=0.2) as px:
        yield px


@pytest.fixture
def client(proxy: ProxyServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0, timeout=10) as c:
        yield c


def logged(db: Path) -> list[dict]:
    with catalyst.Store(db) as s:
        return s.query("SELECT v.decision, v.attempts, v.reasons, v.output AS delivered, i.output, i.context, "
                       "i.metadata FROM verdicts v JOIN interactions i USING (verdict_id) ORDER BY v.created_at")


def test_accept_gets_headers_field_and_one_logged_verdict(client, proxy, upstream, db_path):
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=MSG, extra_body={"catalyst_context": ["Paris is the capital of France."]})
    r = raw.parse()
    assert r.choices[0].message.content == "Paris is the capital of France."
    # a rules-only policy verifies nothing: accepted (on_unverified), never read as confidence 1.0
    assert raw.headers["x-catalyst-decision"] == "accept" and raw.headers["x-catalyst-confidence"] == "not verified"
    assert raw.headers["x-catalyst-evidence"] == "none"
    assert r.catalyst["decision"] == "accept" and r.choices[0].catalyst["decision"] == "accept"
    assert "catalyst_context" not in upstream.requests[0].json  # Catalyst's fields never go upstream
    assert {k.lower(): v for k, v in upstream.requests[0].headers.items()}["authorization"] == "Bearer sk-test"
    proxy.stop()
    [row] = logged(db_path)
    assert row["decision"] == "accept" and "Paris is the capital" in row["context"]
    assert json.loads(row["metadata"])["via"] == "proxy"


def test_blocked_answer_is_a_clear_refusal(client, upstream, proxy, db_path):
    upstream.script = "Step one: get napalm."
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MSG)
    r = raw.parse()
    assert raw.headers["x-catalyst-decision"] == "block"
    assert r.choices[0].finish_reason == "content_filter"
    assert r.choices[0].message.content.startswith("[catalyst] This answer was withheld")
    assert "banned" in r.choices[0].message.content
    proxy.stop()
    assert [x["decision"] for x in logged(db_path)] == ["block"]


def test_retry_reasks_upstream_and_logs_once(client, upstream, proxy, db_path):
    upstream.script = ["As an AI language model, I cannot.", "Paris."]
    r = client.chat.completions.create(model="m", messages=MSG)
    assert r.choices[0].message.content == "Paris." and r.catalyst["attempts"] == 2
    assert len(upstream.requests) == 2 and upstream.requests[1].messages[-1]["role"] == "user"
    proxy.stop()
    [row] = logged(db_path)
    assert row["attempts"] == 2 and row["delivered"] == "Paris."


def test_stream_passes_through_and_ends_with_the_verdict(client, upstream, proxy, db_path):
    upstream.script = Reply(text="Paris is the capital of France.", chunk_delay=0.01)
    chunks = list(client.chat.completions.create(model="m", messages=MSG, stream=True, logprobs=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Paris is the capital of France."
    assert chunks[-1].choices == [] and chunks[-1].catalyst["decision"] == "accept"
    proxy.stop()
    [row] = logged(db_path)
    assert row["output"] == text


def test_stream_cut_off_by_a_chunk_check(client, upstream, proxy, db_path):
    upstream.script = "Well. Take the napalm and then some more napalm and a lot more text after it."
    chunks = list(client.chat.completions.create(model="m", messages=MSG, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "napalm" not in text and text.startswith("Well.")
    assert any(c.choices and c.choices[0].finish_reason == "content_filter" for c in chunks)
    assert chunks[-1].catalyst["decision"] == "block"
    proxy.stop()
    row = logged(db_path)[0]
    assert json.loads(row["metadata"])["stream_cut_by"] == "banned"


def test_429_with_retry_after_is_retried_upstream(client, upstream, proxy):
    upstream.script = [Reply.rate_limited(retry_after=0.2), "Paris."]
    t0 = time.monotonic()
    r = client.chat.completions.create(model="m", messages=MSG)
    assert r.choices[0].message.content == "Paris." and time.monotonic() - t0 >= 0.2
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(("reply", "status", "stream"), [
    (Reply.rate_limited(retry_after=30), 429, False),  # Retry-After past retry_after_max: passed through now
    (Reply.server_error(503), 503, False),
    (Reply.malformed(), 502, False),
    (Reply.dropped(), 502, False),
    (Reply.dropped_mid_body(), 502, False),
    (Reply.slow(5), 504, False),
    (Reply.rate_limited(retry_after=30), 429, True),
    (Reply.server_error(500), 500, True),
    (Reply.dropped(), 502, True),
], ids=["429", "503", "malformed", "dropped", "dropped-mid-body", "slow", "stream-429", "stream-500", "stream-dropped"])
def test_upstream_faults_pass_through_with_a_logged_review(client, upstream, proxy, db_path, reply, status, stream):
    upstream.script = reply
    t0 = time.monotonic()
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m", messages=MSG, stream=stream)
    assert time.monotonic() - t0 < 8  # bounded by timeout x attempts, never hangs
    assert ei.value.status_code == status
    assert ei.value.response.headers["x-catalyst-decision"] == "review"
    proxy.stop()
    [row] = logged(db_path)
    assert row["decision"] == "review" and "upstream HTTP" in row["reasons"]


def test_stream_dropped_midway_is_an_error_event_and_a_logged_review(client, upstream, proxy, db_path):
    upstream.script = Reply.dropped_mid_stream("one two three four five", after_chunks=3)
    with pytest.raises(openai.APIError, match="upstream stream broke"):
        for _ in client.chat.completions.create(model="m", messages=MSG, stream=True):
            pass
    proxy.stop()
    [row] = logged(db_path)
    assert row["decision"] == "review" and row["output"] == "one two"


def test_models_and_bad_requests(client, proxy):
    assert [m.id for m in client.models.list()] == ["scripted-model"]
    r = httpx.post(f"{proxy.url}/chat/completions", content=b"{nope")
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError, match="model"):
        client.chat.completions.create(model="", messages=MSG)
    health = httpx.get(proxy.url.removesuffix("/v1") + "/healthz").json()
    assert health["ok"] and health["policy"].startswith("proxy-test@")


async def test_concurrent_clients_lose_no_verdicts(proxy, upstream, db_path):
    upstream.script = lambda req: f"Answer to {req.last_user_message}."
    async with openai.AsyncOpenAI(base_url=proxy.url, api_key="k", max_retries=0) as ac:
        rs = await asyncio.gather(*(ac.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"question {i}"}]) for i in range(60)))
    assert {r.choices[0].message.content for r in rs} == {f"Answer to question {i}." for i in range(60)}
    proxy.stop()
    assert len(logged(db_path)) == 60


def test_checks_in_threads_and_retry_from_a_thread(upstream, db_path):
    """Slow policies run their checks off the event loop; the re-ask then runs on the loop from that thread."""
    upstream.script = ["As an AI language model, no.", "Paris."]
    with serve_in_thread(upstream.url, policy=POLICY, db=db_path, inline_below_ms=0.0) as px, \
            openai.OpenAI(base_url=px.url, api_key="k", max_retries=0) as c:
        r = c.chat.completions.create(model="m", messages=MSG)
        assert px.proxy.inline() is False
    assert r.choices[0].message.content == "Paris." and r.catalyst["attempts"] == 2
    assert [(x["decision"], x["attempts"]) for x in logged(db_path)] == [("accept", 2)]


def test_n_choices_each_get_a_verdict(client, upstream, proxy, db_path):
    upstream.script = Reply(text=["Paris.", "Napalm is the answer."])
    r = client.chat.completions.create(model="m", messages=MSG, n=2)
    assert [c.catalyst["decision"] for c in r.choices] == ["accept", "block"]
    assert r.choices[1].finish_reason == "content_filter" and r.catalyst["decision"] == "accept"
    proxy.stop()
    assert sorted(x["decision"] for x in logged(db_path)) == ["accept", "block"]


def test_malformed_event_in_upstream_stream_is_an_error_event_and_a_review(client, upstream, proxy, db_path):
    upstream.script = Reply.malformed()
    with pytest.raises(openai.APIError, match="upstream stream broke"):
        list(client.chat.completions.create(model="m", messages=MSG, stream=True))
    proxy.stop()
    [row] = logged(db_path)
    assert row["decision"] == "review" and "JSONDecodeError" in row["reasons"]


def test_a_client_that_hangs_up_mid_stream_still_gets_its_answer_judged(upstream, db_path):
    upstream.script = Reply(text="one two three four five six seven eight", chunk_delay=0.05)
    with serve_in_thread(upstream.url, policy=POLICY, db=db_path, flush_interval=30) as px:
        with httpx.Client(timeout=10) as http, http.stream(
                "POST", f"{px.url}/chat/completions", json={"model": "m", "messages": MSG, "stream": True}) as r:
            for line in r.iter_lines():
                if '"content":"one"' in line.replace(" ", ""):
                    break  # hang up after the first word
        deadline = time.monotonic() + 10
        health = px.url.removesuffix("/v1") + "/healthz"
        while httpx.get(health).json()["pending_verdicts"] == 0 and time.monotonic() < deadline:
            pass  # the server notices the hang-up on its own loop; no sleep
    [row] = logged(db_path)
    meta = json.loads(row["metadata"])
    assert meta["stopped_by_caller"] is True and row["output"].startswith("one") and row["output"] != \
        "one two three four five six seven eight"


def test_the_warm_up_at_start_logs_nothing(upstream, db_path):
    with serve_in_thread(upstream.url, db=db_path) as px:  # the default policy: its PII/injection models load here
        assert httpx.get(px.url.removesuffix("/v1") + "/healthz").json()["ok"]
    assert upstream.requests == [] and logged(db_path) == []
