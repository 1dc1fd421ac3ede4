"""What is written is what may be kept: ``catalyst.redaction.log_redactor`` masks every planted value, everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from _planted import PLANTED, answer_text, files_bytes, found_in, planted_policy, planted_record
from _webhook import Receiver

from catalyst import Store, Validator
from catalyst.errors import PolicyError
from catalyst.policy import loads_policy, schema
from catalyst.records import Interaction, Verdict
from catalyst.redaction import log_redactor, mask_spans, masked
from catalyst.review.notify import JsonWebhook, Notifier


def dumped(record: Interaction, verdict: Verdict) -> bytes:
    return (record.model_dump_json() + "\n" + verdict.to_json()).encode()


@pytest.fixture(scope="module")
def validated() -> list[tuple[Interaction, Verdict]]:
    validator = Validator(planted_policy())
    recs = [Interaction(**planted_record(i)) for i in range(3)]
    recs.append(Interaction(**planted_record(3, input=f"my card is {PLANTED['card']}, key {PLANTED['aws_key']}")))
    return [(r, validator.validate(r)) for r in recs]


def test_masks_keep_shape_and_length() -> None:
    assert masked("4111 1111 1111 1111", keep_last=4) == "**** **** **** 1111"
    assert masked("536-22-8147") == "***-**-****"
    text = "card 4111 1111 1111 1111 and key AKIA4HXQ2LMN7RT5WZPQ."
    out = mask_spans(text, [(5, 24, "CREDIT_CARD"), (33, 53, "AWS Access Key")])
    assert out == "card [CREDIT_CARD]****** and key [AWS_ACCESS_KEY]****."
    assert len(out) == len(text)
    assert mask_spans("SSN 536-22-8147", [(4, 15, "US_SSN_NUMBER_LONG_TAG")]) == "SSN ***********"


def test_unredacted_pairs_hold_every_planted_value(validated) -> None:
    """The control: without redaction, the scan finds every kind (so 0 below means something)."""
    blob = b"".join(dumped(r, v) for r, v in validated)
    assert sorted(found_in(blob)) == sorted(PLANTED)


def test_redacted_pairs_hold_no_planted_value(validated) -> None:
    redact = log_redactor(planted_policy())
    for record, verdict in validated:
        r2, v2 = redact(record, verdict)
        assert found_in(dumped(r2, v2)) == [], record.id
        assert v2.decision == verdict.decision and v2.confidence == verdict.confidence
        assert [c.name for c in v2.checks] == [c.name for c in verdict.checks]


def test_the_redactor_is_pure(validated) -> None:
    record, verdict = validated[0]
    before = dumped(record, verdict)
    log_redactor(planted_policy())(record, verdict)
    assert dumped(record, verdict) == before


def test_evidence_spans_still_point_into_the_stored_text(validated) -> None:
    record, verdict = validated[0]
    r2, v2 = log_redactor(planted_policy())(record, verdict)
    assert len(r2.output) == len(record.output)
    secrets = next(c for c in v2.checks if c.name == "secrets")
    assert secrets.evidence
    for e in secrets.evidence:
        if e.field == "output":
            assert r2.output[e.start:e.end].startswith(("[", "*")), r2.output[e.start:e.end]
    assert isinstance(r2.input, list) and r2.input[0]["role"] == "system"  # the structure is kept
    assert r2.metadata["segment"] == {"region": "EU"}  # non-sensitive values are kept as they were
    assert "db.internal:5432/billing" in r2.output


def test_a_blocked_records_delivered_output_is_redacted_too(validated) -> None:
    record, verdict = validated[0]
    assert verdict.decision == "block" and verdict.output is not None  # pii redacted it, secrets blocked it
    assert PLANTED["password"] in verdict.output  # what the issue saw: pii's redaction leaves the password
    _, v2 = log_redactor(planted_policy())(record, verdict)
    assert v2.output is not None and PLANTED["password"] not in v2.output


def test_names_the_ner_model_found_in_the_output_are_masked() -> None:
    """Full mode finds names with spaCy in the scanned field; the redactor masks those spans (patterns cannot)."""
    policy = loads_policy("name: n\nchecks:\n  - pii: {action: redact}\n")
    text = "Escalated by Margaret Okafor, reachable at m.okafor.family@gmail.com."
    record = Interaction(output=text)
    verdict = Validator(policy).validate(record)
    r2, v2 = log_redactor(policy)(record, verdict)
    blob = dumped(r2, v2).decode()
    assert "Margaret Okafor" not in blob and "m.okafor.family@gmail.com" not in blob


def test_log_redact_false_keeps_what_came_in(validated) -> None:
    policy = planted_policy("log: {redact: false}\n")
    record, verdict = validated[0]
    assert log_redactor(policy)(record, verdict) == (record, verdict)


def test_log_detectors_mask_what_the_policy_does_not_check() -> None:
    policy = loads_policy("name: d\nchecks:\n  - non_empty: {}\nlog: {detectors: [secrets, pii]}\n")
    record = Interaction(input=f"my key is {PLANTED['aws_key']}", output=answer_text())
    verdict = Validator(policy).validate(record)
    r2, v2 = log_redactor(policy)(record, verdict)
    assert found_in(dumped(r2, v2)) == []
    with pytest.raises(PolicyError, match=r"log\.detectors"):
        log_redactor(loads_policy("name: d\nchecks:\n  - non_empty: {}\nlog: {detectors: [length]}\n"))


def test_a_policy_without_detectors_is_left_alone() -> None:
    policy = loads_policy("name: plain\nchecks:\n  - non_empty: {}\n")
    record = Interaction(output="card 4111 1111 1111 1111")
    verdict = Validator(policy).validate(record)
    assert log_redactor(policy)(record, verdict) == (record, verdict)


def test_log_is_in_the_exported_schema_and_not_in_the_version() -> None:
    props = schema()["properties"]
    assert "log" in props
    a = planted_policy().version
    b = planted_policy("log: {redact: false}\n").version
    assert a == b  # what is kept changes, the verdicts do not


# -- what reaches bytes: a real DuckDB file (and its WAL), JSONL lines, a webhook ----------------------------
def test_duckdb_file_wal_and_jsonl_hold_no_planted_value(validated, tmp_path) -> None:
    redact = log_redactor(planted_policy())
    pairs = [redact(r, v) for r, v in validated]
    db = tmp_path / "log.duckdb"
    store = Store(db)
    store.add(pairs)
    assert store.flush() == len(pairs)
    wal_while_open = files_bytes(db, db.with_name(db.name + ".wal"))
    store.close()
    out = tmp_path / "out.jsonl"
    out.write_text("".join(v.to_json() + "\n" for _, v in pairs))
    assert found_in(wal_while_open) == []
    assert found_in(files_bytes(db, db.with_name(db.name + ".wal"), out)) == []
    # the control: the same store, unredacted, keeps them (strings would find them in the file)
    raw = tmp_path / "raw.duckdb"
    with Store(raw) as s:
        s.add(validated)
    assert len(found_in(files_bytes(raw, raw.with_name(raw.name + ".wal")))) >= len(PLANTED) - 2


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhook_payload_of_a_redacted_verdict_holds_no_planted_value(validated, receiver) -> None:
    record, verdict = validated[0]
    r2, v2 = log_redactor(planted_policy())(record, verdict)
    notifier = Notifier([JsonWebhook(receiver.url)])
    notifier.on_verdict(r2, v2)  # a block event
    assert notifier.flush(timeout=10)
    notifier.close()
    assert receiver.bodies and orjson.loads(receiver.bodies[0])
    assert found_in(b"".join(receiver.bodies)) == []


def test_chat_parts_tool_call_arguments_and_segments_are_masked() -> None:
    msgs = [
        {"role": "user", "content": [{"type": "text", "text": f"card {PLANTED['card']}"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "lookup", "arguments": f'{{"key": "{PLANTED["aws_key"]}"}}'}}]},
        {"role": "tool", "content": f"owner {PLANTED['email']}"},
    ]
    record = Interaction(input=msgs, output="Done.", metadata={"segment": {"owner": PLANTED["email"]}})
    policy = planted_policy()
    verdict = Validator(policy).validate(record)
    r2, v2 = log_redactor(policy)(record, verdict)
    assert found_in(dumped(r2, v2)) == []
    assert r2.input[1]["tool_calls"][0]["function"]["name"] == "lookup"  # type: ignore[index]
    assert r2.input[0]["content"][0]["type"] == "text"  # type: ignore[index]
