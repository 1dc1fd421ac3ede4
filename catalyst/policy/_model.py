"""The policy as data: which checks, how they combine, where the thresholds are."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, model_validator

from catalyst.monitor.rules import AlertRule

#: Keys of a check entry that configure the policy's use of the check, not the check itself.
RESERVED_KEYS = ("weight", "on_fail", "costly", "as")


def _import_plugin(spec: str, info: ValidationInfo) -> str:
    """A ``plugins:`` entry is imported while the policy validates, so its checks exist when compiled."""
    from catalyst import registry
    from catalyst.errors import PluginError

    try:  # relative paths start at the policy's folder (the loader passes it as validation context)
        return registry.import_plugin(spec, base=(info.context or {}).get("policy_dir"))
    except PluginError as e:  # a ValueError lets pydantic name the entry, and the loader its line
        raise ValueError(str(e)) from None


class CheckSpec(BaseModel):
    """One check in a policy: ``- length: {max_chars: 400}``, optionally ``weight``, ``on_fail``, ``costly``, ``as``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    check: str = Field(description="registered check name")
    label: str = Field(default="", alias="as", description="name in verdicts; set it to use one check twice")
    config: dict[str, Any] = Field(default_factory=dict, description="the check's own settings")
    weight: float = Field(default=1.0, ge=0.0, le=100.0, description="weight of an evidence check in the "
                          "confidence; 0 = reported only. Rule checks never enter the confidence")
    on_fail: Literal["block", "review", "retry"] | None = Field(
        default=None, description="hard rule: when this check fails, at least this decision (retry: re-ask the "
        "model). A rule check that fails without one sends the answer to review")
    costly: bool | None = Field(default=None, description="override: run only when cheap checks leave doubt")

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, v: Any) -> Any:
        return _expand_entry(v)

    @model_validator(mode="after")
    def _label(self) -> CheckSpec:
        if not self.label:
            self.label = self.check
        return self


class Thresholds(BaseModel):
    """``confidence >= accept`` accepts, ``< block`` blocks, the band between goes to review."""

    model_config = ConfigDict(extra="forbid")

    accept: float = Field(default=0.8, ge=0.0, le=1.0)
    block: float = Field(default=0.3, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.block > self.accept:
            raise ValueError(f"block threshold {self.block} is above accept threshold {self.accept}; "
                             "block must be <= accept (the review band lies between)")
        return self


class RetrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(default=2, ge=0, le=10, description="re-asks of the model at most")
    on_exhausted: Literal["review", "block"] = "review"


class NotifySpec(BaseModel):
    """Where review notifications go (see ``catalyst.review.notify``); ``env:NAME`` reads a URL from the environment."""

    model_config = ConfigDict(extra="forbid")

    slack: str | None = Field(default=None, description="Slack-compatible incoming-webhook URL, or env:NAME")
    webhook: str | None = Field(default=None, description="generic JSON webhook URL, or env:NAME")
    events: list[Literal["enqueue", "block", "sla_breach", "decision"]] = Field(
        default=["enqueue", "block", "sla_breach"])  # pydantic copies mutable defaults per instance
    queue_size: int = Field(default=1000, ge=1, le=1_000_000, description="events held before dropping")


class ReviewSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sla_hours: float = Field(default=24.0, gt=0, description="items older than this are flagged")
    # routing of notifications does not change verdicts: excluded from dumps, so from the policy version hash
    notify: NotifySpec | None = Field(default=None, exclude=True, description="review notifications")
    # monitoring (catalyst.monitor): a random share of auto-accepted answers also goes to review, marked as audit,
    # for unbiased accepted-error estimates; routing only, the decision is unchanged, so excluded from the hash
    audit_sample: float = Field(default=0.0, ge=0.0, le=1.0, exclude=True,
                                description="share of accepted answers also sent to review as an audit sample")


Unverifiable = Literal["accept", "review", "block"]


class Unverified(BaseModel):
    """What happens to an answer no evidence check could score (``evidence: none``; it has no confidence).

    ``default`` applies to every such answer; ``no_context``, when set, to those whose record has no context
    passage at all (nothing to ground against), e.g. plain chat under a local policy. Written as one word
    (``on_unverified: review``) it sets ``default``. The default is ``review``: an answer nobody verified is not
    accepted silently.
    """

    model_config = ConfigDict(extra="forbid")

    default: Unverifiable = Field(default="review", description="decision for an unverified answer")
    no_context: Unverifiable | None = Field(
        default=None, description="decision for an unverified answer whose record has no context (None: default)")

    @model_validator(mode="before")
    @classmethod
    def _one_word(cls, v: Any) -> Any:
        return {"default": v} if isinstance(v, str) else v

    def for_record(self, record: Any) -> Unverifiable:
        if self.no_context is not None and not any(p.strip() for p in record.context):
            return self.no_context
        return self.default


class LogSpec(BaseModel):
    """What may be kept: applied to every record and verdict before it is written anywhere (see catalyst.redaction)."""

    model_config = ConfigDict(extra="forbid")

    redact: bool = Field(default=True, description=(
        "before anything is stored or sent (DuckDB, --out, webhooks, review storage), mask what the policy's "
        "`pii`/`secrets` checks look for, in every text: input, output, context, samples, metadata, the delivered "
        "output, evidence, reasons"))
    detectors: list[str] = Field(default_factory=list, description=(
        "more checks (registered names, default settings) whose findings are masked although the policy does not "
        "run them, e.g. [secrets, pii]"))


_DECISIONS = {"enum": ["accept", "review", "block"]}
#: ``on_unverified`` in the exported schema: one word, or the mapping (what the before-validator accepts).
_UNVERIFIED_SCHEMA: dict[str, Any] = {"anyOf": [
    _DECISIONS,
    {"type": "object", "additionalProperties": False, "properties": {
        "default": {**_DECISIONS, "default": "review", "description": "decision for an unverified answer"},
        "no_context": {"anyOf": [_DECISIONS, {"type": "null"}], "default": None,
                       "description": "decision for an unverified answer whose record has no context"}}}]}


class SegmentOverride(BaseModel):
    """Settings for records whose ``metadata.segment`` contains every ``match`` pair."""

    model_config = ConfigDict(extra="forbid")

    match: dict[str, Any] = Field(min_length=1)
    thresholds: Thresholds | None = None
    checks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="check label → settings that replace the policy's for this segment")
    weights: dict[str, float] = Field(default_factory=dict)


