"""The grounding check on real-looking RAG answers: supported, numbers changed, entity swapped, invented claim."""

from __future__ import annotations

import random

import numpy as np
import pytest

from catalyst import registry
from catalyst.checks import CheckContext
from catalyst.embeddings import get_embedder
from catalyst.errors import PolicyError
from catalyst.policy import loads_policy
from catalyst.records import CheckResult, Interaction
from catalyst_checks.grounding import Grounding
from catalyst_checks.grounding.features import EMB_FEATURES, LEX_FEATURES
from catalyst_checks.grounding.head import load_heads

CONTEXT = [
    "The James Webb Space Telescope (JWST) launched on 25 December 2021 on an Ariane 5 rocket from Kourou, "
    "French Guiana. It is a joint project of NASA, the European Space Agency and the Canadian Space Agency.",
    "Webb's primary mirror is 6.5 metres across and is made of 18 hexagonal segments coated with gold. The "
    "telescope orbits the Sun near the second Lagrange point, about 1.5 million kilometres from Earth.",
    "The telescope observes mainly in the infrared, from 0.6 to 28.5 micrometres. Its sunshield, about the "
    "size of a tennis court, keeps the instruments below 50 kelvin.",
    "The Hubble Space Telescope was carried into orbit by the Space Shuttle Discovery in April 1990 and "
    "observes mostly in visible and ultraviolet light.",
]
QUESTION = "When did the Webb telescope launch, and what is its mirror like?"
SUPPORTED = ("The James Webb Space Telescope launched on 25 December 2021 on an Ariane 5 rocket from Kourou, "
             "French Guiana. Its primary mirror is 6.5 metres across and is made of 18 gold-coated hexagonal "
             "segments.")
NUMBER_CHANGED = ("The James Webb Space Telescope launched on 25 December 2021 on an Ariane 5 rocket from Kourou, "
                  "French Guiana. Its primary mirror is 8.2 metres across and is made of 36 gold-coated hexagonal "
                  "segments.")
ENTITY_SWAPPED = ("The James Webb Space Telescope launched on 25 December 2021 on a Falcon Heavy rocket from "
                  "Cape Canaveral, Florida. Its primary mirror is 6.5 metres across and is made of 18 gold-coated "
                  "hexagonal segments.")
INVENTED = SUPPORTED + (" The telescope also carries a laser communication terminal that beams images to "
                        "ground stations in Chile every night.")


def run(check: Grounding, output: str, context: list[str] | None = None, question: str = QUESTION) -> CheckResult:
    return check.run(CheckContext(Interaction(input=question, output=output,
                                              context=CONTEXT if context is None else context)))


def flagged(r: CheckResult) -> list[str]:
    return [e.text or "" for e in r.evidence if e.field == "output"]


@pytest.fixture(params=["lexical", "full"])
def check(request: pytest.FixtureRequest) -> Grounding:
    return Grounding(mode=request.param)


def test_supported_answer_passes_with_its_evidence(check: Grounding) -> None:
    r = run(check, SUPPORTED)
    assert r.passed and r.score is not None and r.score >= check.threshold, r
    assert flagged(r) == []
    support = [e for e in r.evidence if e.field == "context"]
    mirror = next(e for e in support if "claim 2" in e.reason)
    assert mirror.passage == 1
    assert "6.5 metres" in CONTEXT[1][mirror.start:mirror.end]
    launch = next(e for e in support if "claim 1" in e.reason)
    assert launch.passage == 0 and "25 December 2021" in CONTEXT[0][launch.start:launch.end]


def test_changed_numbers_are_caught_and_named(check: Grounding) -> None:
    r = run(check, NUMBER_CHANGED)
    assert not r.passed, r
    (span,) = [e for e in r.evidence if e.field == "output"]
    assert NUMBER_CHANGED[span.start:span.end].startswith("Its primary mirror is 8.2 metres")
    assert "8.2" in span.reason and "36" in span.reason
    assert r.score is not None and r.score < run(check, SUPPORTED).score  # type: ignore[operator]


def test_swapped_entities_are_caught(check: Grounding) -> None:
    r = run(check, ENTITY_SWAPPED)
    assert not r.passed, r
    (span,) = [e for e in r.evidence if e.field == "output"]
    text = ENTITY_SWAPPED[span.start:span.end]
    assert "Falcon Heavy" in text and "mirror" not in text
    assert "Canaveral" in span.reason


