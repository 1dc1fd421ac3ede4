"""Stable draws from an id: which accepted answers are audited, which requests go to a canary.

Both are pure functions of the interaction id and a rate — no state, no I/O, no randomness at run time — so
every process (workers, the proxy, a replay) makes the same choice for the same id, and a log can say after
the fact which ids were in the sample. The two draws use different salts, so the audit sample is
independent of the canary split.
"""

from __future__ import annotations

import hashlib
from typing import Any

_SCALE = float(2 ** 64)


def _unit(salt: bytes, id: str) -> float:
    digest = hashlib.blake2b(id.encode("utf-8", "surrogatepass"), digest_size=8, person=salt).digest()
    return int.from_bytes(digest, "big") / _SCALE


def audit_draw(id: str, rate: float) -> bool:
    """True when an accepted answer with this id belongs to the audit sample at ``rate`` (0 ≤ rate ≤ 1)."""
    if rate <= 0.0:
        return False
    return rate >= 1.0 or _unit(b"catalyst-audit", id) < rate


def canary_draw(id: str, share: float) -> bool:
    """True when the request with this id is routed to the challenger at canary ``share``.

    Monotone in ``share``: an id routed at 5% stays routed at 20%, so raising the share in steps only adds ids.
    """
    if share <= 0.0:
        return False
    return share >= 1.0 or _unit(b"catalyst-canary", id) < share


#: policy version → audit rate, filled when a policy with ``review.audit_sample`` compiles (in every process
#: that compiles it: workers too), read where review items are made (``catalyst.store``)
_RATES: dict[str, float] = {}


def remember_audit_rate(version: str, rate: float) -> None:
    if rate > 0:
        _RATES[version] = rate
    else:
        _RATES.pop(version, None)


def audited(verdict: Any) -> bool:
    """True when this accepted verdict is in its policy's audit sample (goes to review, marked as audit)."""
    if not _RATES or str(verdict.decision) != "accept":
        return False
    return audit_draw(verdict.id, _RATES.get(verdict.policy, 0.0))