class Policy(BaseModel):
    """A validation policy. Load one with :func:`catalyst.load_policy`; build one in code with :meth:`of`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="policy", pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    plugins: list[Annotated[str, AfterValidator(_import_plugin)]] = Field(
        default_factory=list, description="modules (names, or .py paths relative to the policy) imported before "
        "the checks are looked up: where your own `@catalyst.check` functions live")
    checks: list[CheckSpec] = Field(min_length=1)
    aggregate: Literal["weighted_mean", "min", "geometric_mean"] = "weighted_mean"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    on_unverified: Annotated[Unverified, WithJsonSchema(_UNVERIFIED_SCHEMA)] = Field(
        default_factory=lambda: Unverified(), description="decision when no evidence check could score the "
        "answer (no context, no samples, no model): the verdict then says `evidence: none` and has no "
        "confidence. `on_unverified: review` (the default) or `{default: review, no_context: accept}`")
    retry: RetrySpec = Field(default_factory=RetrySpec)
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    segments: list[SegmentOverride] = Field(default_factory=list)
    calibration: dict[str, Any] | None = Field(
        default=None, description="a fitted calibrator (see `catalyst calibrate`), applied to the aggregate")
    # what is written changes, not verdicts: excluded from dumps, so from the policy version hash
    log: LogSpec = Field(default_factory=LogSpec, exclude=True, description="what the log may keep (redaction)")
    # monitoring rules for `catalyst watch` (catalyst.monitor.rules); they never change a verdict: not hashed
    alerts: list[AlertRule] = Field(default_factory=list, exclude=True, description="alert rules (catalyst watch)")

    @model_validator(mode="after")
    def _unique_labels(self) -> Policy:
        seen: set[str] = set()
        for spec in self.checks:
            if spec.label in seen:
                raise ValueError(f"check `{spec.label}` appears twice; give one an `as: other_name`")
            seen.add(spec.label)
        labels = seen
        for seg in self.segments:
            for key in [*seg.checks, *seg.weights]:
                if key not in labels:
                    raise ValueError(f"segment override names check `{key}`, which the policy does not use; "
                                     f"used: {', '.join(sorted(labels))}")
        return self

    @classmethod
    def of(cls, *checks: Any, name: str = "inline", **settings: Any) -> Policy:
        """A policy from check instances: ``Policy.of(NonEmpty(), Length(max_chars=400), thresholds={...})``."""
        from catalyst.checks import Check

        specs = []
        for c in checks:
            if not isinstance(c, Check):
                raise TypeError(f"Policy.of takes Check instances, got {type(c).__name__}")
            specs.append(CheckSpec(check=c.name, config=c.model_dump(exclude_defaults=True)))
        return cls(name=name, checks=specs, **settings)

    def normalised(self) -> dict[str, Any]:
        """Content that defines behaviour (description excluded), with check defaults resolved."""
        from catalyst import registry

        data = self.model_dump(mode="json", exclude={"description", "plugins"}, by_alias=True)  # where code lives
        for spec, out in zip(self.checks, data["checks"], strict=True):
            # invalid config is reported by compile; then hash what was written
            with contextlib.suppress(Exception):
                out["config"] = registry.get(spec.check)(**spec.config).model_dump(mode="json")
        return data

    @property
    def version(self) -> str:
        """``name@hash7``: changes whenever behaviour-relevant content changes; written on every verdict."""
        digest = hashlib.sha256(orjson.dumps(self.normalised(), option=orjson.OPT_SORT_KEYS)).hexdigest()
        return f"{self.name}@{digest[:7]}"


def _expand_entry(entry: Any) -> Any:
    """``- length: {max_chars: 3}\\n  weight: 2`` → ``{check: length, config: {...}, weight: 2}``."""
    if isinstance(entry, str):
        return {"check": entry}
    if not isinstance(entry, dict) or "check" in entry:
        return entry
    names = [k for k in entry if k not in RESERVED_KEYS]
    if len(names) != 1:
        raise ValueError(
            "a check entry names exactly one check, like `- length: {max_chars: 400}`; "
            f"found {names or 'none'} (policy keys allowed beside it: {', '.join(RESERVED_KEYS)})")
    name = names[0]
    config = entry[name]
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"settings of check `{name}` must be a mapping, like `{name}: {{threshold: 0.7}}`")
    out = {k: entry[k] for k in RESERVED_KEYS if k in entry}
    out.update(check=name, config=config)
    return out
