"""The `logprob` check: from record logprobs (no call), and from a real model call to the scripted server."""

from __future__ import annotations

import math

import pytest

from catalyst import Interaction
from catalyst.checks import CheckContext
from catalyst.errors import ModelCallError
from catalyst.llm import LLM
from catalyst.policy import loads_policy
from catalyst.testing import Reply, ScriptedServer
from catalyst.validator import Validator
from catalyst_checks.logprob import LogprobConfidence

ANSWER = "The tower was finished in 1887. It is in Paris."


def _ctx(srv: ScriptedServer | None = None, **rec: object) -> CheckContext:
    services = {"llm": LLM(base_url=srv.url, model="m", backoff_initial=0.01, backoff_max=0.02)} if srv else {}
    return CheckContext(Interaction.model_validate({"output": ANSWER, "input": "When was it finished?", **rec}),
                        services)


async def test_record_logprobs_need_no_call() -> None:
    lps = [-0.01, -0.05, -2.5]
    res = await LogprobConfidence().run(_ctx(logprobs=lps))
    probs = [math.exp(x) for x in lps]
    assert res.score == pytest.approx(sum(probs) / 3)
    assert res.details["min_prob"] == pytest.approx(min(probs), abs=1e-4)
    assert res.details["source"] == "record"
    assert res.details["low_tokens"][0]["prob"] == pytest.approx(math.exp(-2.5), abs=1e-4)
    res_min = await LogprobConfidence(aggregate="min").run(_ctx(logprobs=lps))
    assert res_min.score == pytest.approx(math.exp(-2.5)) and not res_min.passed


async def test_record_tokens_give_evidence_spans() -> None:
    toks = ["The tower", " was finished in", " 1887", ".", " It is in Paris", "."]
    res = await LogprobConfidence().run(_ctx(logprobs=[-0.01, -0.02, -4.0, -0.01, -0.02, -0.01],
                                             metadata={"logprob_tokens": toks}))
    assert [(e.text, e.start) for e in res.evidence] == [(" 1887", ANSWER.index(" 1887"))]


async def test_bad_record_logprobs_raise() -> None:
    with pytest.raises(ValueError, match="<= 0"):
        await LogprobConfidence().run(_ctx(logprobs=[0.5]))
    with pytest.raises(ValueError, match="no `logprobs`"):
        await LogprobConfidence(source="record").run(_ctx())


async def test_score_mode_teacher_forces_the_answer_and_finds_the_weak_claim() -> None:
    def lp(token: str) -> float:
        return -3.0 if "1887" in token else -0.02

    with ScriptedServer(Reply(text="", logprobs=lp)) as srv:
        ctx = _ctx(srv)
        res = await LogprobConfidence(over="claims", threshold=0.9).run(ctx)
        req = srv.requests[0]
        ctx.services["llm"].close()
    assert req.path == "/v1/completions" and req.json["echo"] is True and req.json["max_tokens"] == 1
    assert req.prompt == "When was it finished?\n" + ANSWER
    # only the answer's tokens are scored, not the question's
    assert res.details["tokens"] == len([t for t in ANSWER.replace(".", " .").split()])
    first, second = res.details["claims"]
    assert first["score"] < 0.9 < second["score"]
    assert res.score == pytest.approx(first["score"], abs=1e-3) and not res.passed
    spans = {ANSWER[e.start:e.end] for e in res.evidence}
    assert "The tower was finished in 1887." in spans and " 1887" in spans


async def test_generate_mode_scores_a_fresh_answer() -> None:
    with ScriptedServer(Reply(text="Paris, in 1889.", logprobs=-0.05)) as srv:
        ctx = _ctx(srv)
        res = await LogprobConfidence(mode="generate").run(ctx)
        ctx.services["llm"].close()
        assert srv.requests[0].json["logprobs"] is True
    assert res.score == pytest.approx(math.exp(-0.05))
    assert res.details["generated"] == "Paris, in 1889." and res.evidence == []


async def test_endpoint_without_logprobs_fails_closed() -> None:
    with ScriptedServer(Reply.raw('{"choices": [{"index": 0, "text": "x", "logprobs": null}]}')) as srv:
        ctx = _ctx(srv)
        with pytest.raises(ModelCallError, match="no echoed token logprobs"):
            await LogprobConfidence().run(ctx)
        ctx.services["llm"].close()


def test_unreachable_model_sends_the_answer_to_review() -> None:
    policy = loads_policy("""
name: lp
checks:
  - logprob: {source: model}
thresholds: {accept: 0.5, block: 0.0}
""")
    with ScriptedServer(Reply.server_error(503)) as srv, \
            LLM(base_url=srv.url, model="m", max_retries=1, backoff_initial=0.01, backoff_max=0.02) as llm:
        v = Validator(policy, services={"llm": llm}).validate({"input": "q", "output": ANSWER})
        assert len(srv.requests) == 2
    assert v.decision == "review"
    err = v.checks[0].error or ""
    assert "ModelCallError" in err and "HTTP 503" in err and "2 attempts" in err
