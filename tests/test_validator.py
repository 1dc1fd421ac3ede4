"""The flow end to end through the Python API: decisions, fail-closed, cascade, retry, segments, batches."""

import asyncio

import pytest

import catalyst
from catalyst import Check, CheckContext, CheckResult, Decision, Policy, Validator
from catalyst.policy import CheckSpec, loads_policy


class Boom(Check):
    name = "boom_test"
    evidence = True

    def run(self, ctx: CheckContext) -> float:
        if "explode" in ctx.output:
            raise RuntimeError("model file missing")
        return 1.0


class Garbage(Check):
    name = "garbage_test"

    def run(self, ctx: CheckContext) -> float:
        return 7.0  # out of range: the check is broken, not the answer


class Counting(Check):
    name = "counting_test"
    costly = True
    evidence = True
    calls: int = 0

    def run(self, ctx: CheckContext) -> float:
        type(self).calls += 1  # class-level: instances are frozen
        return 0.95 if "supported" in ctx.output else 0.1


class Sure(Check):
    name = "sure_test"
    evidence = True

    def run(self, ctx: CheckContext) -> float:
        return 0.9 if "sure" in ctx.output else 0.5


class SlowAsync(Check):
    name = "async_test"
    evidence = True

    async def run(self, ctx: CheckContext) -> float:
        await asyncio.sleep(0.01)
        return 0.9


for cls in (Boom, Garbage, Counting, Sure, SlowAsync):
    catalyst.register(cls, replace=True)


def test_accept_block_review_by_rules_and_thresholds():
    v = Validator("default")
    ctx = ["The Eiffel Tower was finished in 1889 for the World's Fair."]
    supported = "The Eiffel Tower was finished in 1889 for the World's Fair."
    assert v.validate({"output": supported, "context": ctx}).decision is Decision.ACCEPT
    blocked = v.validate("   ")
    assert blocked.decision is Decision.BLOCK
    assert blocked.reasons[0].startswith("blocked by non_empty: ")
    review = v.validate("As an AI language model, I think so.")
    assert review.decision is Decision.REVIEW
    assert review.reasons[0] == "sent to review by denylist: denied: 'As an AI language model' at 0–23"
    deny = next(c for c in review.checks if c.name == "denylist")
    assert deny.evidence[0].start == 0 and deny.evidence[0].end == len("As an AI language model")


def test_no_context_is_not_verified_and_never_reads_as_one():
    v = Validator("default")
    plain = v.validate("The tower was finished in 1889.")
    # the default policy accepts plain chat answers once the rules pass, but says they are unverified
    assert plain.decision is Decision.ACCEPT and plain.evidence == "none" and plain.confidence is None
    assert '"confidence":null' in plain.to_json() and '"evidence":"none"' in plain.to_json()
    assert plain.reasons[0].startswith("not verified: no evidence check could score it (grounding: no context)")
    strict = Validator("strict").validate("The tower was finished in 1889.")
    assert strict.decision is Decision.REVIEW and strict.confidence is None


class Unscorable(Check):
    name = "unscorable_test"
    evidence = True

    def run(self, ctx: CheckContext) -> CheckResult:
        return self.unscored("nothing to check")


catalyst.register(Unscorable, replace=True)


def test_on_unverified_decides_and_can_treat_no_context_apart():
    policy = loads_policy("checks:\n  - unscorable_test: {}\non_unverified: {default: block, no_context: accept}\n")
    v = Validator(policy)
    with_ctx = v.validate({"output": "x", "context": ["a passage"]})
    assert with_ctx.decision is Decision.BLOCK and with_ctx.confidence is None
    assert with_ctx.reasons == ["not verified: no evidence check could score it (unscorable_test: nothing to check); "
                                "on_unverified: block"]
    assert v.validate({"output": "x", "context": ["  "]}).decision is Decision.ACCEPT  # blank passages: none
    assert Validator(loads_policy("checks: [unscorable_test]")).validate("x").decision is Decision.REVIEW


def test_rule_checks_never_change_the_confidence():
    ctx = ["The Eiffel Tower was finished in 1889 for the World's Fair in Paris."]
    v = Validator("default")
    clean = v.validate({"output": "The tower was finished in 1889.", "context": ctx})
    denied = v.validate({"output": "As an AI language model: the tower was finished in 1889.", "context": ctx})
    cal = v.policy.calibrator  # the shipped calibrator of the grounding score (identity when a policy has none)
    grounding = next(c.score for c in clean.checks if c.name == "grounding")
    assert clean.confidence == pytest.approx(cal(grounding) if cal else grounding)
    denied_grounding = next(c.score for c in denied.checks if c.name == "grounding")
    assert denied.decision in (Decision.REVIEW, Decision.BLOCK) and denied.confidence == pytest.approx(
        cal(denied_grounding) if cal else denied_grounding)


def test_a_rule_check_without_on_fail_sends_to_review():
    policy = loads_policy("checks:\n  - denylist: {phrases: [foo]}\n  - sure_test: {}\n")
    got = Validator(policy).validate("sure, foo")
    assert got.confidence == pytest.approx(0.9)  # above accept, but a rule failed
    assert got.decision is Decision.REVIEW and got.reasons[0].startswith("sent to review by denylist: denied")
    assert not any("review band" in r for r in got.reasons)


def test_a_check_that_raises_sends_the_answer_to_review_never_accept():
    v = Validator(Policy(checks=[CheckSpec(check="boom_test")], thresholds={"accept": 0.5, "block": 0.0}))
    ok = v.validate("fine")
    bad = v.validate("please explode")
    assert ok.decision is Decision.ACCEPT
    assert bad.decision is Decision.REVIEW
    (res,) = bad.checks
    assert res.score is None and not res.passed and "RuntimeError: model file missing" in res.error
    assert any("broke" in r for r in bad.reasons)


