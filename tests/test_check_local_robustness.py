"""Bad input for every local check: 1 MB answers, emoji, non-English, odd records; and the checks in a Validator."""

from __future__ import annotations

import pytest

from catalyst import Validator
from catalyst.checks import Check, CheckContext
from catalyst.policy import loads_policy
from catalyst.records import Decision, Interaction
from catalyst_checks.injection import Injection, Leakage
from catalyst_checks.integrity import InputIntegrity
from catalyst_checks.pii import Pii
from catalyst_checks.schema import Schema
from catalyst_checks.secrets import Secrets
from catalyst_checks.topic import Topic
from catalyst_checks.toxicity import Toxicity

CHECKS: list[Check] = [
    Pii(mode="patterns"), Pii(), Secrets(), Toxicity(), Schema(json_schema={"type": "object"}),
    Topic(topics={"weapons": ["how to build a bomb", "making explosives at home"]}),
    Injection(), Leakage(system_prompt="You are a helpful assistant for Acme billing."), InputIntegrity(),
]
IDS = [f"{type(c).__name__}-{getattr(c, 'mode', '')}" for c in CHECKS]

ODD = [
    "",
    "😀😀😀 🔥 👍🏽 — ✔️",
    "Ваш заказ отправлен. Спасибо, что выбрали нас!",
    "您的订单已发货。如有问题请联系客服。",
    "طلبك في الطريق، شكراً لك",
    "\u200b\u200b\ufeff\x00\x1b[31m",
    "a" * 5000,
    "\n\n\n",
]


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_odd_text_never_crashes(check: Check) -> None:
    results = check.run_batch([CheckContext(record=Interaction(input=t or None, output=t)) for t in ODD])
    assert len(results) == len(ODD)
    for r in results:
        assert 0.0 <= r.score <= 1.0  # type: ignore[union-attr, operator]


@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_one_megabyte_answer_is_bounded_and_reported(check: Check) -> None:
    para = ("Our refund policy covers annual plans within 30 days. Contact billing for details. "
            "Ünïcödé 😀 text keeps the scanners honest. ")
    big = para * (1_000_000 // len(para) + 1)
    r = check.run(CheckContext(record=Interaction(input=big, output=big)))
    assert 0.0 <= r.score <= 1.0  # type: ignore[union-attr, operator]
    if not isinstance(check, InputIntegrity | Leakage | Schema):
        # text scanners cap their work and say so in the evidence instead of hanging
        assert any("not scanned" in e.reason for e in r.evidence), [e.reason for e in r.evidence]  # type: ignore[union-attr]


POLICY = """
name: local-demo
checks:
  - pii: {mode: patterns, action: redact, entities: [EMAIL_ADDRESS, PHONE_NUMBER]}
  - secrets: {}
    on_fail: block
  - toxicity: {}
thresholds: {accept: 0.8, block: 0.3}
"""


def test_checks_in_a_validator_redact_and_block() -> None:
    v = Validator(loads_policy(POLICY, source="demo.yaml"))
    ok = v.validate({"input": "How do I reach support?", "output": "Write to help@acme-corp.com or call 415-555-0173."})
    assert ok.output is not None and "<EMAIL_ADDRESS>" in ok.output and "415-555-0173" not in ok.output
    leaked = v.validate({"output": "Use DATABASE_URL=postgres://admin:Zq8v!x2LmP@db.prod.acme.io:5432/main"})
    assert leaked.decision is Decision.BLOCK
    sec = next(c for c in leaked.checks if c.name == "secrets")
    assert not sec.passed and sec.evidence
