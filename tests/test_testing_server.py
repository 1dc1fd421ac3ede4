"""The scripted OpenAI-compatible server, exercised with the real ``openai`` client over loopback."""

from __future__ import annotations

import json
import math
import threading
import time

import httpx
import openai
import pytest

from catalyst.testing import Reply, ScriptedServer, default_logprob, tokenize

MSG = [{"role": "user", "content": "What is the capital of France?"}]


def _chat(client: openai.OpenAI, **kw: object) -> object:
    return client.chat.completions.create(model="m", messages=kw.pop("messages", MSG), **kw)  # type: ignore[call-overload]


def test_tokenize_round_trips() -> None:
    text = "Paris is the capital, since 987 AD.\n  Next line!"
    toks = tokenize(text)
    assert "".join(toks) == text
    assert toks[:3] == ["Paris", " is", " the"]


def test_chat_completion_n_and_logprobs_are_deterministic() -> None:
    with ScriptedServer(Reply(text=["Paris is the capital.", "Lyon."])) as srv, srv.client() as client:
        r = _chat(client, n=3, logprobs=True, top_logprobs=3)
    assert [c.message.content for c in r.choices] == ["Paris is the capital.", "Lyon.", "Paris is the capital."]
    toks = r.choices[1].logprobs.content
    assert [t.token for t in toks] == ["Lyon", "."]
    assert [t.logprob for t in toks] == [default_logprob("Lyon"), default_logprob(".")]
    for t in toks:
        assert len(t.top_logprobs) == 3
        lps = [a.logprob for a in t.top_logprobs]
        assert lps == sorted(lps, reverse=True)
        assert sum(math.exp(x) for x in lps) <= 1.0 + 1e-9
        assert t.token in [a.token for a in t.top_logprobs]
    assert r.usage.completion_tokens == 5 + 2 + 5
    assert srv.requests[0].json["n"] == 3


def test_explicit_logprobs_and_no_logprobs_unless_asked() -> None:
    with ScriptedServer(Reply(text="a b c", logprobs=[-0.1, -2.0])) as srv, srv.client() as client:
        r = _chat(client, logprobs=True)
        assert [t.logprob for t in r.choices[0].logprobs.content] == [-0.1, -2.0, default_logprob(" c")]
        assert _chat(client).choices[0].logprobs is None


def test_text_completions_with_logprobs_and_offsets() -> None:
    with ScriptedServer("The sky is blue.") as srv, srv.client() as client:
        r = client.completions.create(model="m", prompt="Q: sky colour? A:", logprobs=2, max_tokens=8)
    lp = r.choices[0].logprobs
    assert r.choices[0].text == "The sky is blue."
    assert lp.tokens == tokenize("The sky is blue.")
    assert lp.text_offset == [0, 3, 7, 10, 15]
    assert all(len(d) == 2 for d in lp.top_logprobs)
    assert srv.requests[0].path == "/v1/completions"
    assert srv.requests[0].prompt == "Q: sky colour? A:"


