"""Validate real completions with real logprobs from a local model (the optional real-model lane).

Needs llama.cpp's OpenAI-compatible server with the packaged Gemma 3 270M (``scripts/local_model.sh
start``; ``scripts/local_model.sh validate`` starts it, runs this, and stops it). Not part of the test run.

What it does, through the same code paths as production (catalyst.llm client, Validator, checks):

1. **Real logprobs, teacher-forced.** For each question it scores a correct and a wrong answer with the
   ``logprob`` check (``/v1/completions`` + ``echo``) and reports how often the correct one scores higher.
2. **Real completions, validated.** The model answers each question; the answer is validated with a
   policy of ``logprob`` + ``consistency`` (samples drawn from the same model), and the verdicts printed.

    python scripts/validate_local_model.py --base-url http://127.0.0.1:8765/v1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

QA = [  # question, a correct short answer, a wrong one
    ("What is the capital of France?", "Paris.", "Madrid."),
    ("What is the largest planet in the Solar System?", "Jupiter.", "Mercury."),
    ("How many legs does a spider have?", "Eight.", "Three."),
    ("What is the chemical symbol for gold?", "Au.", "Fe."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare.", "Charles Dickens."),
    ("What is the boiling point of water at sea level in degrees Celsius?", "100 degrees.", "37 degrees."),
    ("What colour is the sky on a clear day?", "Blue.", "Green."),
    ("What is the capital of Japan?", "Tokyo.", "Cairo."),
]
TEMPLATE = "Q: {input}\nA: "


def _policy(samples: int) -> Any:
    from catalyst.policy import loads_policy

    return loads_policy(f"""
name: local-model-lane
checks:
  - logprob: {{source: model, mode: score, prompt_template: "Q: {{input}}\\nA: ", threshold: 0.3}}
  - consistency: {{endpoint: completions, prompt_template: "Q: {{input}}\\nA:", num_samples: {samples},
                   max_tokens: 16, temperature: 0.8}}
thresholds: {{accept: 0.6, block: 0.1}}
""")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-url", default="http://127.0.0.1:8765/v1")
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--items", type=int, default=len(QA))
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from catalyst import Interaction
    from catalyst._sync import run_async_in_loop
    from catalyst.checks import CheckContext
    from catalyst.llm import LLM, LLMConfig
    from catalyst.validator import Validator
    from catalyst_checks.logprob import LogprobConfidence

    console = Console()
    llm = LLM(LLMConfig(base_url=args.base_url, model=args.model, timeout=args.timeout, max_retries=1,
                        deadline=args.timeout * 2, concurrency=1, budget_calls=32, budget_tokens=100_000))
    items = QA[: args.items]
    lp_check = LogprobConfidence(source="model", mode="score", prompt_template=TEMPLATE)
    results: dict[str, Any] = {"pairs": [], "answers": []}
    t0 = time.perf_counter()

    # 1. correct vs wrong answers, teacher-forced
    pairs = Table(title="teacher-forced token probability: correct vs wrong answer")
    for col in ("question", "correct", "p̄ correct", "wrong", "p̄ wrong"):
        pairs.add_column(col)
    wins = 0
    for q, good, bad in items:
        scores = []
        for ans in (good, bad):
            ctx = CheckContext(Interaction(input=q, output=ans), {"llm": llm})
            scores.append(run_async_in_loop(lp_check.run(ctx)))
        wins += scores[0].score > scores[1].score
        pairs.add_row(q, good, f"{scores[0].score:.3f}", bad, f"{scores[1].score:.3f}")
        results["pairs"].append({"question": q, "correct": good, "wrong": bad, "p_correct": scores[0].score,
                                 "p_wrong": scores[1].score, "min_correct": scores[0].details["min_prob"],
                                 "min_wrong": scores[1].details["min_prob"]})
    console.print(pairs)
    console.print(f"correct answer scored higher in {wins}/{len(items)} pairs")
    results["pairwise_accuracy"] = wins / len(items)

    # 2. real completions, validated
    validator = Validator(_policy(args.samples), services={"llm": llm})
    table = Table(title="the model's own answers, validated (logprob + consistency)")
    for col in ("question", "answer", "logprob", "consistency", "confidence", "decision"):
        table.add_column(col)
    latencies = []
    for q, _, _ in items:
        t = time.perf_counter()
        # generate after "A:" (no trailing space: the model's own first token carries the space), score after "A: "
        resp = llm.complete(TEMPLATE.format(input=q).rstrip(" "), max_tokens=24, temperature=0, stop=["\n"])
        answer = resp.choices[0].text.strip() or "(empty)"
        v = validator.validate({"input": q, "output": answer})
        latencies.append(time.perf_counter() - t)
        by = {c.name: c for c in v.checks}

        def cell(name: str, by: dict[str, Any] = by) -> str:
            c = by.get(name)
            if c is None:
                return "-"
            return f"error: {c.error[:40]}" if c.error else f"{c.score:.3f}"

        table.add_row(q, answer, cell("logprob"), cell("consistency"), f"{v.confidence:.2f}", str(v.decision))
        results["answers"].append({"question": q, "answer": answer, "decision": str(v.decision),
                                   "confidence": v.confidence,
                                   "checks": {c.name: {"score": c.score, "error": c.error} for c in v.checks}})
    console.print(table)
    results["seconds_per_answer_median"] = statistics.median(latencies)
    results["model_calls"] = llm.total.calls
    results["total_seconds"] = time.perf_counter() - t0
    console.print(f"model calls: {llm.total.calls}; tokens: {llm.total.tokens}; median seconds per validated "
                  f"answer: {results['seconds_per_answer_median']:.1f}; total {results['total_seconds']:.0f}s")
    llm.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    errors = sum(1 for a in results["answers"] for c in a["checks"].values() if c["error"])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
