"""The logic of one validation, without I/O: run checks over a batch, aggregate, decide.

Shared by the sync and async paths (only *how* a check is called differs) and by every node of the flow.
A check that raises or returns garbage yields an error result: the answer then goes to review, never accept.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from catalyst.checks import Check, CheckContext, to_result
from catalyst.policy import CompiledPolicy, Plan, Step
from catalyst.records import SEVERITY, CheckResult, Decision, Interaction, Verdict, _construct


@dataclass(slots=True)
class Item:
    """One answer travelling through the flow."""

    record: Interaction
    results: list[CheckResult] = field(default_factory=list)
    confidence: float | None = None  # None: no evidence check scored (not verified)
    decision: Decision = Decision.REVIEW
    reasons: list[str] = field(default_factory=list)
    attempts: int = 1
    escalated: bool = False
    delivered: str | None = None  # the output handed back when it differs from the input (retried, corrected)
    started: float = field(default_factory=time.perf_counter)
    ms: float = 0.0
    verdict: Verdict | None = None
    _ctx: CheckContext | None = None

    def context(self, services: dict[str, Any]) -> CheckContext:
        """One context per item and record version, shared by all its checks."""
        ctx = self._ctx
        if ctx is None or ctx.record is not self.record:
            ctx = self._ctx = CheckContext(self.record, services)
        return ctx


def make_items(records: Sequence[Interaction]) -> list[Item]:
    return [Item(record=r) for r in records]


def _error_result(step: Step, exc: BaseException, ms: float) -> CheckResult:
    return CheckResult(name=step.label, score=None, passed=False, ms=ms,
                       error=f"{type(exc).__name__}: {exc}"[:2000])


def _group(policy: CompiledPolicy, items: Sequence[Item], pick: str) -> dict[int, tuple[Step, list[Item]]]:
    """Group items by check instance (segments may configure one check differently)."""
    groups: dict[int, tuple[Step, list[Item]]] = {}
    for it in items:
        for step in getattr(policy.plan_of(it.record), pick):
            key = id(step.check)
            if key not in groups:
                groups[key] = (step, [])
            groups[key][1].append(it)
    return groups


def _store(step: Step, batch: list[Item], raw: Sequence[Any], ms_each: float) -> None:
    # A check that answers a plain True/False gets one result object per outcome for the whole batch: the
    # results are equal (same name, score, time share), and not building 2,000 of them is most of a cheap
    # check's cost. Results are values: nothing changes one after it is stored.
    shared: dict[bool, CheckResult] = {}
    for it, value in zip(batch, raw, strict=True):
        if value is True or value is False:
            res = shared.get(value)
            if res is None:
                res = shared[value] = to_result(step.check, value, step.label)
                res.__dict__["ms"] = ms_each
            it.results.append(res)
            continue
        try:
            res = to_result(step.check, value, step.label)
        except (TypeError, ValueError) as e:
            res = _error_result(step, e, ms_each)
        else:
            if res.ms == 0.0:
                res.__dict__["ms"] = ms_each  # plain store: no validation on the hot path
        it.results.append(res)


def _run_sync_step(step: Step, batch: list[Item], services: dict[str, Any]) -> None:
    check: Check = step.check
    ctxs = [it.context(services) for it in batch]
    t0 = time.perf_counter()
    try:
        raw = check.run_batch(ctxs)
        if inspect.isawaitable(raw) or (raw and inspect.isawaitable(raw[0])):
            raise TypeError("run_batch returned awaitables; make run async instead")
        if len(raw) != len(ctxs):
            raise ValueError(f"run_batch returned {len(raw)} results for {len(ctxs)} records")
    except Exception:
        # isolate the record(s) that broke the check: score one by one
        for it, ctx in zip(batch, ctxs, strict=True):
            t1 = time.perf_counter()
            try:
                value = check.run(ctx)
            except Exception as e:
                it.results.append(_error_result(step, e, (time.perf_counter() - t1) * 1000))
                continue
            _store(step, [it], [value], (time.perf_counter() - t1) * 1000)
        return
    _store(step, batch, raw, (time.perf_counter() - t0) * 1000 / max(1, len(batch)))


async def _run_async_step(step: Step, batch: list[Item], services: dict[str, Any], limit: int) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(it: Item) -> None:
        async with sem:
            t1 = time.perf_counter()
            try:
                value = await step.check.run(it.context(services))  # type: ignore[misc]
            except Exception as e:
                it.results.append(_error_result(step, e, (time.perf_counter() - t1) * 1000))
                return
            _store(step, [it], [value], (time.perf_counter() - t1) * 1000)

    await asyncio.gather(*(one(it) for it in batch))


async def arun_checks(policy: CompiledPolicy, items: Sequence[Item], pick: str, services: dict[str, Any],
                      concurrency: int = 8) -> None:
    """Run the ``pick`` ("cheap" or "costly") steps of each item's plan; async checks run concurrently.

    Sync checks are called directly, so without async checks this never waits (see ``catalyst._sync``)."""
    sync_groups: list[tuple[Step, list[Item]]] = []
    async_groups: list[tuple[Step, list[Item]]] = []
    for step, batch in _group(policy, items, pick).values():
        (async_groups if type(step.check).is_async() else sync_groups).append((step, batch))
    for step, batch in sync_groups:
        _run_sync_step(step, batch, services)
    if async_groups:
        await asyncio.gather(*(_run_async_step(s, b, services, concurrency) for s, b in async_groups))


def has_async_checks(policy: CompiledPolicy) -> bool:
    """Whether any plan of the policy has an ``async def run`` check (then a sync call needs an event loop)."""
    plans = [policy.default, *(plan for _match, plan in policy.overrides)]
    return any(type(step.check).is_async() for plan in plans for step in plan.steps)


# -- deciding -------------------------------------------------------------------------------------
#
# The confidence is evidence, not pass marks: only evidence checks (``Check.evidence``: grounding, judge,
# consistency, logprob, verbalized...) make it; rule checks (non_empty, length, denylist, schema, secrets, pii...)
# act only through ``on_fail`` and never raise or dilute it. When no evidence check scored, there is no
# confidence (None, ``evidence: none``) and the policy's ``on_unverified`` decides.

#: What a failed rule check without ``on_fail`` does: a person looks (it never dilutes the confidence).
RULE_DEFAULT = Decision.REVIEW

_VERB = {Decision.BLOCK: "blocked", Decision.REVIEW: "sent to review", Decision.RETRY: "retry requested",
         Decision.ACCEPT: "accepted"}


def aggregate(results: Sequence[CheckResult], plan: Plan, method: str) -> float | None:
    """Combine the evidence checks' scores: weighted mean (default), min, or weighted geometric mean.

    Only checks in ``plan.evidence`` count; broken ones (error), unscored ones (score None) and weight-0 ones
    do not. None when no evidence check scored: the answer is not verified (never 1.0).
    """
    evidence = plan.evidence
    if not evidence:
        return None
    weights = plan.weights
    num = total = 0.0
    lo = 1.0
    for r in results:
        s = r.score
        if s is None or r.error is not None or r.name not in evidence:
            continue
        w = weights.get(r.name, 1.0)
        if w <= 0:
            continue
        if method == "geometric_mean":
            num += w * math.log(max(s, 1e-6))
        else:
            num += w * s
        total += w
        lo = min(lo, s)
    if total <= 0:
        return None
    if method == "min":
        return lo
    if method == "geometric_mean":
        return math.exp(num / total)
    return num / total


def _why(r: CheckResult) -> str:
    """One plain phrase: the check's retry hint, else its first evidence (with the span), else its score."""
    hint = r.retry_hint  # what to tell the model on a re-ask (typed, set by schema and the like)
    if hint:
        return str(hint)
    if r.evidence:
        e = r.evidence[0]
        where = f" at {e.start}–{e.end}" if e.field == "output" and e.end > e.start else ""
        return f"{e.reason}{where}"
    return "failed" if r.score is None else f"score {r.score:.2f}"


