"""Choose accept/block thresholds for a goal, and say what they will do before anyone writes them.

Two goals:

* ``target_precision``: the lowest accept threshold whose accepted answers are at least that precise
  (review everything else that is not blocked);
* ``review_budget``: the highest accept threshold that sends at most that share of answers to review.

The block threshold is the highest one whose blocked answers are at most ``block_max_correct`` correct (a
block should almost never hit a good answer). Thresholds are only placed at observed scores, and the outcome
is measured twice: in-sample, and by tuning on one half of the records (split by id hash) and measuring on the
other — the second is what to expect on new traffic.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from catalyst.errors import ConfigError
from catalyst.evaluation.metrics import as_labels, as_scores, review_rate_for_error

__all__ = ["TUNE_SLACK", "Outcome", "Thresholds", "hash_split", "outcome", "tradeoff_warnings", "tune"]


@dataclass(frozen=True)
class Thresholds:
    accept: float
    block: float
    achievable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def for_policy(self) -> dict[str, float]:
        """``{accept, block}`` for a policy file, rounded *down* to 6 decimals: a threshold placed at an observed
        score must not round above it (``round`` would turn 0.99504950 into 0.99505 and accept nothing)."""
        return {"accept": math.floor(self.accept * 1e6) / 1e6, "block": math.floor(self.block * 1e6) / 1e6}


@dataclass(frozen=True)
class Outcome:
    """What a pair of thresholds does on labelled records."""

    n: int
    accept_rate: float
    review_rate: float
    block_rate: float
    precision_accepted: float | None
    correct_blocked: float | None  # share of blocked answers that were in fact correct

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome(y: Any, conf: Any, th: Thresholds) -> Outcome:
    yy = as_labels(y)
    c = as_scores(conf, n=yy.size)
    acc = c >= th.accept
    blk = (c < th.block) & ~acc
    return Outcome(n=int(yy.size), accept_rate=float(acc.mean()), review_rate=float((~acc & ~blk).mean()),
                   block_rate=float(blk.mean()),
                   precision_accepted=float(yy[acc].mean()) if acc.any() else None,
                   correct_blocked=float(yy[blk].mean()) if blk.any() else None)


def _block_threshold(y: np.ndarray, c: np.ndarray, max_correct: float) -> float:
    order = np.argsort(c, kind="mergesort")
    cs, ys = c[order], y[order].astype(float)
    ends = np.r_[np.flatnonzero(cs[1:] != cs[:-1]), cs.size - 1]
    share = np.cumsum(ys)[ends] / (ends + 1)
    ok = np.flatnonzero(share <= max_correct + 1e-12)
    if ok.size == 0:
        return 0.0
    j = int(ok[-1])
    # block = everything strictly below the next distinct score
    return float(cs[ends[j] + 1]) if ends[j] + 1 < cs.size else float(np.nextafter(cs[-1], 2.0))


def tune(y: Any, conf: Any, *, target_precision: float | None = None, review_budget: float | None = None,
         block_max_correct: float = 0.05) -> Thresholds:
    """Thresholds for exactly one of ``target_precision`` / ``review_budget`` (see module docstring)."""
    if (target_precision is None) == (review_budget is None):
        raise ConfigError("give exactly one goal: --target-precision (e.g. 0.95) or --review-budget (e.g. 0.10)")
    yy = as_labels(y)
    c = as_scores(conf, n=yy.size)
    block = _block_threshold(yy, c, block_max_correct)
    if target_precision is not None:
        if not 0.0 < target_precision <= 1.0:
            raise ConfigError(f"--target-precision must be in (0, 1], got {target_precision}")
        tr = review_rate_for_error(yy, c, 1.0 - target_precision)
        if not tr.achievable or tr.threshold is None:
            return Thresholds(accept=1.0, block=min(block, 1.0), achievable=False)
        accept = tr.threshold
    else:
        assert review_budget is not None
        if not 0.0 <= review_budget <= 1.0:
            raise ConfigError(f"--review-budget must be in [0, 1], got {review_budget}")
        below_block = float((c < block).mean())
        q = min(1.0, below_block + review_budget)
        cs = np.sort(c)
        k = int(np.floor(q * cs.size + 1e-9))  # at most k answers fall below accept
        # ties at cs[k] are accepted, so at most k answers fall below the accept threshold
        accept = float(np.nextafter(cs[-1], 2.0)) if k >= cs.size else float(cs[k])
    accept = min(max(accept, 0.0), 1.0)
    return Thresholds(accept=accept, block=min(block, accept))


def hash_split(ids: Any, test_share: float = 0.5, salt: str = "catalyst-tune") -> np.ndarray:
    """True for rows in the test part, decided by a hash of the id (stable across runs and machines)."""
    keys = [hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest() for i in ids]
    vals = np.frombuffer(b"".join(keys), dtype=">u8").astype(float) / 2.0**64
    return vals < test_share


#: How far an outcome may fall short of the goal before ``tune`` warns (sampling noise on a few hundred labels).
TUNE_SLACK = 0.02


def tradeoff_warnings(goal: dict[str, Any], now: Any, new: Any, held: Any | None) -> list[str]:
    """What the tuned thresholds cost beyond what was asked, in plain sentences (empty: nothing)."""
    out: list[str] = []
    target, budget = goal.get("target_precision"), goal.get("review_budget")
    if target is not None:
        if new.precision_accepted is not None and new.precision_accepted < target - 1e-9:
            out.append(f"precision of accepted answers is {new.precision_accepted:.3f}, below the target {target}")
        if held is not None and held.precision_accepted is not None and held.precision_accepted < target - TUNE_SLACK:
            out.append(f"on held-out records the precision is {held.precision_accepted:.3f}, below the target "
                       f"{target}: expect less on new traffic; label more answers or raise the target")
        if new.review_rate > now.review_rate + TUNE_SLACK:
            out.append(f"to reach precision {target} the review rate rises from {now.review_rate:.1%} to "
                       f"{new.review_rate:.1%} (accepted: {now.accept_rate:.1%} → {new.accept_rate:.1%})")
    if budget is not None:
        if new.review_rate > budget + 1e-9:
            out.append(f"review rate {new.review_rate:.1%} exceeds the budget {budget:.1%} (tied scores)")
        p0, p1 = now.precision_accepted, new.precision_accepted
        if p0 is not None and p1 is not None and p1 < p0 - TUNE_SLACK:
            out.append(f"the review budget {budget:.0%} costs precision: accepted answers are right {p1:.3f} of the "
                       f"time instead of {p0:.3f} (accepting {new.accept_rate:.1%} instead of {now.accept_rate:.1%})")
    cap = goal.get("block_max_correct")
    if cap is not None and new.correct_blocked is not None and new.correct_blocked > cap + 1e-9:
        out.append(f"{new.correct_blocked:.1%} of blocked answers are correct, more than --block-max-correct {cap}")
    return out
