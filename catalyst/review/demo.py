"""Synthetic review items (interaction + ``review`` verdict with evidence) for demos, tests and benchmarks.

They enter the queue the real way — ``Store.add`` + ``flush`` — so everything downstream (priority,
claims, the item view) sees exactly what a validation run would have written.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from catalyst.records import CheckResult, Decision, Evidence, Interaction, Verdict
from catalyst.store import Store

_FACTS = [
    ("When was the Eiffel Tower completed?", "The Eiffel Tower was completed in 1889 for the World's Fair.",
     "It was completed in 1899.", "1899"),
    ("Who wrote 'On the Origin of Species'?", "Charles Darwin published On the Origin of Species in 1859.",
     "It was written by Alfred Wallace.", "Alfred Wallace"),
    ("What is the boiling point of water at sea level?", "At sea level water boils at 100 degrees Celsius.",
     "Water boils at 90 degrees Celsius at sea level.", "90 degrees"),
    ("How many moons does Mars have?", "Mars has two small moons, Phobos and Deimos.",
     "Mars has three moons.", "three"),
]


def review_pair(i: int, rng: random.Random, *, policy: str = "demo@0000000") -> tuple[Interaction, Verdict]:
    """One doubtful answer: the doubted span points at the wrong fact, passage 0 supports the right one."""
    q, passage, answer, wrong = _FACTS[i % len(_FACTS)]
    start = answer.index(wrong)
    conf = round(rng.uniform(0.3, 0.8), 4)
    rec = Interaction(id=f"item-{i:05d}", input=q, output=answer,
                      context=[passage, "An unrelated passage about the weather in Paris."],
                      metadata={"model": "demo-1"})
    grounding = CheckResult(name="grounding", score=conf, passed=False, evidence=[
        Evidence(start=start, end=start + len(wrong), reason=f"`{wrong}` is not supported by the context"),
        Evidence(start=0, end=len(passage), field="context", passage=0, reason="closest passage; disagrees")])
    length = CheckResult(name="length", score=1.0, passed=True)
    v = Verdict(id=rec.id, confidence=conf, decision=Decision.REVIEW, policy=policy, checks=[grounding, length],
                reasons=[f"confidence {conf:.2f} is in the review band [0.30, 0.80)"])
    return rec, v


def pairs(n: int, *, seed: int = 0, start: int = 0) -> Iterator[tuple[Interaction, Verdict]]:
    rng = random.Random(seed)
    for i in range(start, start + n):
        yield review_pair(i, rng)


def fill(store: Store, n: int, *, seed: int = 0, start: int = 0) -> int:
    """Put ``n`` review items in the log behind ``store``; returns how many were written."""
    store.add(pairs(n, seed=seed, start=start))
    return store.flush()
