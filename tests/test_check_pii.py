"""pii: presidio full and pattern-only modes, checksums, benign look-alikes, block vs redact."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.pii import Pii, iban_ok, luhn_ok


def ctx(output: str, **kw: object) -> CheckContext:
    return CheckContext(record=Interaction(output=output, **kw))


MEDICAL_NOTE = (
    "Follow-up visit: Margaret Okafor (DOB 14/02/1961) reports the dizziness has eased since the dose change. "
    "Her daughter can be reached at 415-555-0173 or m.okafor.family@gmail.com if labs come back abnormal."
)
SUPPORT_REPLY = (
    "Thanks for contacting Acme support! Order #4471-2290-118 shipped yesterday via UPS and should arrive "
    "by Thursday. You can track it in this individual account under Orders. We run version 2.10.3.1 of the app."
)


@pytest.mark.parametrize("mode", ["full", "patterns"])
def test_medical_note_is_blocked_with_spans(mode: str) -> None:
    r = Pii(mode=mode).run(ctx(MEDICAL_NOTE))
    assert not r.passed and r.score < 0.5
    found = {MEDICAL_NOTE[e.start:e.end] for e in r.evidence}
    assert "m.okafor.family@gmail.com" in found
    assert "415-555-0173" in found
    for e in r.evidence:  # evidence keeps the span and a masked form, never the value
        value = MEDICAL_NOTE[e.start:e.end]
        assert e.text is not None and len(e.text) == len(value) and e.text != value
        assert value not in e.reason and value not in e.text
    if mode == "full":
        assert "Margaret Okafor" in found
        assert "PERSON" in r.details["found"]
    else:
        assert "PERSON" not in r.details["found"]  # no NER without the model


@pytest.mark.parametrize("mode", ["full", "patterns"])
def test_support_reply_with_lookalikes_passes(mode: str) -> None:
    r = Pii(mode=mode).run(ctx(SUPPORT_REPLY))
    assert r.passed, [e.reason for e in r.evidence]
    assert r.score == 1.0


@pytest.mark.parametrize("text", [
    "Please confirm that this individual account belongs to the applicant before we proceed.",
    "ISBN 978-0-306-40615-7 is the second edition; see page 214.",
    "Microsoft and Alphabet both reported higher cloud revenue this quarter.",
    "Upgrade the firmware to v4.12.0.7 and reboot the router.",
])
def test_benign_text_passes_in_full_mode(text: str) -> None:
    r = Pii().run(ctx(text))
    assert r.passed, [e.reason for e in r.evidence]


def test_checksums_cut_false_positives() -> None:
    assert luhn_ok("4539 1488 0343 6467") and not luhn_ok("4539 1488 0343 6468")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    text = "Card on file: 4539 1488 0343 6467. The test number 4539 1488 0343 6468 was rejected."
    r = Pii(mode="patterns").run(ctx(text))
    cards = [text[e.start:e.end] for e in r.evidence if "CREDIT_CARD" in e.reason]
    assert cards == ["4539 1488 0343 6467"]
    assert [e.text for e in r.evidence if "CREDIT_CARD" in e.reason] == ["**** **** **** 6467"]


def test_iban_in_payment_instructions() -> None:
    text = "Please wire the deposit to IBAN DE89 3704 0044 0532 0130 00 (Commerzbank) by Friday."
    r = Pii(mode="patterns", entities=["IBAN_CODE"]).run(ctx(text))
    assert not r.passed and text[r.evidence[0].start:r.evidence[0].end] == "DE89 3704 0044 0532 0130 00"
    assert r.evidence[0].text == "**** **** **** **** **30 00"


def test_redact_passes_and_carries_redacted_text() -> None:
    text = "Hi, I'm Daniel Whitaker, my SSN is 536-22-8147 and my email is dan.whitaker@outlook.com."
    r = Pii(action="redact").run(ctx(text))
    assert r.passed
    assert r.replacement is not None and r.replacement.field == "output"
    red = r.replacement.text
    assert "536-22-8147" not in red and "dan.whitaker@outlook.com" not in red and "Whitaker" not in red
    assert "<EMAIL_ADDRESS>" in red and "<US_SSN>" in red
    masked = Pii(action="redact", operator="mask", mode="patterns").run(ctx(text)).replacement.text
    assert "536-22-8147" not in masked and "*" in masked


def test_entities_are_configurable_and_validated() -> None:
    text = "Reach me at +44 20 7946 0958 or lena.berg@protonmail.com"
    r = Pii(mode="patterns", entities=["email_address"]).run(ctx(text))
    assert r.details["found"] == ["EMAIL_ADDRESS"]
    with pytest.raises(ValidationError, match="unknown PII entity type 'SOCIAL'"):
        Pii(entities=["SOCIAL"])
    with pytest.raises(ValidationError, match="need the spaCy model"):
        Pii(mode="patterns", entities=["PERSON"])


def test_allow_list_and_input_field() -> None:
    text = "Write to support@acme.com for help."
    assert Pii(mode="patterns", allow_list=["support@acme.com"]).run(ctx(text)).passed
    r = Pii(mode="patterns", field="input").run(ctx("ok", input="my number is 212-555-0199, call me"))
    assert not r.passed and r.evidence[0].field == "input"


def test_batch_matches_single_and_odd_text() -> None:
    texts = [MEDICAL_NOTE, SUPPORT_REPLY, "", "Grüße aus München 😀 — 北京欢迎你", "x" * 10]
    check = Pii()
    batch = check.run_batch([ctx(t) for t in texts])
    single = [check.run(ctx(t)) for t in texts]
    assert [b.score for b in batch] == [s.score for s in single]  # type: ignore[union-attr]


def test_huge_answer_is_bounded_and_says_so() -> None:
    text = ("The quarterly report is attached. " * 40_000) + "Call 415-555-0173."
    r = Pii(mode="patterns", max_chars=50_000).run(ctx(text))
    assert not r.passed
    assert any("not scanned" in e.reason for e in r.evidence)
    assert r.score == pytest.approx(50_000 / len(text))


def test_labelled_set_quality_in_pattern_mode() -> None:
    """The labelled set (tests/data/pii_labelled.jsonl) guards against regressions in the cheap mode."""
    import json
    from pathlib import Path

    rows = [json.loads(x) for x in (Path(__file__).parent / "data" / "pii_labelled.jsonl").read_text().splitlines()]
    assert len(rows) >= 200 and sum(1 for r in rows if not r["entities"]) >= 80
    check = Pii(mode="patterns")
    results = check.run_batch([ctx(r["text"]) for r in rows])
    benign_flagged = [r["text"] for r, res in zip(rows, results, strict=True)
                      if not r["entities"] and not res.passed]  # type: ignore[union-attr]
    assert len(benign_flagged) <= 2, benign_flagged
    labels = [(r, e) for r in rows for e in r["entities"] if e["type"] != "PERSON"]
    found = sum(
        any(ev.start < e["end"] and e["start"] < ev.end for ev in res.evidence)  # type: ignore[union-attr]
        for r, e in labels for res in [results[rows.index(r)]]
    )
    assert found / len(labels) >= 0.9


def test_full_mode_reads_names_in_the_head_and_patterns_past_it() -> None:
    filler = "The quarterly numbers are in the shared folder. " * 60
    text = "Escalated by Margaret Okafor. " + filler + "Reply to m.okafor.family@gmail.com. Thanks, Daniel Whitaker."
    r = Pii(ner_max_chars=500).run(ctx(text))
    found = {text[e.start:e.end] for e in r.evidence}
    assert "Margaret Okafor" in found and "m.okafor.family@gmail.com" in found
    assert "Daniel Whitaker" not in found  # past ner_max_chars: patterns only, by design