def test_an_invented_claim_is_flagged_alone(check: Grounding) -> None:
    r = run(check, INVENTED)
    assert not r.passed, r
    (span,) = [e for e in r.evidence if e.field == "output"]
    assert INVENTED[span.start:span.end].startswith("The telescope also carries a laser communication terminal")
    assert r.details["claims"] == 3 and r.details["unsupported"] == 1


def test_empty_context_cannot_be_grounded() -> None:
    # no context is no evidence either way: no score (the verdict then says `evidence: none`), never 0 or 1
    r = run(Grounding(), SUPPORTED, context=[])
    assert not r.passed and r.score is None and "no context" in r.evidence[0].reason
    r = run(Grounding(), SUPPORTED, context=["", "   "])
    assert not r.passed and r.score is None
    for ctx in ([], ["", "  \n "]):  # on_empty: pass (the default policy) is "no evidence", never a silent 1.0
        r = run(Grounding(on_empty="pass"), SUPPORTED, context=ctx)
        assert r.passed and r.score is None and "no context" in r.details["unscored"]


@pytest.mark.parametrize("answer", ["…  🙂", "I don't know.", "The passage does not say.", "Sorry, I cannot answer "
                                    "that.", "Yes.", "N/A"])
def test_refusals_and_empty_answers_are_no_evidence(answer: str) -> None:
    r = run(Grounding(), answer)
    assert r.score is None and r.passed and r.details["unscored"]


def test_an_answer_in_another_language_than_the_context_is_no_evidence() -> None:
    for answer in ("El telescopio James Webb se lanzó el 25 de diciembre de 2021 en un cohete Ariane 5 desde Kourou.",
                   "詹姆斯·韦伯太空望远镜于2021年12月25日发射。"):
        r = run(Grounding(), answer)
        assert r.score is None and "language" in r.details["unscored"]
    assert run(Grounding(), SUPPORTED).score is not None


def test_two_hundred_passages_still_find_the_support() -> None:
    rng = random.Random(3)
    filler = [f"Station {i} logged {rng.randint(10, 999)} arrivals on platform {rng.randint(1, 9)} last week."
              for i in range(196)]
    r = run(Grounding(), SUPPORTED, context=filler[:100] + CONTEXT + filler[100:])
    assert r.passed and r.score is not None
    assert not run(Grounding(), NUMBER_CHANGED, context=filler[:100] + CONTEXT + filler[100:]).passed


def test_huge_context_is_bounded_and_still_finds_the_evidence() -> None:
    rng = random.Random(7)
    topics = ["harbour", "railway", "orchard", "bakery", "library", "glacier", "brewery", "vineyard", "museum"]
    filler = [f"The {rng.choice(topics)} of district {i} reported {rng.randint(10, 999)} visitors in week "
              f"{rng.randint(1, 52)}, according to the municipal office." for i in range(3000)]
    context = filler[:1500] + CONTEXT + filler[1500:]
    emb = get_embedder("auto")
    emb.clear_cache()
    check = Grounding(mode="full", top_k=8)
    r = run(check, SUPPORTED, context=context)
    assert r.passed, r
    # embedded: the claims plus at most top_k candidate sentences each, never the 3000 passages
    assert emb.misses <= 2 + 2 * check.top_k
    mirror = next(e for e in r.evidence if e.field == "context" and "claim 2" in e.reason)
    assert mirror.passage == 1500 + 1


def test_non_english_and_emoji_do_not_crash(check: Grounding) -> None:
    ctx = ["Der Eiffelturm wurde zwischen 1887 und 1889 gebaut und ist 330 Meter hoch. Er steht auf dem "
           "Marsfeld in Paris.", "東京タワーは1958年に完成しました。高さは333メートルです。"]
    ok = run(check, "Der Eiffelturm wurde zwischen 1887 und 1889 gebaut und ist 330 Meter hoch.", ctx, "Wie hoch?")
    bad = run(check, "Der Eiffelturm wurde 1925 von Napoleon in Lyon gebaut 🗼🚀 und ist 512 Meter hoch.", ctx, "?")
    jp = run(check, "東京タワーは1958年に完成しました。", ctx, "いつ？")
    for r in (ok, bad, jp):
        assert r.score is not None and 0.0 <= r.score <= 1.0
    assert ok.passed and not bad.passed and ok.score > bad.score  # type: ignore[operator]


def test_a_megabyte_answer_is_bounded() -> None:
    check = Grounding(max_claims=64)
    answer = (SUPPORTED + " ") * 3500  # ~1 MB
    r = run(check, answer)
    assert r.details["claims"] <= 64
    assert r.passed


