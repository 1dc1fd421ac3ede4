"""The model client against the scripted server, with the real ``openai`` SDK: every fault gives a clear outcome."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from catalyst.errors import ConfigError, ModelBudgetExceeded, ModelCallError
from catalyst.llm import LLM, CallRecord, LLMConfig, as_llm, resolve_llm, retry_after_seconds
from catalyst.testing import Reply, ScriptedServer

MSG = [{"role": "user", "content": "What is the capital of France?"}]
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05}


def _llm(srv: ScriptedServer, **kw: object) -> LLM:
    return LLM(LLMConfig(base_url=srv.url, model="m", **{**FAST, **kw}))  # type: ignore[arg-type]


def test_every_transient_fault_is_retried_until_success() -> None:
    script = [Reply.rate_limited(0.05), Reply.server_error(), Reply.server_error(503), Reply.malformed(),
              Reply.dropped(), Reply.dropped_mid_body(), Reply.raw('{"no": "choices"}'), "Paris."]
    records: list[CallRecord] = []
    with ScriptedServer(script) as srv, _llm(srv, max_retries=10) as llm:
        llm.listeners.append(records.append)
        r = llm.chat(MSG, key="v1")
        assert r.choices[0].message.content == "Paris."
        assert len(srv.requests) == len(script)
        assert llm.usage("v1").calls == len(script)
    assert [x.status for x in records] == ["error"] * (len(script) - 1) + ["ok"]
    assert [x.http_status for x in records[:3]] == [429, 500, 503]
    assert "not valid JSON" in (records[3].error or "")
    assert "no `choices`" in (records[6].error or "")
    assert records[-1].prompt_tokens > 0 and records[-1].completion_tokens == 2


def test_retries_exhausted_raise_model_call_error_with_reason() -> None:
    with ScriptedServer(Reply.server_error(502, "bad gateway")) as srv, _llm(srv, max_retries=2) as llm:
        with pytest.raises(ModelCallError, match=r"failed after 3 attempts: HTTP 502.*bad gateway") as ei:
            llm.chat(MSG)
        assert srv.url in str(ei.value) and "model `m`" in str(ei.value)
        assert len(srv.requests) == 3


def test_client_errors_are_not_retried() -> None:
    with ScriptedServer(Reply.server_error(404, "model not found")) as srv, _llm(srv) as llm:
        with pytest.raises(ModelCallError, match=r"404.*check base_url"):
            llm.chat(MSG)
        assert len(srv.requests) == 1


def test_retry_after_is_honoured() -> None:
    with ScriptedServer([Reply.rate_limited(0.6), "ok"]) as srv, _llm(srv) as llm:
        t0 = time.perf_counter()
        assert llm.chat(MSG).choices[0].message.content == "ok"
        elapsed = time.perf_counter() - t0
        gap = srv.requests[1].received_at - srv.requests[0].received_at
    assert gap >= 0.55, f"second attempt came {gap:.2f}s after the 429, Retry-After asked 0.6s"
    assert elapsed < 10


def test_retry_after_ms_and_dates_are_parsed() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 1970 00:00:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_retry_after_beyond_the_limit_fails_at_once() -> None:
    with ScriptedServer(Reply.rate_limited(30)) as srv, _llm(srv, retry_after_max=5) as llm:
        t0 = time.perf_counter()
        with pytest.raises(ModelCallError, match="Retry-After 30s is past retry_after_max"):
            llm.chat(MSG)
        assert time.perf_counter() - t0 < 5
        assert len(srv.requests) == 1


def test_timeouts_bound_each_attempt_and_the_deadline_bounds_the_call() -> None:
    with ScriptedServer(Reply.slow(30)) as srv:
        with _llm(srv, timeout=0.3, max_retries=1) as llm:
            t0 = time.perf_counter()
            with pytest.raises(ModelCallError, match=r"2 attempts: timed out after 0\.30s"):
                llm.chat(MSG)
            assert time.perf_counter() - t0 < 5
        with _llm(srv, timeout=10, deadline=0.5, max_retries=5) as llm:
            t0 = time.perf_counter()
            with pytest.raises(ModelCallError, match="timed out"):
                llm.chat(MSG)
            assert time.perf_counter() - t0 < 3  # the deadline, not 6 x 10 s


def test_unreachable_endpoint() -> None:
    with ScriptedServer() as srv:
        url = srv.url
    with LLM(base_url=url, model="m", max_retries=1, **FAST) as llm, \
            pytest.raises(ModelCallError, match="2 attempts: connection failed"):
        llm.chat(MSG)


def test_budget_of_calls_per_verdict_fails_closed() -> None:
    with ScriptedServer("ok") as srv, _llm(srv, budget_calls=2) as llm:
        llm.chat(MSG, key="a")
        llm.chat(MSG, key="a")
        with pytest.raises(ModelBudgetExceeded, match="`a`: 2 calls used of budget_calls=2"):
            llm.chat(MSG, key="a")
        assert len(srv.requests) == 2  # refused before sending
        llm.chat(MSG, key="b")  # another verdict has its own budget
        llm.chat(MSG)  # no key: no per-verdict budget
        assert llm.usage("a").calls == 2 and llm.total.calls == 4
        llm.forget("a")
        llm.chat(MSG, key="a")


def test_retries_count_against_the_budget() -> None:
    with ScriptedServer(Reply.server_error()) as srv, _llm(srv, budget_calls=3, max_retries=10) as llm:
        with pytest.raises(ModelBudgetExceeded):
            llm.chat(MSG, key="v")
        assert len(srv.requests) == 3


def test_budget_of_tokens() -> None:
    with ScriptedServer("one two three four five six") as srv, _llm(srv, budget_tokens=10) as llm:
        llm.chat(MSG, key="v")  # 7 prompt + 6 completion tokens = 13 >= 10
        assert llm.usage("v").tokens == 13
        with pytest.raises(ModelBudgetExceeded, match="13 tokens used of budget_tokens=10"):
            llm.chat(MSG, key="v")


def test_concurrency_limit_caps_calls_in_flight() -> None:
    in_flight, peak, lock = [0], [0], threading.Lock()

    def rule(req: object) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return Reply(text="ok")

    async def many(llm: LLM) -> list[str]:
        rs = await asyncio.gather(*(llm.achat(MSG, key=f"k{i}") for i in range(8)))
        return [r.choices[0].message.content for r in rs]

    with ScriptedServer(rule) as srv, _llm(srv, concurrency=2) as llm:
        assert asyncio.run(many(llm)) == ["ok"] * 8
    assert peak[0] == 2


async def test_async_calls_and_completions() -> None:
    with ScriptedServer(Reply(text=["a", "b"])) as srv:
        async with _llm(srv) as llm:
            r = await llm.achat(MSG, n=2)
            assert [c.message.content for c in r.choices] == ["a", "b"]
            c = await llm.acomplete("Q: x\nA:", logprobs=1, max_tokens=5)
            assert c.choices[0].logprobs.tokens == ["a"]
        assert srv.requests[1].path == "/v1/completions"


def test_streams_are_refused_clearly() -> None:
    with ScriptedServer() as srv, _llm(srv) as llm, pytest.raises(ValueError, match="does not stream"):
        llm.chat(MSG, stream=True)


def test_config_validation_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="must start with http"):
        LLMConfig(base_url="localhost:8000")
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):
        LLMConfig(api_key_env="NO_SUCH_KEY_VAR").api_key()
    assert LLMConfig(base_url="http://x/v1", api_key_env="NO_SUCH_KEY_VAR").api_key() == "not-needed"
    monkeypatch.setenv("NO_SUCH_KEY_VAR", "sk-1")
    assert LLMConfig(api_key_env="NO_SUCH_KEY_VAR").api_key() == "sk-1"
    with pytest.raises(ConfigError, match="no model name"):
        LLM(base_url="http://127.0.0.1:9/v1").chat(MSG)


def test_resolution_from_services_and_check_config() -> None:
    with ScriptedServer("from services") as srv, srv.client() as oai:
        own = LLMConfig(base_url=srv.url, model="m")
        assert resolve_llm({}, own, "judge") is resolve_llm({}, own, "judge")  # shared, built once
        from_client = as_llm(oai)
        assert from_client.chat(MSG, model="m").choices[0].message.content == "from services"
        assert as_llm({"base_url": srv.url, "model": "m"}).config.model == "m"
        with pytest.raises(ConfigError, match="check `judge` needs a model"):
            resolve_llm({}, None, "judge")
        with pytest.raises(ConfigError, match="services\\['llm'\\] is a int"):
            as_llm(3)
        resolve_llm({}, own, "judge").close()


def test_model_calls_are_logged_to_the_store(tmp_path: object) -> None:
    from catalyst import Store
    from catalyst.llm import ModelCallLog

    with Store(tmp_path / "log.duckdb") as store:  # type: ignore[operator]
        log = ModelCallLog(store)
        with ScriptedServer([Reply.rate_limited(0.01), "ok"]) as srv, _llm(srv) as llm:
            llm.listeners.append(log)
            llm.chat(MSG, key="rec-1")
        assert log.flush() == 2
        rows = store.query("SELECT status, http_status, attempt, key, model, completion_tokens, error "
                           "FROM model_calls ORDER BY attempt")
    assert [(r["status"], r["http_status"], r["attempt"], r["key"]) for r in rows] == [
        ("error", 429, 1, "rec-1"), ("ok", 200, 2, "rec-1")]
    assert rows[0]["error"].startswith("HTTP 429") and rows[1]["completion_tokens"] == 1


@pytest.mark.parametrize(("status", "retried"), [(408, True), (409, True), (429, True), (500, True), (502, True),
                                                 (529, True), (501, False), (505, False), (400, False), (422, False)])
def test_one_retry_rule_by_status(status: int, retried: bool) -> None:
    from catalyst.llm import retryable_status

    assert retryable_status(status) is retried
    with ScriptedServer([Reply.server_error(status), "ok"]) as srv, _llm(srv, max_retries=1) as llm:
        if retried:
            assert llm.chat(MSG).choices[0].message.content == "ok"
        else:
            with pytest.raises(ModelCallError, match=f"HTTP {status}"):
                llm.chat(MSG)
        assert len(srv.requests) == (2 if retried else 1)
