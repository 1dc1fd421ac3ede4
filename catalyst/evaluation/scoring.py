"""Scores for evaluation: re-aggregate precomputed check scores under a policy, or validate raw records.

:func:`rescore` is the vectorised twin of the engine's decide step (``catalyst.engine.aggregate`` and
``decide``): weights, aggregate method, calibrator, thresholds, ``on_fail`` rules and segment overrides,
applied to whole columns at once. It lets one file of check scores be replayed under any number of policies
(two policies side by side, a new calibrator, tuned thresholds) in milliseconds, without re-running checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from catalyst.errors import ConfigError
from catalyst.evaluation.data import EvalData, from_columns

__all__ = ["check_columns", "decide", "rescore", "scored_from_records"]

_SEVERITY = {"accept": 0, "retry": 1, "review": 2, "block": 3}
_BY_SEVERITY = np.array(list(_SEVERITY), dtype=object)


def check_columns(data: EvalData, labels: Iterable[str]) -> dict[str, np.ndarray]:
    """Score columns for the given check labels (NaN where the data has none)."""
    n = len(data)
    return {lab: data.score(lab) if lab in data.check_names else np.full(n, np.nan) for lab in labels}


def _evidence_steps(plan: Any) -> list[Any]:
    return [st for st in plan.steps if st.label in plan.evidence]


def _aggregate(plan: Any, data: EvalData, method: str) -> np.ndarray:
    """The engine's ``aggregate`` on columns: evidence checks only; NaN where none scored (not verified)."""
    steps = _evidence_steps(plan)
    n = len(data)
    if not steps:
        return np.full(n, np.nan)
    s = np.column_stack([data.score(st.label) if st.label in data.check_names else np.full(n, np.nan)
                         for st in steps])
    w = np.array([st.weight for st in steps], dtype=float)
    valid = np.isfinite(s) & (w > 0)
    den = (valid * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "min":
            conf = np.where(valid, s, np.inf).min(axis=1)
        elif method == "geometric_mean":
            conf = np.exp((np.where(valid, np.log(np.maximum(np.nan_to_num(s, nan=1.0), 1e-6)), 0) * w).sum(1) / den)
        else:
            conf = (np.where(valid, s, 0.0) * w).sum(axis=1) / den
    return np.where(den > 0, conf, np.nan)


def _passed(plan: Any, data: EvalData) -> np.ndarray:
    n = len(data)
    cols = []
    for st in plan.steps:
        if st.label not in data.check_names:
            cols.append(np.full(n, np.nan))
            continue
        j = data.check_names.index(st.label)
        p = data.passed[:, j]
        sc = data.scores[:, j]
        # a missing `passed` is re-derived from the score and this policy's threshold for the check
        derived = np.where(np.isfinite(sc), (sc >= st.check.threshold).astype(float), np.nan)
        cols.append(np.where(np.isfinite(p), p, derived))
    return np.column_stack(cols) if cols else np.full((n, 0), np.nan)


def decide(confidence: np.ndarray, accept: float, block: float) -> np.ndarray:
    """Decisions from confidences and thresholds (``>= accept`` accept, ``< block`` block, else review)."""
    return np.where(confidence >= accept, "accept", np.where(confidence < block, "block", "review")).astype(object)


def _segment_mask(data: EvalData, match: dict[str, Any]) -> np.ndarray:
    m = np.ones(len(data), dtype=bool)
    for k, v in match.items():
        col = data.segments.get(str(k))
        if col is None:
            return np.zeros(len(data), dtype=bool)
        m &= col.astype(str) == str(v)
    return m


def _unverified_decision(policy: Any, data: EvalData) -> np.ndarray:
    """``on_unverified`` per row; ``no_context`` applies where the data says the record had no context.

    Raw records and lines with a ``context`` key say so; a verdict line carries no context, so there the
    ``default`` branch is replayed (an unverified answer's logged decision may differ under a ``no_context``).
    """
    spec = policy.policy.on_unverified
    out = np.full(len(data), spec.default, dtype=object)
    if spec.no_context is not None and data.has_context is not None:
        out[data.has_context == 0.0] = spec.no_context
    return out


def rescore(data: EvalData, policy: Any, *, calibrator: Any = "policy") -> tuple[np.ndarray, np.ndarray]:
    """(confidence, decision) for every row under ``policy`` (a CompiledPolicy), from the data's check scores.

    The twin of the engine's decide step: confidence from evidence checks only (NaN where none scored: not
    verified, decided by ``on_unverified``), then rules (``on_fail``; a rule check failing without one: review).
    ``calibrator="policy"`` uses the policy's own; pass a Calibrator to try another, or None for none.
    """
    labels = [st.label for st in policy.default.steps]
    present = [lab for lab in labels if lab in data.check_names]
    if not present:
        raise ConfigError(
            f"the data has scores for checks {data.check_names or 'none'}, but policy `{policy.name}` uses "
            f"{labels}; give raw records so they can be validated, or scores from the same checks")
    cal = policy.calibrator if calibrator == "policy" else calibrator
    n = len(data)
    conf = np.empty(n)
    decision = np.empty(n, dtype=object)
    todo = np.ones(n, dtype=bool)
    unverified = _unverified_decision(policy, data)
    for match, plan in [*policy.overrides, ({}, policy.default)]:
        m = todo & _segment_mask(data, match) if match else todo.copy()
        if not m.any():
            continue
        sub = data.take(m)
        c = _aggregate(plan, sub, policy.policy.aggregate)
        ok = np.isfinite(c)
        if cal is not None and ok.any():
            cols = {k: v[ok] for k, v in check_columns(sub, sorted(plan.evidence)).items()}
            c[ok] = cal.apply_many(c[ok], cols) if hasattr(cal, "apply_many") else \
                np.array([cal(ci, {k: v[i] for k, v in cols.items()}) for i, ci in enumerate(c[ok])])
        c = np.where(ok, np.clip(c, 0.0, 1.0), np.nan)
        with np.errstate(invalid="ignore"):
            d = np.where(ok, decide(np.nan_to_num(c), plan.thresholds.accept, plan.thresholds.block),
                         unverified[m]).astype(object)
        passed = _passed(plan, sub)
        sev = np.select([d == k for k in _SEVERITY], list(_SEVERITY.values()), 0) if d.size else np.zeros(0, int)
        retry = np.zeros(sev.shape, dtype=bool)
        rule_sev = np.zeros(sev.shape, dtype=int)
        for j, st in enumerate(plan.steps):
            if st.on_fail is None and st.label in plan.evidence:
                continue  # an evidence check without on_fail acts through the confidence only
            rule = "review" if st.on_fail is None else str(getattr(st.on_fail, "value", st.on_fail))
            fired = passed[:, j] == 0.0
            if rule == "retry":
                retry |= fired
            else:
                rule_sev = np.where(fired, np.maximum(rule_sev, _SEVERITY[rule]), rule_sev)
        # a retry rule replaces the decision (the new answer is screened again) unless a stricter rule fired
        sev = np.where(retry & (rule_sev == 0), _SEVERITY["retry"], np.maximum(sev, rule_sev))
        conf[m] = c
        decision[m] = _BY_SEVERITY[sev] if sev.size else d
        todo &= ~m
    return conf, decision


def scored_from_records(records: list[dict[str, Any]], policy: Any, *, batch_size: int = 2000) -> EvalData:
    """Validate raw labelled records with :class:`catalyst.Validator` and return their scored columns."""
    from catalyst.records import Interaction
    from catalyst.validator import Validator

    inter = [Interaction.model_validate(r) for r in records]
    verdicts = Validator(policy).validate_many(inter, batch_size=batch_size)
    names = sorted({c.name for v in verdicts for c in v.checks})
    cols: dict[str, list[float]] = {k: [] for k in names}
    for v in verdicts:
        got = {c.name: (np.nan if c.score is None or c.error else c.score) for c in v.checks}
        for k in names:
            cols[k].append(got.get(k, np.nan))
    seg_keys = sorted({k for r in inter for k in r.segment})
    data = from_columns(
        [np.nan if r.label is None else r.label for r in inter],
        [np.nan if v.confidence is None else v.confidence for v in verdicts],
        checks={k: np.array(v) for k, v in cols.items()}, output_chars=[len(r.output) for r in inter],
        segments={k: [None if k not in r.segment else str(r.segment[k]) for r in inter] for k in seg_keys},
        ids=[r.id for r in inter], has_context=[float(any(p.strip() for p in r.context)) for r in inter])
    data.decision = np.array([str(v.decision) for v in verdicts], dtype=object)
    data.passed = np.column_stack([
        np.array([next((float(c.passed) for c in v.checks if c.name == k), np.nan) for v in verdicts])
        for k in names]) if names else data.passed
    return data