def _unverified_why(results: Sequence[CheckResult], plan: Plan) -> str:
    if not plan.evidence:
        return "the policy has no evidence check (grounding, judge, consistency, logprob, verbalized)"
    parts = []
    for r in results:
        if r.name in plan.evidence:
            d = r.details or {}
            note = r.error or d.get("unscored") or d.get("reason") or \
                (r.evidence[0].reason if r.evidence else None) or "no score"
            parts.append(f"{r.name}: {note}")
    ran = ", ".join(parts) if parts else "none ran"
    return f"no evidence check could score it ({ran})"


def decide(item: Item, policy: CompiledPolicy) -> None:
    """Set confidence, decision and reasons from the item's results.

    1. ``confidence`` = the (calibrated) aggregate of the evidence checks, or None when none scored.
    2. The base decision: the thresholds on the confidence, or ``on_unverified`` without one.
    3. Rules: a failed check with ``on_fail`` (or a failed rule check, default review) raises the decision to at
       least that one; ``retry`` replaces it (the new answer is screened again).
    4. A broken check (it raised) → at least review (fail closed).

    The first reason always names what decided, in one sentence ("blocked by secrets: ..."); the others follow.
    """
    plan = policy.plan_of(item.record)
    results = item.results
    evidence = plan.evidence
    conf = aggregate(results, plan, policy.policy.aggregate)
    if conf is not None:
        if policy.calibrator is not None:
            conf = float(policy.calibrator(conf, {r.name: r.score for r in results if r.name in evidence}))
        conf = min(1.0, max(0.0, conf))
    item.confidence = conf
    th = plan.thresholds
    rules = plan.rules
    fired: Decision | None = None
    fired_reasons: list[tuple[Decision, str]] = []
    broken: list[str] = []
    for r in results:
        if r.passed:
            continue
        if r.error is not None:
            broken.append(f"check `{r.name}` broke ({r.error})")
            continue
        action = rules.get(r.name)
        if action is None:
            if r.name in evidence:
                continue  # an evidence check without on_fail acts through the confidence only
            action = RULE_DEFAULT
        fired_reasons.append((action, f"{_VERB[action]} by {r.name}: {_why(r)}"))
        if fired is None or SEVERITY[action] > SEVERITY[fired]:
            fired = action
    if conf is None:
        base = Decision(policy.policy.on_unverified.for_record(item.record))
        base_reason = f"not verified: {_unverified_why(results, plan)}; on_unverified: {base.value}"
    elif conf >= th.accept:
        base = Decision.ACCEPT
        base_reason = f"confidence {conf:.2f} is at or above the accept threshold {th.accept:.2f}"
    elif conf < th.block:
        base, base_reason = Decision.BLOCK, f"confidence {conf:.2f} is below the block threshold {th.block:.2f}"
    else:
        base = Decision.REVIEW
        base_reason = f"confidence {conf:.2f} is in the review band [{th.block:.2f}, {th.accept:.2f})"
    decision = base
    if fired is not None:
        decision = fired if fired is Decision.RETRY else _stricter(base, fired)
    reasons: list[str] = []
    if broken and SEVERITY[decision] < SEVERITY[Decision.REVIEW]:
        decision = Decision.REVIEW
        reasons += [f"{b}; sent to review" for b in broken]
        broken = []
    if fired is not None and decision is fired:  # the rule decided: say so first, strictest first
        fired_reasons.sort(key=lambda x: -SEVERITY[x[0]])
        reasons += [why for _, why in fired_reasons]
        if base is not Decision.ACCEPT or conf is None:
            reasons.append(base_reason)
    else:
        if decision is not Decision.ACCEPT or conf is None:
            reasons.append(base_reason)
        reasons += [why for _, why in fired_reasons]
    reasons += [f"{b}; sent to review" for b in broken]
    item.decision = decision
    item.reasons = reasons


def _stricter(a: Decision, b: Decision) -> Decision:
    return a if SEVERITY[a] >= SEVERITY[b] else b


def needs_escalation(policy: CompiledPolicy, item: Item) -> bool:
    """Costly checks pay off when the cheap ones leave doubt: the review band, or no evidence yet (not blocked)."""
    if not policy.plan_of(item.record).costly or item.escalated:
        return False
    return item.decision is Decision.REVIEW or (item.confidence is None and item.decision is not Decision.BLOCK)


def to_verdict(item: Item, policy: CompiledPolicy, output: str | None = None) -> Verdict:
    item.ms = (time.perf_counter() - item.started) * 1000
    v: Verdict = _construct(Verdict, {
        "id": item.record.id, "confidence": item.confidence, "decision": item.decision, "policy": policy.version,
        "evidence": "none" if item.confidence is None else "scored",
        "checks": item.results, "reasons": item.reasons, "attempts": item.attempts, "output": output,
        "segment": item.record.segment, "ms": item.ms, "label": item.record.label,
    })
    item.verdict = v
    return v
