"""topic: banned and required topics by per-sentence embedding similarity."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.topic import Topic, banned_score, required_score

BANNED = {
    "medical advice": ["you should take this medication", "the recommended dose is",
                       "this drug will treat your condition",
                       "stop taking your prescription"],
    "investment advice": ["you should buy this stock", "invest your savings in", "this crypto will go up",
                          "put your retirement money into"],
}


def ctx(output: str) -> CheckContext:
    return CheckContext(record=Interaction(output=output))


def test_banned_topic_names_topic_and_sentence() -> None:
    out = ("Your order #5512 ships Tuesday. For the rash, take 400 mg of ibuprofen twice a day and it should "
           "clear up. Anything else I can help with?")
    r = Topic(topics=BANNED).run(ctx(out))
    assert not r.passed and r.score < 0.5
    (ev,) = r.evidence
    assert "medical advice" in ev.reason
    assert out[ev.start:ev.end].startswith("For the rash")


def test_investment_tip_in_a_banking_chat() -> None:
    out = "Your transfer went through. Honestly, I'd move your 401k into Bitcoin now, it's going to double by summer."
    r = Topic(topics=BANNED).run(ctx(out))
    assert not r.passed and any("investment advice" in e.reason for e in r.evidence)


@pytest.mark.parametrize("out", [
    "Your refund has been processed and should appear on your statement within 5 business days.",
    "The pharmacy counter is open from 9 am to 6 pm on weekdays.",
    "Das Paket wird morgen geliefert 😀",
    "",
])
def test_on_topic_answers_pass(out: str) -> None:
    r = Topic(topics=BANNED).run(ctx(out))
    assert r.passed and r.score >= 0.5


def test_required_topic_mode() -> None:
    topics = [{"name": "refund timeline", "examples": ["the refund will arrive within 5 business days",
                                                       "you will get your money back by"]}]
    good = "We've approved your return. The refund will reach your card in three to five business days."
    bad = "We've approved your return. Thanks for shopping with us!"
    assert Topic(topics=topics, mode="required").run(ctx(good)).passed
    r = Topic(topics=topics, mode="required").run(ctx(bad))
    assert not r.passed and "refund timeline" in r.evidence[0].reason and "not addressed" in r.evidence[0].reason


def test_batch_same_as_single_and_per_topic_threshold() -> None:
    outs = ["Take two aspirin and skip your blood thinner tonight.", "Your invoice is attached.", "Buy NVDA now."]
    t = Topic(topics=BANNED)
    assert [b.score for b in t.run_batch([ctx(o) for o in outs])] == pytest.approx(  # type: ignore[union-attr]
        [t.run(ctx(o)).score for o in outs], abs=1e-5)
    strict = Topic(topics=[{"name": "medical advice", "examples": BANNED["medical advice"], "threshold": 0.99}])
    assert strict.run(ctx(outs[0])).passed


def test_score_mapping_and_config_errors() -> None:
    assert banned_score(0.4, 0.4) == pytest.approx(0.5) and banned_score(0.0, 0.4) == 1.0
    assert banned_score(1.0, 0.4) == 0.0 and required_score(0.4, 0.4) == pytest.approx(0.5)
    with pytest.raises(ValidationError):
        Topic(topics=[])
    with pytest.raises(ValidationError, match="must not be blank"):
        Topic(topics={"x": ["  "]})


def test_long_answer_is_bounded() -> None:
    out = "The store opens at nine. " * 500
    r = Topic(topics=BANNED, max_sentences=50).run(ctx(out))
    assert not r.passed and any("not scanned" in e.reason for e in r.evidence)
