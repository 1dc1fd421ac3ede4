"""toxicity: alt-profanity-check per sentence, threshold, batch path, odd input."""

from __future__ import annotations

import pytest

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.toxicity import Toxicity, predict_prob


def ctx(output: str, **kw: object) -> CheckContext:
    return CheckContext(record=Interaction(output=output, **kw))


ANGRY_REPLY = (
    "Thanks for waiting while I looked into your ticket. Your replacement router shipped this morning. "
    "Honestly, if you weren't such a fucking idiot you'd have read the manual. "
    "Tracking details are in your inbox."
)
POLITE_REPLY = (
    "I'm sorry the update broke your dashboard. I've rolled your workspace back to version 4.2 and credited "
    "one month to your account. If the charts still look wrong, reply here and we'll get an engineer on it."
)


def test_abusive_sentence_is_the_evidence() -> None:
    r = Toxicity().run(ctx(ANGRY_REPLY))
    assert not r.passed and r.score < 0.2
    assert len(r.evidence) == 1
    span = ANGRY_REPLY[r.evidence[0].start:r.evidence[0].end]
    assert span.startswith("Honestly") and "idiot" in span
    assert r.details["sentences"] == 4


def test_polite_support_reply_passes() -> None:
    r = Toxicity().run(ctx(POLITE_REPLY))
    assert r.passed and r.score > 0.8 and not r.evidence


def test_threshold_is_configurable() -> None:
    text = "This update is crap, frankly."
    p = predict_prob([text])[0]
    assert 0.0 < p < 1.0
    lenient = Toxicity(threshold=max(0.0, 1 - p - 0.05)).run(ctx(text))
    strict = Toxicity(threshold=min(1.0, 1 - p + 0.05)).run(ctx(text))
    assert lenient.passed and not strict.passed


def test_batch_equals_single_and_non_english() -> None:
    texts = [ANGRY_REPLY, POLITE_REPLY, "", "Merci beaucoup 😀 とても助かりました", "🔥🔥🔥"]
    t = Toxicity()
    batch = t.run_batch([ctx(x) for x in texts])
    single = [t.run(ctx(x)) for x in texts]
    assert [b.score for b in batch] == pytest.approx([s.score for s in single])  # type: ignore[union-attr]
    assert batch[2].passed and batch[2].score == 1.0  # type: ignore[union-attr]


def test_scans_input_and_bounds_long_answers() -> None:
    r = Toxicity(field="input").run(ctx("fine", input="Listen you worthless piece of shit, fix my order."))
    assert not r.passed and r.evidence[0].field == "input"
    long = "The shipment is on its way. " * 2000
    r = Toxicity(max_sentences=100).run(ctx(long))
    assert not r.passed and any("not scanned" in e.reason for e in r.evidence)
    assert r.details["sentences"] == 100
