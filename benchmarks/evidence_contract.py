"""Evidence, not pass marks (issue 11): the shipped default policy's confidence before and after, in one run.

"Before" is the old decide step recomputed from the same check results: a weighted mean of every check's score
in the old default policy (non_empty 1, length 1, denylist 0.5, grounding 1; grounding without context or without
a claim counted 1.0, as it then returned), with grounding's old `on_fail: review` overriding the thresholds.
"After" is the verdict the engine gives now: the confidence is grounding's (the one evidence check), rules act only
through `on_fail`, and an answer no evidence check scored is `evidence: none` with no confidence.

Part 1: the cases of issue 11 on one hand-made context. Part 2: the bundled labelled demo (300 HaluEval items:
QA, dialogue, summarization). Part 3: the inline `validate()` hot path (median ms), goal ≤ 2 ms.

    python benchmarks/evidence_contract.py
"""

from __future__ import annotations

import statistics
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, show, write_section

import catalyst
from catalyst.evaluation import auroc, ece

CONTEXT = ["The Golden Gate Bridge opened to traffic on May 27, 1937. Its main span is 1,280 meters long; the bridge "
           "links San Francisco and Marin County and was designed by Joseph Strauss."]
CASES = [
    ("correct, near the context's words", "The Golden Gate Bridge opened to traffic on May 27, 1937.", CONTEXT),
    ("correct, reworded", "It was opened to traffic in 1937; its main span measures 1,280 m.", CONTEXT),
    ("numbers changed", "The Golden Gate Bridge opened to traffic on June 3, 1952.", CONTEXT),
    ("invented", "The bridge was designed by Gustave Eiffel and painted blue for the 1901 World's Fair in Lyon.",
     CONTEXT),
    ("negates the context", "The Golden Gate Bridge did not open to traffic in 1937.", CONTEXT),
    ('"I don\'t know."', "I don't know.", CONTEXT),
    ("no context, invented numbers", "The bridge opened in 1952 and is 2,400 meters long.", []),
]
OLD_WEIGHTS = {"non_empty": 1.0, "length": 1.0, "denylist": 0.5, "grounding": 1.0}
OLD_RULES = {"non_empty": "block", "length": "review", "denylist": "review", "grounding": "review"}
SEV = {"accept": 0, "retry": 1, "review": 2, "block": 3}


def old_verdict(v: catalyst.Verdict) -> tuple[float, str]:
    """The pre-issue-11 decide step on the same check results (see the module docstring)."""
    num = den = 0.0
    fired = None
    for c in v.checks:
        if c.name not in OLD_WEIGHTS:
            continue  # the old default policy ran these four checks only
        score = 1.0 if c.score is None and c.error is None else c.score  # unscored grounding used to say 1.0
        if score is None:
            continue
        w = OLD_WEIGHTS.get(c.name, 1.0)
        num, den = num + w * score, den + w
        failed = not c.passed if c.name != "grounding" else score < 0.5
        rule = OLD_RULES.get(c.name)
        if failed and rule and (fired is None or SEV[rule] > SEV[fired]):
            fired = rule
    conf = num / den if den else 1.0
    decision = "accept" if conf >= 0.8 else "block" if conf < 0.3 else "review"
    return conf, fired or decision


def fmt(c: float | None) -> str:
    return "not verified" if c is None else f"{c:.3f}"


def cases() -> list[list[str]]:
    v = catalyst.Validator("default")
    rows = []
    for name, text, ctx in CASES:
        got = v.validate({"input": "When did the Golden Gate Bridge open?", "output": text, "context": ctx})
        oc, od = old_verdict(got)
        rows.append([name, f"{oc:.3f} {od}", f"{fmt(got.confidence)} {got.decision.value}", got.evidence,
                     (got.reasons or ["—"])[0][:130]])
    return rows


def balanced_accuracy(y: np.ndarray, decision: np.ndarray) -> float:
    """Accept = "correct", anything else = "not accepted"; the mean of the two per-class hit rates."""
    acc = decision == "accept"
    return float((acc[y == 1].mean() + (~acc[y == 0]).mean()) / 2)