def test_chat_streaming_chunks_usage_and_done() -> None:
    with ScriptedServer(Reply(text=["one two three", "uno dos"])) as srv, srv.client() as client:
        stream = _chat(client, stream=True, n=2, logprobs=True, stream_options={"include_usage": True})
        chunks = list(stream)
        texts: dict[int, str] = {}
        for ch in chunks:
            for c in ch.choices:
                texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
        assert texts == {0: "one two three", 1: "uno dos"}
        assert chunks[-1].usage.completion_tokens == 5
        finishes = [c.finish_reason for ch in chunks for c in ch.choices if c.finish_reason]
        assert finishes == ["stop", "stop"]
        # the raw wire format ends with a [DONE] event
        with httpx.Client() as raw:
            body = raw.post(f"{srv.url}/chat/completions", json={"model": "m", "messages": MSG, "stream": True}).text
        events = [line[6:] for line in body.split("\n") if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        assert json.loads(events[1])["choices"][0]["delta"]["content"] == "one"


def test_text_completion_streaming() -> None:
    with ScriptedServer("alpha beta") as srv, srv.client() as client:
        parts = [c.choices[0].text for c in client.completions.create(model="m", prompt="x", stream=True)
                 if c.choices]
    assert "".join(parts) == "alpha beta"


def test_rules_queue_mapping_and_callable() -> None:
    script = {"France": "Paris.", "Spain": lambda req: f"Madrid ({req.model}).", "*": ["first", "second"]}
    with ScriptedServer(script) as srv, srv.client() as client:
        assert _chat(client).choices[0].message.content == "Paris."
        spain = [{"role": "user", "content": "capital of Spain"}]
        assert _chat(client, messages=spain).choices[0].message.content == "Madrid (m)."
        other = [{"role": "user", "content": "hello"}]
        assert _chat(client, messages=other, n=2).choices[1].message.content == "second"
        srv.script = ["q1", "q2"]
        srv.push("q3")
        assert [_chat(client).choices[0].message.content for _ in range(3)] == ["q1", "q2", "q3"]
        assert srv.remaining == 0
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            _chat(client)
        assert srv.errors and "script exhausted" in srv.errors[0]
        assert len(srv.requests) == 7


def test_queue_default_after_exhaustion() -> None:
    with ScriptedServer(["a"], default="fallback") as srv, srv.client() as client:
        assert [_chat(client).choices[0].message.content for _ in range(3)] == ["a", "fallback", "fallback"]
        assert srv.errors == []


def test_rate_limit_carries_retry_after() -> None:
    with ScriptedServer([Reply.rate_limited(retry_after=2), "ok"]) as srv, srv.client() as client:
        with pytest.raises(openai.RateLimitError) as ei:
            _chat(client)
        assert ei.value.response.headers["retry-after"] == "2"
        assert ei.value.status_code == 429
        assert _chat(client).choices[0].message.content == "ok"


def test_sdk_retries_are_visible_in_the_request_log() -> None:
    # the SDK's own retry honours Retry-After; the server records both attempts
    with ScriptedServer([Reply.rate_limited(retry_after=0.2), "after retry"]) as srv, \
            srv.client(max_retries=1) as client:
        t0 = time.perf_counter()
        assert _chat(client).choices[0].message.content == "after retry"
        assert time.perf_counter() - t0 >= 0.18
        assert len(srv.requests) == 2


def test_server_error_and_custom_status() -> None:
    with ScriptedServer([Reply.server_error(), Reply.server_error(503, "overloaded")]) as srv, \
            srv.client() as client:
        with pytest.raises(openai.InternalServerError, match="scripted server error"):
            _chat(client)
        with pytest.raises(openai.APIStatusError, match="overloaded") as ei:
            _chat(client)
        assert ei.value.status_code == 503


def test_malformed_json_body_raises_a_decode_error() -> None:
    with ScriptedServer(Reply.malformed()) as srv, srv.client() as client, pytest.raises(ValueError):
        _chat(client)


def test_raw_body_passes_through() -> None:
    with ScriptedServer(Reply.raw('{"unexpected": true}')) as srv, srv.client() as client:
        r = _chat(client)
        assert getattr(r, "choices", None) is None  # the SDK does not validate; callers must


@pytest.mark.parametrize("reply", [Reply.dropped(), Reply.dropped_mid_body("x " * 200)], ids=["drop", "mid-body"])
def test_dropped_connection_is_a_connection_error(reply: Reply) -> None:
    with ScriptedServer(reply) as srv, srv.client() as client, pytest.raises(openai.APIConnectionError):
        _chat(client)


def test_dropped_mid_stream_after_some_chunks() -> None:
    with ScriptedServer(Reply.dropped_mid_stream("one two three four", after_chunks=3)) as srv, \
            srv.client() as client:
        got: list[str] = []
        with pytest.raises((openai.APIConnectionError, httpx.HTTPError)):
            for ch in _chat(client, stream=True):
                got.append(ch.choices[0].delta.content or "")
        assert "".join(got) == "one two"  # role chunk, "one", " two", then the connection dies


def test_slow_reply_times_out_and_stop_interrupts_it() -> None:
    with ScriptedServer(Reply.slow(30.0)) as srv, srv.client(timeout=0.3) as client:
        t0 = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            _chat(client)
        assert time.perf_counter() - t0 < 5
        t1 = time.perf_counter()
    assert time.perf_counter() - t1 < 2  # stop() woke the sleeping handler instead of waiting 30 s


def test_chunk_delay_streams_slowly() -> None:
    with ScriptedServer(Reply(text="a b c", chunk_delay=0.05)) as srv, srv.client() as client:
        t0 = time.perf_counter()
        assert len(list(_chat(client, stream=True))) == 5
        assert time.perf_counter() - t0 >= 0.2


def test_start_and_stop_are_fast_and_leave_no_threads() -> None:
    before = set(threading.enumerate())
    t0 = time.perf_counter()
    srv = ScriptedServer("hi").start()
    started = time.perf_counter() - t0
    with srv.client() as client:  # a pooled keep-alive connection stays open until stop()
        _chat(client)
        t1 = time.perf_counter()
        srv.stop()
        stopped = time.perf_counter() - t1
    assert started < 1.0 and stopped < 2.0
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(RuntimeError, match="not running"):
        _ = srv.url


def test_unknown_route_and_bad_body() -> None:
    with ScriptedServer() as srv, httpx.Client() as raw:
        assert raw.post(f"{srv.url}/embeddings", json={}).status_code == 404
        assert raw.post(f"{srv.url}/chat/completions", content=b"not json").status_code == 400
        assert raw.get(f"{srv.url}/models").json()["data"][0]["id"] == "scripted-model"


async def test_async_client_and_async_context_manager() -> None:
    async with ScriptedServer(["a", Reply.rate_limited(1)]) as srv, srv.async_client() as client:
        r = await client.chat.completions.create(model="m", messages=MSG)
        assert r.choices[0].message.content == "a"
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="m", messages=MSG)


