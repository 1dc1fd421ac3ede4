"""The one extension point: a ``Check`` with one method, ``run(ctx)``.

A check's pydantic fields are its configuration, so ``- length: {max_chars: 200}`` in a policy and
``Length(max_chars=200)`` in code are the same thing. ``run`` may be a ``def`` or an ``async def``
and returns a :class:`CheckResult`, a score in [0, 1], or a bool. A check that *fails* returns a
low score with evidence; a check that *raises* is broken, and the answer goes to review.

Checks that score many records faster together (embedding models) override ``run_batch``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from catalyst.errors import ConfigError
from catalyst.records import CheckResult, Evidence, Interaction, Replacement

__all__ = ["Check", "CheckContext", "Regex", "to_result"]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {e}") from None
    return pattern


#: A check setting that must be a valid Python regular expression; a bad one fails at policy load.
Regex = Annotated[str, AfterValidator(_compiles)]


@dataclass(slots=True)
class CheckContext:
    """What a check sees: the interaction, plus services the runtime provides (model client...)."""

    record: Interaction
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.record.output

    @property
    def input(self) -> str:
        return self.record.input_text

    @property
    def context(self) -> list[str]:
        return self.record.context

    @property
    def samples(self) -> list[str]:
        return self.record.samples

    @property
    def logprobs(self) -> list[float] | None:
        return self.record.logprobs

    @property
    def metadata(self) -> dict[str, Any]:
        return self.record.metadata


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Check(BaseModel):
    """Base class of every check.

    Class attributes (not configuration):

    - ``name``: the name policies use (lower_snake_case).
    - ``costly``: run only when the cheap checks leave the answer in the review band.
    - ``evidence``: the score is evidence about whether the answer is right (grounding, judge, consistency,
      logprob, verbalized). Only evidence checks make the confidence; the others are rules that act through
      ``on_fail`` (default: review) and never raise or dilute it. An evidence check that cannot score an
      answer (no context, no samples) returns :meth:`unscored`.
    - ``catches`` / ``cost``: one line each for the generated checks reference.

    Configuration fields every check has: ``threshold`` (a score below it fails the check).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str] = ""
    costly: ClassVar[bool] = False
    evidence: ClassVar[bool] = False
    catches: ClassVar[str] = ""
    cost: ClassVar[str] = "cheap"

    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="a score below this fails the check")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name and not _NAME_RE.match(cls.name):
            raise ConfigError(f"check name {cls.name!r} must be lower_snake_case, like `max_length`")

    # -- the extension point -------------------------------------------------------------
    def run(self, ctx: CheckContext) -> CheckResult | float | bool:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement run(ctx)")

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        """Score many contexts. Override when batching is faster; the default loops ``run``."""
        return [self.run(c) for c in ctxs]

    # -- helpers for implementations -----------------------------------------------------
    @classmethod
    def is_async(cls) -> bool:
        return inspect.iscoroutinefunction(cls.run)

    def result(self, score: float, *, evidence: list[Evidence] | None = None, passed: bool | None = None,
               replacement: Replacement | None = None, retry_hint: str | None = None, **details: Any) -> CheckResult:
        """Build a result; ``passed`` defaults to ``score >= threshold``. ``replacement`` and ``retry_hint`` are
        what the framework acts on; ``details`` are for people and reports."""
        score = min(1.0, max(0.0, float(score)))
        return CheckResult(
            name=self.name, score=score,
            passed=(score >= self.threshold) if passed is None else passed,
            evidence=evidence or [], details=details, replacement=replacement, retry_hint=retry_hint,
        )


    def unscored(self, reason: str, *, passed: bool = True, **details: Any) -> CheckResult:
        """This answer could not be scored (no context, nothing to check): no evidence either way.

        The score is None, so the answer's confidence does not count this check; when no evidence check
        scores, the verdict says ``evidence: none`` and the policy's ``on_unverified`` decides.
        """
        return CheckResult(name=self.name, score=None, passed=passed, details={"unscored": reason, **details})


def to_result(check: Check, value: Any, name: str | None = None) -> CheckResult:
    """Normalise what ``run`` returned into a ``CheckResult`` named ``name``."""
    label = name or check.name
    if isinstance(value, CheckResult):
        if value.name != label:
            value = value.model_copy(update={"name": label})
        return value
    if isinstance(value, bool):
        return CheckResult(name=label, score=1.0 if value else 0.0, passed=value)
    if isinstance(value, int | float):
        score = float(value)
        if not 0.0 <= score <= 1.0 or score != score:
            raise ValueError(f"check `{label}` returned score {value!r}; scores are in [0, 1]")
        return CheckResult(name=label, score=score, passed=score >= check.threshold)
    raise TypeError(f"check `{label}` returned {type(value).__name__}; return a CheckResult, a float or a bool")