def demo() -> list[list[str]]:
    path = Path(str(files("catalyst") / "data" / "demo.jsonl"))
    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    verdicts = catalyst.Validator("default").validate_many(records)
    y = np.array([r["label"] for r in records])
    old = [old_verdict(v) for v in verdicts]
    rows = []
    for name, conf, dec in (
            ("before: mean of pass marks", np.array([c for c, _ in old]), np.array([d for _, d in old])),
            ("after: evidence only", np.array([np.nan if v.confidence is None else v.confidence for v in verdicts]),
             np.array([v.decision.value for v in verdicts]))):
        ok = np.isfinite(conf)
        acc = dec == "accept"
        rows.append([name, f"{auroc(y[ok], conf[ok]):.3f}", f"{ece(y[ok], conf[ok]):.3f}",
                     f"{balanced_accuracy(y, dec):.3f}",
                     " / ".join(f"{np.mean(dec == d):.0%}" for d in ("accept", "review", "block")),
                     f"{y[acc].mean():.3f}" if acc.any() else "–",
                     f"{np.mean(dec[y == 0] == 'accept'):.1%}", f"{np.mean(dec[y == 1] == 'block'):.1%}",
                     str(int((~ok).sum()))])
    return rows


def hot_path(n: int = 400) -> list[list[str]]:
    from catalyst import engine

    v = catalyst.Validator("default")
    answer = ("The Golden Gate Bridge opened to traffic on May 27, 1937, after four years of work. " * 7)[:600]
    rows = []
    policy = catalyst.load_policy("default")
    for name, rec in (("decide() alone: scored", {"output": answer, "context": CONTEXT}),
                      ("decide() alone: not verified", {"output": answer})):
        item = engine.make_items([catalyst.Interaction.model_validate(rec)])[0]
        item.results = list(v.validate(rec).checks)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            for _ in range(50):
                engine.decide(item, policy)
            times.append((time.perf_counter() - t0) * 1000 / 50)
        rows.append([name, f"{statistics.median(times):.4f}", f"{sorted(times)[int(0.95 * n)]:.4f}"])
    for name, rec in (("600-char answer, context", {"output": answer, "context": CONTEXT}),
                      ("600-char answer, no context", {"output": answer})):
        for _ in range(20):
            v.validate(rec)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            v.validate(rec)
            times.append((time.perf_counter() - t0) * 1000)
        rows.append([name, f"{statistics.median(times):.3f}", f"{sorted(times)[int(0.95 * n)]:.3f}"])
    return rows


def main() -> None:
    where = machine()
    c = cases()
    cols_c = ["answer (one hand-made context)", "before: confidence, decision", "after", "evidence",
              "after: first reason"]
    show("default policy, issue 11's cases", cols_c, c)
    d = demo()
    cols_d = ["demo (300 labelled, HaluEval)", "AUROC", "ECE", "balanced acc. of decision",
              "accept / review / block", "precision of accepted", "wrong accepted", "right blocked", "not verified"]
    show("default policy on the bundled demo", cols_d, d)
    h = hot_path()
    cols_h = ["default policy, 600-char answer", "median ms", "p95 ms"]
    show("hot path: decide() and the whole inline validate()", cols_h, h)
    write_section("evidence_contract", "\n\n".join([
        "## Evidence, not pass marks: the default policy before and after (`benchmarks/evidence_contract.py`)",
        f"{where}. \"Before\" is the old decide step (weighted mean of every check's score; grounding's old "
        "`on_fail: review`) recomputed from the same check results in the same run; \"after\" is today's verdict "
        "(confidence = the grounding evidence; rules act through `on_fail`; no evidence → `not verified`). "
        + ("The default policy's confidence is the grounding score through its shipped calibrator. "
           if catalyst.load_policy("default").calibrator is not None else
           "The default policy carries no calibrator: its thresholds act on the raw grounding score. ")
        + "`decide()` is this "
        "change's part of the hot path; the whole `validate()` also runs the default policy's safety screens "
        "(secrets, pii patterns, injection, leakage).",
        markdown_table(cols_c, c), markdown_table(cols_d, d), markdown_table(cols_h, h)]))


if __name__ == "__main__":
    main()
