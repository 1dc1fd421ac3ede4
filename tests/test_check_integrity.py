"""input_integrity: empty fields, garbage, length outliers and metadata drift against a reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.integrity import InputIntegrity, LengthStats, Reference, reference_from_records

QUESTIONS = [
    "How do I reset my router to factory settings?",
    "My invoice for March shows a double charge, can you check?",
    "Is the X2 compatible with WPA3 enterprise networks?",
    "Can I change the billing date on my subscription?",
    "Where can I download the firmware for the X9 mesh system?",
    "Why does my connection drop every evening around 8 pm?",
]


def ctx(**kw: object) -> CheckContext:
    kw.setdefault("output", "Sure, here is how to do that.")
    return CheckContext(record=Interaction(**kw))  # type: ignore[arg-type]


@pytest.fixture
def ref_file(tmp_path: Path) -> Path:
    p = tmp_path / "ref.jsonl"
    with p.open("w") as f:
        for i in range(60):
            q = QUESTIONS[i % len(QUESTIONS)]
            out = "Sure, here is how to do that. " + "Follow the steps in the manual. " * (i % 5)
            f.write(json.dumps({"input": q, "output": out,
                                "metadata": {"model": "m-1", "channel": "web", "segment": {"region": "EU"}}}) + "\n")
    return p


def test_clean_record_passes(ref_file: Path) -> None:
    c = ctx(input="How do I update the firmware on my X2 router?",
            metadata={"model": "m-2", "channel": "app", "segment": {"region": "US"}})
    r = InputIntegrity(reference_path=str(ref_file)).run(c)
    assert r.passed and r.score == 1.0, [e.reason for e in r.evidence]


def test_empty_and_null_fields() -> None:
    r = InputIntegrity().run(ctx(input="   ", metadata={"user_id": None}, context=["ok passage", ""]))
    reasons = [e.reason for e in r.evidence]
    assert not r.passed and r.score == 0.0
    assert "input is blank" in reasons and "context[1] is empty" in reasons and "metadata.user_id is null" in reasons
    assert not InputIntegrity().run(ctx(input=None)).passed
    assert InputIntegrity(required=["output"]).run(ctx(input=None)).passed


def test_garbage_text() -> None:
    r = InputIntegrity().run(ctx(input="Hello\x00\x07 world, my order is late"))
    assert not r.passed and "control character" in r.evidence[0].reason
    r = InputIntegrity().run(ctx(input="Bestellung f\ufffdr M\ufffdnchen ist versp\ufffdtet"))
    assert "replacement" in r.evidence[0].reason
    blob = "12.5, 13.7, 99.1, 100.2, -4.5, 33.3, 12.0, 15.5, 16.6, 17.7, 18.8 ;; 0000 //// ==== 1111"
    assert not InputIntegrity().run(ctx(input=blob)).passed
    for ok in ["日本語の質問です。ルーターをリセットするにはどうすればいいですか？",
               "Can you fix this? 😀😀😀 thanks!!",
               "def f(x):\n    return x * 2  # why does this fail?"]:
        assert InputIntegrity().run(ctx(input=ok)).passed, ok


def test_length_outlier_and_drift(ref_file: Path) -> None:
    check = InputIntegrity(reference_path=str(ref_file))
    r = check.run(ctx(input="help " * 3000, metadata={"model": "m-1", "channel": "web", "segment": {"region": "EU"}}))
    assert not r.passed and "typical is" in r.evidence[0].reason
    r = check.run(ctx(input=QUESTIONS[0], metadata={"model": "m-1", "segment": {"region": "EU"}, "temperature": 0.7}))
    reasons = " ".join(e.reason for e in r.evidence)
    assert "metadata.temperature is new" in reasons and "metadata.channel is missing" in reasons
    assert r.details["problems"] == ["drift"]


def test_inline_reference_and_config_errors(tmp_path: Path) -> None:
    ref = Reference(input_chars=LengthStats(median=3.9, mad=0.3))
    assert not InputIntegrity(reference=ref).run(ctx(input="x" * 5000)).passed
    stats = reference_from_records([{"input": q, "output": "a"} for q in QUESTIONS])
    assert stats.records == 6 and stats.input_chars is not None
    with pytest.raises(ValidationError, match="not a file"):
        InputIntegrity(reference_path=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValidationError, match="unknown field"):
        InputIntegrity(required=["inptu"])
    with pytest.raises(ValidationError, match="not both"):
        (tmp_path / "r.jsonl").write_text("{}\n")
        InputIntegrity(reference=ref, reference_path=str(tmp_path / "r.jsonl"))
