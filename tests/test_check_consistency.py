"""The `consistency` check with the real embedder: record samples (no call) and samples from the scripted server."""

from __future__ import annotations

import numpy as np
import pytest

from catalyst import Interaction
from catalyst.checks import CheckContext
from catalyst.llm import LLM
from catalyst.policy import loads_policy
from catalyst.testing import Reply, ScriptedServer
from catalyst.validator import Validator
from catalyst_checks.consistency import Consistency, cluster, compatible, numbers, semantic_entropy

Q = "When was the Eiffel Tower completed?"
GOOD = "The Eiffel Tower was completed in 1889."
AGREE = ["It was completed in 1889.", "The Eiffel Tower was finished in 1889.",
         "Construction of the Eiffel Tower ended in 1889.", "The tower was completed in 1889 for the World's Fair.",
         "In 1889."]


def _ctx(output: str, srv: ScriptedServer | None = None, **rec: object) -> CheckContext:
    services = {"llm": LLM(base_url=srv.url, model="m", backoff_initial=0.01, backoff_max=0.02)} if srv else {}
    return CheckContext(Interaction.model_validate({"input": Q, "output": output, **rec}), services)


def test_entropy_and_clustering_units() -> None:
    assert semantic_entropy([0, 0, 0, 0]) == (0.0, 0.0)
    h, hn = semantic_entropy([0, 1, 2, 3])
    assert hn == pytest.approx(1.0) and h == pytest.approx(np.log(4))
    sims = np.array([[1, .9, .1], [.9, 1, .2], [.1, .2, 1]])
    assert cluster(sims, 0.5) == [0, 0, 1]
    assert cluster(sims, 0.5, [frozenset({"1889"}), frozenset({"1925"}), frozenset()]) == [0, 1, 2]
    assert numbers("built 1,889 m in 1889") == {"1889"}
    assert compatible(frozenset(), frozenset({"1"})) and not compatible(frozenset({"1"}), frozenset({"2"}))


async def test_record_samples_that_agree_score_high_without_a_call() -> None:
    res = await Consistency().run(_ctx(GOOD, samples=AGREE))
    assert res.passed and res.score >= 0.75  # "In 1889." is too short for MiniLM to match (cosine < 0.55)
    assert res.details["samples_from"] == "record" and res.details["agreement"] >= 0.8
    assert res.details["semantic_entropy_norm"] < 0.5
    assert res.evidence == []


async def test_a_confabulated_date_disagrees_with_the_samples() -> None:
    bad = "The Eiffel Tower was completed in 1925."
    good = await Consistency().run(_ctx(GOOD, samples=AGREE))
    res = await Consistency().run(_ctx(bad, samples=AGREE))
    assert not res.passed and res.score < good.score
    assert res.details["agreement"] == 0.0
    assert res.evidence and res.evidence[0].text == bad


async def test_selfcheck_points_at_the_inconsistent_sentence() -> None:
    out = f"{GOOD} It was designed by Leonardo da Vinci."
    samples = [f"{s} It was designed by Gustave Eiffel's company." for s in AGREE]
    res = await Consistency().run(_ctx(out, samples=samples))
    sents = res.details["sentences"]
    assert sents[0]["consistency"] > sents[1]["consistency"]
    assert [e.text for e in res.evidence] == ["It was designed by Leonardo da Vinci."]


async def test_samples_from_the_model_with_n() -> None:
    with ScriptedServer(Reply(text=AGREE)) as srv:
        ctx = _ctx(GOOD, srv)
        res = await Consistency(num_samples=5, temperature=0.9).run(ctx)
        ctx.services["llm"].close()
        reqs = srv.requests
    assert len(reqs) == 1 and reqs[0].json["n"] == 5 and reqs[0].json["temperature"] == 0.9
    assert reqs[0].last_user_message == Q
    assert res.details["samples_from"] == "model" and res.details["samples"] == AGREE
    assert res.passed


async def test_endpoint_that_ignores_n_is_topped_up_one_call_at_a_time() -> None:
    one = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": "It was completed in 1889."}}]}'
    with ScriptedServer(Reply.raw(one)) as srv:
        ctx = _ctx(GOOD, srv)
        res = await Consistency(num_samples=4).run(ctx)
        ctx.services["llm"].close()
        assert [r.json["n"] for r in srv.requests] == [4, 3, 2, 1]
    assert res.details["n_samples"] == 4


async def test_completions_endpoint_for_base_models() -> None:
    with ScriptedServer(Reply(text=AGREE)) as srv:
        ctx = _ctx(GOOD, srv)
        await Consistency(endpoint="completions", prompt_template="Q: {input}\nA:").run(ctx)
        ctx.services["llm"].close()
        assert srv.requests[0].path == "/v1/completions"
        assert srv.requests[0].prompt == f"Q: {Q}\nA:"


async def test_no_input_and_no_samples_is_a_clear_error() -> None:
    with ScriptedServer() as srv:
        ctx = CheckContext(Interaction(output=GOOD), {"llm": LLM(base_url=srv.url, model="m")})
        with pytest.raises(Exception, match="needs the record's `input`"):
            await Consistency().run(ctx)
        ctx.services["llm"].close()


def test_budget_exceeded_fails_closed_to_review() -> None:
    one = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": "1889."}}]}'
    policy = loads_policy("name: c\nchecks:\n  - consistency: {num_samples: 5}\n"
                          "thresholds: {accept: 0.5, block: 0.0}\n")
    with ScriptedServer(Reply.raw(one)) as srv, LLM(base_url=srv.url, model="m", budget_calls=2) as llm:
        v = Validator(policy, services={"llm": llm}).validate({"input": Q, "output": GOOD})
        assert len(srv.requests) == 2
    assert v.decision == "review"
    assert "ModelBudgetExceeded" in (v.checks[0].error or "") and "budget_calls=2" in (v.checks[0].error or "")