def test_fixtures(scripted_server: ScriptedServer, openai_client: openai.OpenAI) -> None:
    scripted_server.script = "from the fixture"
    assert _chat(openai_client).choices[0].message.content == "from the fixture"
    assert scripted_server.requests[0].last_user_message == MSG[0]["content"]


async def test_async_fixture(scripted_server: ScriptedServer, async_openai_client: openai.AsyncOpenAI) -> None:
    scripted_server.script = "async fixture"
    r = await async_openai_client.chat.completions.create(model="m", messages=MSG)
    assert r.choices[0].message.content == "async fixture"


def test_max_tokens_cuts_and_echo_scores_the_prompt() -> None:
    def lp(token: str) -> float:
        return -3.0 if "1887" in token else -0.1

    with ScriptedServer(Reply(text="one two three", logprobs=lp)) as srv, srv.client() as client:
        r = _chat(client, max_tokens=2)
        assert r.choices[0].message.content == "one two" and r.choices[0].finish_reason == "length"
        e = client.completions.create(model="m", prompt="Built in 1887.", echo=True, max_tokens=0, logprobs=1)
    lp_ = e.choices[0].logprobs
    assert e.choices[0].text == "Built in 1887."
    assert lp_.tokens == ["Built", " in", " 1887", "."]
    assert lp_.token_logprobs == [None, -0.1, -3.0, -0.1]
    assert lp_.text_offset == [0, 5, 8, 13]


def test_malformed_event_in_a_stream() -> None:
    with ScriptedServer(Reply.malformed()) as srv, srv.client() as client, pytest.raises(ValueError):
        list(_chat(client, stream=True))
