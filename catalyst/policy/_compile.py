"""Build, then compile: a validated ``Policy`` becomes check instances and per-segment plans, or fails now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from catalyst import registry
from catalyst.checks import Check
from catalyst.errors import PolicyError, UnknownCheckError
from catalyst.monitor.audit import remember_audit_rate
from catalyst.policy._model import Policy, Thresholds
from catalyst.records import Decision

LineOf = Callable[[tuple[Any, ...]], str | None]


@dataclass(frozen=True, slots=True)
class Step:
    """One check as the policy uses it."""

    label: str
    check: Check
    weight: float
    on_fail: Decision | None
    costly: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """What runs for one segment: cheap steps first, costly ones only on doubt."""

    cheap: tuple[Step, ...]
    costly: tuple[Step, ...]
    thresholds: Thresholds
    steps: tuple[Step, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    rules: dict[str, Decision] = field(default_factory=dict)
    evidence: frozenset[str] = frozenset()  # labels of evidence checks (``Check.evidence``): they make confidence

    @classmethod
    def build(cls, cheap: list[Step], costly: list[Step], thresholds: Thresholds) -> Plan:
        steps = (*cheap, *costly)
        return cls(cheap=tuple(cheap), costly=tuple(costly), thresholds=thresholds, steps=steps,
                   weights={s.label: s.weight for s in steps},
                   rules={s.label: s.on_fail for s in steps if s.on_fail is not None},
                   evidence=frozenset(s.label for s in steps if type(s.check).evidence))


@dataclass
class CompiledPolicy:
    """A policy ready to run. ``plan_for(segment)`` picks the segment's overrides."""

    policy: Policy
    version: str
    source: str | None
    default: Plan
    overrides: list[tuple[dict[str, Any], Plan]] = field(default_factory=list)
    calibrator: Any = None

    @property
    def name(self) -> str:
        return self.policy.name

    def plan_of(self, record: Any) -> Plan:
        """The plan for an interaction (its ``metadata.segment``)."""
        return self.plan_for(record.segment) if self.overrides else self.default

    def plan_for(self, segment: dict[str, Any]) -> Plan:
        if segment and self.overrides:
            for match, plan in self.overrides:
                if all(segment.get(k) == v for k, v in match.items()):
                    return plan
        return self.default


def _instantiate(name: str, config: dict[str, Any], where: LineOf, path: tuple[Any, ...]) -> Check:
    try:
        cls = registry.get(name)
    except UnknownCheckError:
        raise UnknownCheckError(registry.unknown_message(name, where(path) or "policy")) from None
    try:
        return cls(**config)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or name
        raise PolicyError(f"check `{name}`: setting `{field}`: {err['msg']}",
                          where=where((*path, *loc)) or where(path)) from None
    except (ValueError, TypeError) as e:
        raise PolicyError(f"check `{name}`: {e}", where=where(path)) from None


def compile_policy(policy: Policy, *, source: str | None = None, where: LineOf | None = None) -> CompiledPolicy:
    """Instantiate every check (default and per segment) so a bad policy fails at load, with file and line."""
    line_of: LineOf = where or (lambda path: None)

    def plan(thresholds: Thresholds, overrides: dict[str, dict[str, Any]], weights: dict[str, float],
             seg_path: tuple[Any, ...] | None) -> Plan:
        cheap: list[Step] = []
        costly: list[Step] = []
        for i, spec in enumerate(policy.checks):
            config = dict(spec.config)
            path: tuple[Any, ...] = ("checks", i, spec.check)
            if spec.label in overrides:
                config.update(overrides[spec.label])
                path = (*(seg_path or ()), "checks", spec.label)
            check = _instantiate(spec.check, config, line_of, path)
            is_costly = type(check).costly if spec.costly is None else spec.costly
            step = Step(label=spec.label, check=check, weight=weights.get(spec.label, spec.weight),
                        on_fail=Decision(spec.on_fail) if spec.on_fail else None, costly=is_costly)
            (costly if is_costly else cheap).append(step)
        return Plan.build(cheap, costly, thresholds)

    default = plan(policy.thresholds, {}, {}, None)
    overrides = []
    for j, seg in enumerate(policy.segments):
        overrides.append((seg.match, plan(seg.thresholds or policy.thresholds, seg.checks, seg.weights,
                                          ("segments", j))))
    calibrator = None
    if policy.calibration is not None:
        from catalyst.calibration import from_policy  # optional part; imported only when a policy uses it

        try:
            calibrator = from_policy(policy.calibration)
        except (ValueError, KeyError, TypeError) as e:
            raise PolicyError(f"calibration: {e}", where=line_of(("calibration",))) from None
    remember_audit_rate(policy.version, policy.review.audit_sample)  # read where review items are made
    return CompiledPolicy(policy=policy, version=policy.version, source=source, default=default,
                          overrides=overrides, calibrator=calibrator)
