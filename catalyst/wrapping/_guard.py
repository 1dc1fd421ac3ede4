"""One validation at a time for wrappers: per-call retry, failure verdicts, and a flushed log.

Every wrapper (``catalyst.wrap``, the drop-in OpenAI client, the LangGraph node, the proxy) needs the
same four things around a :class:`~catalyst.Validator`: run the flow for one call with a *per-call*
``regenerate`` (the retry path re-asks with that call's arguments), turn a failed re-ask into a review
instead of a lost answer, log a verdict of ``review`` when the model call itself failed, and flush the
log on a schedule. ``Guard`` is that, and nothing else.

Exactly one verdict is logged per answer: the flow's ``log`` node runs once, after the last attempt;
a failure path logs instead of it, never beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalyst import engine
from catalyst.errors import RegenerateFailed  # defined in the one tree; re-exported here
from catalyst.flow import Flow, Regenerate
from catalyst.graph import arun_direct, run_direct
from catalyst.records import CheckResult, Decision, Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator
from catalyst.wrapping._logwriter import LogWriter

__all__ = ["Guard", "RegenerateFailed"]

#: name of the pseudo-check recorded when the model call itself failed
MODEL_CALL = "model_call"


class Guard:
    """A validator and the schedule that flushes its log.

    ``store`` may be a path or a :class:`Store`; ``flush_interval`` seconds between writes (0 = after
    every answer). ``validator=`` reuses an existing :class:`Validator` (its store is then used).
    """

    def __init__(self, policy: PolicyLike = "default", *, store: Store | str | Path | None = None,
                 validator: Validator | None = None, services: dict[str, Any] | None = None,
                 flush_interval: float = 1.0) -> None:
        if validator is not None and validator.store is not None:
            # the guard writes the log itself (through its LogWriter), so the validator it runs has no store
            store = store if store is not None else validator.store
            flow = validator.flow
            validator = Validator(validator.policy, services=flow.services, regenerate=flow.regenerate,
                                  on_verdict=flow.on_verdict)
        self.validator = validator or Validator(policy, services=services)
        st = Store(store) if isinstance(store, str | Path) else store
        self.writer = LogWriter(st, interval=flush_interval) if st is not None else None
        user_hook = self.validator.flow.on_verdict
        self._on_verdict = self._sink if user_hook is None else self._chain(user_hook)

    @property
    def policy(self) -> Any:
        return self.validator.policy

    @property
    def store(self) -> Store | None:
        return self.writer.store if self.writer is not None else None

    def _sink(self, record: Interaction, verdict: Verdict) -> None:
        if self.writer is not None:
            self.writer.put([(record, verdict)])

    def _chain(self, hook: Any) -> Any:
        def both(record: Interaction, verdict: Verdict) -> None:
            self._sink(record, verdict)
            hook(record, verdict)
        return both

    @property
    def max_retries(self) -> int:
        return int(self.validator.policy.policy.retry.max_retries)

    def _flow(self, regenerate: Regenerate | None) -> Flow:
        flow = self.validator.flow
        return dataclasses.replace(flow, regenerate=regenerate or flow.regenerate, on_verdict=self._on_verdict)

    # -- validating --------------------------------------------------------------------------------
    def check(self, records: Sequence[Interaction], regenerate: Regenerate | None = None) -> list[Verdict]:
        """Validate ``records`` (one flow run); ``regenerate`` re-asks on ``retry`` decisions."""
        state: Any = {"items": engine.make_items(list(records))}
        try:
            run_direct(self._flow(regenerate), state)
        except RegenerateFailed as e:
            return self._after_failed_retry(state["items"], e)
        return list(state["verdicts"])

    async def acheck(self, records: Sequence[Interaction], regenerate: Regenerate | None = None) -> list[Verdict]:
        state: Any = {"items": engine.make_items(list(records))}
        try:
            await arun_direct(self._flow(regenerate), state)
        except RegenerateFailed as e:
            return self._after_failed_retry(state["items"], e)
        return list(state["verdicts"])

    def _after_failed_retry(self, items: list[engine.Item], e: RegenerateFailed) -> list[Verdict]:
        """Re-asking failed: keep the last answer, send it to review with the cause, log it once."""
        from catalyst_agents.nodes import _delivered

        verdicts = []
        for it in items:
            if it.decision is Decision.RETRY:
                it.decision = Decision.REVIEW
                it.reasons.append(f"re-asking the model failed ({e}); the last answer goes to review")
            verdicts.append(engine.to_verdict(it, self.policy, _delivered(it)))
        self._log([it.record for it in items], verdicts)
        return verdicts

    def log_failure(self, record: Interaction, error: BaseException | str) -> Verdict:
        """Log (and return) a ``review`` verdict for a call that produced no answer: the model call failed."""
        why = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        verdict = Verdict.model_construct(
            id=record.id, confidence=0.0, decision=Decision.REVIEW, policy=self.policy.version,
            checks=[CheckResult(name=MODEL_CALL, score=None, passed=False, error=why[:2000])],
            reasons=[f"the model call failed, so there is no answer to validate: {why}"[:2000]],
            attempts=1, output=None, segment=record.segment, ms=0.0)
        self._log([record], [verdict])
        return verdict

    def _log(self, records: list[Interaction], verdicts: list[Verdict]) -> None:
        for r, v in zip(records, verdicts, strict=True):
            self._on_verdict(r, v)

    # -- lifecycle ---------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write buffered verdicts now; returns how many."""
        return self.writer.flush() if self.writer is not None else 0

    def close(self) -> None:
        """Flush and release the log (the guard can't log after this)."""
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