def test_batch_equals_single(check: Grounding) -> None:
    outputs = [SUPPORTED, NUMBER_CHANGED, ENTITY_SWAPPED, INVENTED, "Webb has a mirror."]
    ctxs = [CheckContext(Interaction(input=QUESTION, output=o, context=CONTEXT)) for o in outputs]
    get_embedder("auto").clear_cache()
    batch = check.run_batch(ctxs)
    single = [check.run(c) for c in ctxs]
    for b, s in zip(batch, single, strict=True):
        assert isinstance(b, CheckResult) and isinstance(s, CheckResult)
        assert b.score == pytest.approx(s.score, abs=1e-6)
        assert [(e.start, e.end, e.field) for e in b.evidence] == [(e.start, e.end, e.field) for e in s.evidence]


KNOWLEDGE = ["Iron Man is starring Robert Downey Jr. Robert Downey Jr. starred in Zodiac. Zodiac is a crime fiction "
             "film directed by David Fincher. Zodiac is starring Jake Gyllenhaal."]
CHAT = [{"role": "user", "content": "Do you like Iron Man?"},
        {"role": "assistant", "content": "Sure do! Robert Downey Jr. is a favourite of mine."},
        {"role": "user", "content": "Did you know he was also in Zodiac? I heard Mark Ruffalo plays a detective."}]


def chat(check: Grounding, reply: str) -> CheckResult:
    return check.run(CheckContext(Interaction(input=CHAT, output=reply, context=KNOWLEDGE)))


@pytest.mark.parametrize("mode", ["lexical", "full"])
def test_dialogue_domain_catches_a_swapped_name_in_a_chat_reply(mode: str) -> None:
    check = Grounding(mode=mode, domain="dialogue")  # type: ignore[arg-type]
    right = chat(check, "I didn't know he was in Zodiac! Jake Gyllenhaal starred in it as well.")
    swapped = chat(check, "Yes, he starred in Zodiac with Tom Hanks.")
    # chat small talk is unsupported by the knowledge, so the right reply is not "grounded" either; the swap is
    # failed outright (a name found nowhere) and ranks below it
    assert not swapped.passed and swapped.score <= 0.2, (right, swapped)  # type: ignore[operator]
    assert right.score > swapped.score  # type: ignore[operator]
    (span,) = [e for e in swapped.evidence if e.field == "output"]
    assert "Tom" in span.reason and "Hanks" in span.reason


def test_names_from_the_conversation_count_as_given() -> None:
    reply = "Yes, Mark Ruffalo plays the detective in Zodiac, next to Jake Gyllenhaal."
    with_input = chat(Grounding(domain="dialogue"), reply)
    without = chat(Grounding(domain="dialogue", use_input=False), reply)
    assert with_input.score > without.score, (with_input, without)  # type: ignore[operator]
    assert not without.passed and "Ruffalo" in next(e.reason for e in without.evidence if e.field == "output")


def test_head_file_loads_and_matches_the_features() -> None:
    heads = load_heads()
    assert set(heads) == {"lexical", "full", "lexical/dialogue", "full/dialogue"}
    for key, base in (("lexical", LEX_FEATURES), ("full", LEX_FEATURES + EMB_FEATURES),
                      ("lexical/dialogue", LEX_FEATURES), ("full/dialogue", LEX_FEATURES + EMB_FEATURES)):
        h = heads[key]
        assert list(h.features) == [f"mean:{n}" for n in base] + [f"max:{n}" for n in base]
        assert np.isfinite(h.coef).all() and (h.scale > 0).all()
        assert not any("len" in f for f in h.features)  # no length feature (HaluEval leak)


def test_registered_and_configurable_from_yaml() -> None:
    assert registry.get("grounding") is Grounding
    policy = loads_policy("name: rag\nchecks:\n  - grounding: {mode: full, threshold: 0.6, on_empty: pass, "
                          "domain: dialogue}\n")
    (step,) = policy.default.cheap
    assert isinstance(step.check, Grounding) and step.check.mode == "full" and step.check.threshold == 0.6
    assert step.check.domain == "dialogue"
    with pytest.raises(PolicyError, match="mode"):
        loads_policy("name: rag\nchecks:\n  - grounding: {mode: fancy}\n")
    with pytest.raises(PolicyError, match="domain"):
        loads_policy("name: rag\nchecks:\n  - grounding: {domain: legal}\n")