def test_a_broken_result_fails_closed_in_batches_too():
    v = Validator(Policy(checks=[CheckSpec(check="garbage_test")], thresholds={"accept": 0.1, "block": 0.0}))
    verdicts = v.validate_many(["a", "b", "c"])
    assert [x.decision for x in verdicts] == [Decision.REVIEW] * 3
    assert "scores are in [0, 1]" in verdicts[0].checks[0].error


def test_one_bad_record_does_not_break_the_batch():
    v = Validator(Policy(checks=[CheckSpec(check="boom_test")], thresholds={"accept": 0.5, "block": 0.0}))
    verdicts = v.validate_many(["a", "explode", "c"])
    assert [x.decision for x in verdicts] == [Decision.ACCEPT, Decision.REVIEW, Decision.ACCEPT]


def test_costly_checks_run_only_on_doubt():
    policy = loads_policy("""
checks:
  - denylist: {phrases: [maybe]}
    on_fail: review
  - sure_test: {}
  - counting_test: {}
thresholds: {accept: 0.8, block: 0.2}
""")
    Counting.calls = 0
    v = Validator(policy)
    # confident answers: sure_test 0.9 → accept without the costly check
    verdicts = v.validate_many(["sure answer"] * 5)
    assert Counting.calls == 0 and all(x.decision is Decision.ACCEPT for x in verdicts)
    assert [c.name for c in verdicts[0].checks] == ["denylist", "sure_test"]
    # doubtful answers (sure_test 0.5, inside the review band) are escalated; the rule never enters the mean
    got = v.validate_many(["maybe supported", "maybe not"])
    assert Counting.calls == 2
    assert [c.name for c in got[0].checks] == ["denylist", "sure_test", "counting_test"]
    assert got[0].confidence == pytest.approx((0.5 + 0.95) / 2)
    assert got[1].confidence == pytest.approx((0.5 + 0.1) / 2)


def test_unverified_answers_are_escalated_to_costly_evidence():
    policy = loads_policy("checks:\n  - non_empty: {}\n  - counting_test: {}\nthresholds: {accept: 0.8, block: 0.2}\n")
    Counting.calls = 0
    got = Validator(policy).validate("well supported")
    assert Counting.calls == 1 and got.evidence == "scored" and got.decision is Decision.ACCEPT


def test_async_checks_work_sync_and_async():
    policy = Policy(checks=[CheckSpec(check="async_test")], thresholds={"accept": 0.8, "block": 0.1})
    v = Validator(policy)
    assert v.validate("x").decision is Decision.ACCEPT
    assert asyncio.run(v.avalidate("y")).confidence == pytest.approx(0.9)
    assert [x.decision for x in v.validate_many(["a", "b"])] == [Decision.ACCEPT] * 2
    got = asyncio.run(v.avalidate_many(["a", "b", "c"]))
    assert len(got) == 3


def test_function_checks_via_decorator():
    @catalyst.check(name="mentions_refund_test")
    def mentions_refund(ctx):
        """Answers must not promise refunds."""
        return "refund" not in ctx.output.lower()

    v = Validator(loads_policy("checks:\n  - mentions_refund_test: {}\n    on_fail: block\non_unverified: accept\n"))
    assert v.validate("We will refund you.").decision is Decision.BLOCK
    assert v.validate("We will look into it.").decision is Decision.ACCEPT


def test_retry_re_asks_with_reasons_and_is_bounded():
    asked = []

    def regenerate(record, reasons):
        asked.append((record.output, reasons))
        return "As an AI language model..." if len(asked) < 2 else "A clean answer."

    policy = loads_policy("checks:\n  - denylist: {phrases: ['as an AI language model']}\n    on_fail: retry\n"
                          "retry: {max_retries: 3}\non_unverified: accept\n")
    v = Validator(policy, regenerate=regenerate)
    verdict = v.validate("As an AI language model, no.")
    assert verdict.decision is Decision.ACCEPT
    assert verdict.attempts == 3 and verdict.output == "A clean answer."
    assert asked[0][1][0].startswith("retry requested by denylist: denied")

    always_bad = Validator(policy.policy.model_copy(update={"retry": policy.policy.retry.model_copy(
        update={"max_retries": 2})}), regenerate=lambda r, why: "As an AI language model again")
    out = always_bad.validate("As an AI language model")
    assert out.decision is Decision.REVIEW and out.attempts == 3
    assert "still failing after 2 retries" in out.reasons[-1]


def test_retry_without_a_model_is_returned_to_the_caller():
    policy = loads_policy("checks:\n  - denylist: {phrases: [foo]}\n    on_fail: retry\n")
    assert Validator(policy).validate("foo").decision is Decision.RETRY


def test_segments_pick_their_overrides():
    v = Validator("strict")
    long = "The tower opened in 1889. " * 115  # 2990 chars: fine in US (4000), too long in EU (2000) → block
    ctx = ["The tower opened in 1889."]
    us = v.validate({"output": long, "context": ctx, "metadata": {"segment": {"region": "US"}}})
    eu = v.validate({"output": long, "context": ctx, "metadata": {"segment": {"region": "EU"}}})
    assert us.decision is Decision.ACCEPT
    assert eu.decision is Decision.BLOCK


def test_batch_equals_single():
    v = Validator("strict")
    answers = ["fine answer here", "", "guaranteed returns!", "x" * 5000, "password: hunter2 is it"]
    single = [v.validate(a) for a in answers]
    many = v.validate_many(answers, batch_size=2)
    assert [(s.id, s.decision, s.confidence) for s in single] == [(m.id, m.decision, m.confidence) for m in many]
