"""What a check asks the framework to do is typed (``replacement``, ``retry_hint``), never a ``details`` key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalyst import CheckResult, Store, Validator
from catalyst.checks import Check, CheckContext
from catalyst.policy import Plan, Step
from catalyst.policy._load import loads_policy
from catalyst.records import Replacement

pytest.importorskip("presidio_analyzer")

INPUT_PII = """
name: input-pii
log: {redact: false}   # the check's own replacement only (the log redactor would mask the value too)
checks:
  - pii: {mode: patterns, field: input, action: redact, entities: [EMAIL_ADDRESS]}
"""

OUTPUT_PII = """
name: output-pii
checks:
  - pii: {mode: patterns, action: redact, entities: [EMAIL_ADDRESS]}
"""

ASK = {"id": "q-1", "input": "I am ana.lopez@example.com; when does the shop open?", "output": "At 9 am."}


def test_input_redaction_redacts_the_logged_input_never_the_answer(db_path):
    v = Validator(loads_policy(INPUT_PII), store=db_path)
    verdict = v.validate(ASK)
    assert verdict.output is None  # the answer is delivered as it was: the question is not the answer
    v.close()
    with Store(db_path) as s:
        [row] = s.query("SELECT i.input, i.output, v.output AS delivered FROM interactions i JOIN verdicts v "
                        "USING (verdict_id)")
    assert "ana.lopez@example.com" not in row["input"] and "<EMAIL_ADDRESS>" in row["input"]
    assert row["output"] == "At 9 am." and row["delivered"] is None


def test_input_redaction_is_what_a_retry_sends_on():
    seen = []

    def regenerate(rec, reasons):
        seen.append(rec.input_text)
        return "At 9 am, sorry."

    policy = loads_policy(INPUT_PII + "  - denylist: {phrases: ['At 9 am.']}\n    on_fail: retry\n")
    Validator(policy, regenerate=regenerate).validate(ASK)
    assert seen and "ana.lopez@example.com" not in seen[0] and "<EMAIL_ADDRESS>" in seen[0]


def test_output_redaction_is_delivered():
    verdict = Validator(loads_policy(OUTPUT_PII)).validate({"output": "Write to ana.lopez@example.com."})
    assert verdict.output == "Write to <EMAIL_ADDRESS>."


def test_details_keys_drive_nothing():
    class Says(Check):
        name = "says_redacted"

        def run(self, ctx: CheckContext) -> CheckResult:
            return self.result(1.0, redacted="not delivered", retry_hint_text="not a hint")

    policy = loads_policy("name: p\nchecks:\n  - non_empty: {}\n")
    step = Step(label="says_redacted", check=Says(), weight=1.0, on_fail=None, costly=False)
    plan = Plan.build([*policy.default.cheap, step], [], policy.default.thresholds)
    policy.default = plan
    assert Validator(policy).validate("fine").output is None


def test_typed_fields_are_validated():
    with pytest.raises(ValidationError):
        CheckResult(name="x", score=1.0, passed=True, replacement={"field": "context", "text": "t"})
    with pytest.raises(ValidationError):
        CheckResult(name="x", score=1.0, passed=True, retry_hint="")
    r = CheckResult(name="x", score=0.0, passed=False, retry_hint="return JSON", replacement=Replacement(
        field="output", text="{}"))
    assert r.retry_hint == "return JSON" and r.replacement == Replacement(field="output", text="{}")


def test_the_retry_hint_is_logged(db_path):
    class Hinted(Check):
        name = "hinted"

        def run(self, ctx: CheckContext) -> CheckResult:
            return self.result(0.0, retry_hint="answer in JSON")

    policy = loads_policy("name: p\nchecks:\n  - non_empty: {}\n")
    step = Step(label="hinted", check=Hinted(), weight=1.0, on_fail=None, costly=False)
    policy.default = Plan.build([*policy.default.cheap, step], [], policy.default.thresholds)
    with Validator(policy, store=db_path) as v:
        v.validate("fine")
    with Store(db_path) as s:
        assert s.query("SELECT retry_hint FROM check_results WHERE name = 'hinted'") == [
            {"retry_hint": "answer in JSON"}]


def test_with_the_log_redactor_the_value_is_not_logged_either(db_path):
    v = Validator(loads_policy(INPUT_PII.replace("log: {redact: false}", "")), store=db_path)
    assert v.validate(ASK).output is None
    v.close()
    with Store(db_path) as s:
        [row] = s.query("SELECT i.input, i.output FROM interactions i")
    assert "ana.lopez@example.com" not in row["input"] and row["output"] == "At 9 am."
