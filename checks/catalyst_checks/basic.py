"""Cheap structural checks: non-empty output, length bounds, deny-lists of phrases and patterns."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from pydantic import Field, field_validator

from catalyst.checks import Check, CheckContext, Regex
from catalyst.records import CheckResult, Evidence


class NonEmpty(Check):
    """The output must contain something other than white space and punctuation."""

    name: ClassVar[str] = "non_empty"
    catches: ClassVar[str] = "empty, blank or punctuation-only answers"

    min_word_chars: int = Field(default=1, ge=1, description="letters or digits the output needs at least")

    def run(self, ctx: CheckContext) -> CheckResult | bool:
        out = ctx.output
        n = 0
        for ch in out:
            if ch.isalnum():
                n += 1
                if n >= self.min_word_chars:
                    return True  # a plain pass: the engine shares one result per batch
        reason = "output is empty" if not out.strip() else f"output has {n} letters or digits"
        return CheckResult(name=self.name, score=0.0, passed=False,
                           evidence=[Evidence(start=0, end=len(out), reason=reason)])


class Length(Check):
    """The output's length in characters must fall inside bounds."""

    name: ClassVar[str] = "length"
    catches: ClassVar[str] = "answers too short to be useful or too long to be safe"

    min_chars: int = Field(default=1, ge=0, description="fewest characters allowed")
    max_chars: int = Field(default=8000, ge=1, description="most characters allowed")

    @field_validator("max_chars")
    @classmethod
    def _ordered(cls, v: int, info: object) -> int:
        data = getattr(info, "data", {})
        if "min_chars" in data and v < data["min_chars"]:
            raise ValueError(f"max_chars ({v}) is below min_chars ({data['min_chars']})")
        return v

    def run(self, ctx: CheckContext) -> CheckResult | bool:
        n = len(ctx.output)
        if n < self.min_chars:
            return CheckResult(name=self.name, score=0.0, passed=False, evidence=[
                Evidence(start=0, end=n, reason=f"{n} characters, fewer than the minimum {self.min_chars}")])
        if n > self.max_chars:
            return CheckResult(name=self.name, score=0.0, passed=False, evidence=[
                Evidence(start=self.max_chars, end=n,
                         reason=f"{n} characters, more than the maximum {self.max_chars}")])
        return True  # a plain pass: the engine shares one result per batch


class Denylist(Check):
    """Phrases (case-insensitive, whole words) and regular expressions that must not appear."""

    name: ClassVar[str] = "denylist"
    catches: ClassVar[str] = "banned phrases, boilerplate refusals, forbidden patterns"

    phrases: list[str] = Field(default_factory=list,
                               description="phrases matched case-insensitively on word boundaries")
    patterns: list[Regex] = Field(default_factory=list, description="Python regular expressions")
    field: str = Field(default="output", pattern="^(output|input)$", description="which text to scan")
    max_evidence: int = Field(default=20, ge=1, description="spans reported at most")

    @cached_property
    def _needles(self) -> tuple[str, ...] | None:
        """Lower-cased phrases for a substring pre-filter; None when regex patterns must always run."""
        if self.patterns:
            return None
        return tuple(p.strip().lower() for p in self.phrases if p.strip())

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        parts = [rf"(?<!\w){re.escape(p.strip())}(?!\w)" for p in self.phrases if p.strip()]
        parts += [f"(?:{p})" for p in self.patterns]
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def run(self, ctx: CheckContext) -> CheckResult | bool:
        rx = self._regex
        text = ctx.output if self.field == "output" else ctx.input
        needles = self._needles
        if rx is None or (needles is not None and not _any_in(needles, text.lower())):
            return True  # a plain pass: the engine shares one result per batch
        evidence = []
        for m in rx.finditer(text):
            if m.end() == m.start():
                continue
            evidence.append(Evidence(start=m.start(), end=m.end(), field=self.field,  # type: ignore[arg-type]
                                     text=m.group(0), reason=f"denied: {m.group(0)!r}"))
            if len(evidence) >= self.max_evidence:
                break
        if not evidence:
            return True  # a plain pass: the engine shares one result per batch
        return CheckResult(name=self.name, score=0.0, passed=False, evidence=evidence)


def _any_in(needles: tuple[str, ...], text: str) -> bool:
    return any(n in text for n in needles)
