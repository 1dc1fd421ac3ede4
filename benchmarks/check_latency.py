"""Per-check latency at 1 and 2 threads, on answers of 140 and 600 characters with 5 passages of ~500.

    python benchmarks/check_latency.py              # both thread counts, writes its BENCHMARKS.md section
    python benchmarks/check_latency.py --reps 20    # fewer repetitions

Each thread count runs in its own process (``CATALYST_THREADS=n``, read by the embedder at first use), so
torch and onnxruntime really get n threads. Measured per answer, models already loaded:

- grounding lexical / full × embedding backend torch / onnx-int8. ``cold`` clears every cache before each
  run (new passages); ``warm`` has the passages cached (RAG passages repeat) but the answer new.
- every other check registered at run time (the registry is iterated), with its default configuration;
  checks that need configuration or a model endpoint are listed as skipped.
- the default policy's cheap suite (``policies/default.yaml``): the sum of its checks per answer, and
  ``Validator.validate`` end to end.
- baselines in the same run: embedding the answer plus the 5 passages with no cache (the cost that a
  grounding score built on embeddings alone would pay on every request).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SECTION = "check_latency"
BUDGET_MS = 45.0

PASSAGES = [
    "The Orion X2 heat pump was released in March 2021 by Nordvent AB, a manufacturer based in Gothenburg, "
    "Sweden. It is rated for outdoor temperatures down to -25 °C and delivers a seasonal coefficient of "
    "performance (SCOP) of 4.6 in the average European climate zone. The unit weighs 68 kg and uses R290 "
    "(propane) as its refrigerant, which has a global warming potential of 3. Installation requires a "
    "certified technician because the refrigerant circuit is sealed at the factory.",
    "Nordvent offers a five-year warranty on the Orion X2 compressor and a two-year warranty on all other "
    "parts. The warranty is extended to seven years for the compressor when the owner registers the unit "
    "online within 30 days of installation. Warranty claims are handled by the installer, who contacts "
    "Nordvent's service centre in Malmö. Damage caused by flooding, lightning or improper installation is "
    "not covered. Annual servicing by an authorised partner is recommended but not mandatory.",
    "At its lowest fan speed the Orion X2 produces 38 dB(A) of sound pressure at a distance of three "
    "metres, which Nordvent compares to a quiet library. In boost mode the level rises to 52 dB(A). A night "
    "mode limits the compressor to 60% of its capacity between 22:00 and 06:00 to reduce noise. Local "
    "regulations in some municipalities require a minimum distance of two metres between the outdoor unit "
    "and the property line, so planners should check before choosing a location.",
    "The list price of the Orion X2 is 9,450 euros excluding installation. Typical installation costs "
    "range from 2,500 to 4,000 euros depending on the existing heating system. In Germany, buyers can "
    "apply for a subsidy of up to 35% of eligible costs under the federal programme for efficient "
    "buildings, and an additional 5% bonus applies when the heat pump uses a natural refrigerant such as "
    "propane. Applications must be submitted before the installation contract is signed.",
    "Nordvent was founded in 1987 by the engineers Karin Lindqvist and Per Åberg. The company employs "
    "about 1,200 people and sells its products in 14 countries. In 2023 it opened a second factory in "
    "Poznań, Poland, which produces the outdoor units of the Orion series. The indoor hydraulic modules "
    "are still assembled in Gothenburg. Nordvent's stated goal is to make all of its products free of "
    "fluorinated refrigerants by 2026.",
]
QUESTION = "What warranty does the Orion X2 come with, and how loud is it?"
ANSWER_140 = ("The Orion X2 has a five-year compressor warranty, extended to seven years if you register it "
              "online within 30 days.")
ANSWER_600 = (
    "The Orion X2 comes with a five-year warranty on the compressor and two years on the other parts. If you "
    "register the unit online within 30 days of installation, the compressor warranty is extended to seven "
    "years. Claims go through your installer, who contacts Nordvent's service centre in Malmö. Flood and "
    "lightning damage are not covered. As for noise, the unit produces 38 dB(A) at three metres on its lowest "
    "fan speed, rising to 52 dB(A) in boost mode. A night mode caps the compressor at 60% between 22:00 and "
    "06:00 to keep it quieter. Check the local distance rules before you pick a spot."
)


def _pct(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs)
    return float(np.median(a)), float(np.percentile(a, 95))


def _variant(answer: str, i: int) -> str:
    """A new text for every claim of the answer per repetition, so the embedding cache never serves the answer.

    Zero-width spaces before each sentence end: the tokenizer drops them (same compute), the cache key changes.
    """
    return re.sub(r"([.!?])(\s|$)", lambda m: "\u200b" * (i + 1) + m.group(1) + m.group(2), answer)


def worker(reps: int) -> list[dict[str, Any]]:
    """Run in a subprocess with CATALYST_THREADS set; returns one row per (check, answer size)."""
    from catalyst import load_policy, registry
    from catalyst.checks import CheckContext, to_result
    from catalyst.embeddings import get_embedder
    from catalyst.records import Interaction
    from catalyst_checks.grounding import Grounding
    from catalyst_checks.grounding import features as gf

    threads = int(os.environ["CATALYST_THREADS"])
    rows: list[dict[str, Any]] = []
    answers = {140: ANSWER_140, 600: ANSWER_600}

    def ctx_for(answer: str) -> CheckContext:
        return CheckContext(Interaction(input=QUESTION, output=answer, context=PASSAGES))

    def clear() -> None:
        gf._passages.data.clear()
        gf._contexts.data.clear()
        for backend in ("torch", "onnx-int8"):
            get_embedder(backend).clear_cache()

    def timed(fn: Callable[[CheckContext], Any], answer: str, *, before: Callable[[], None] | None = None,
              n: int = reps) -> tuple[float, float]:
        fn(ctx_for(_variant(answer, 999)))  # warm-up: load models, JIT paths
        times = []
        for i in range(n):
            if before is not None:
                before()
            c = ctx_for(_variant(answer, i + 1))
            t0 = time.perf_counter()
            fn(c)
            times.append((time.perf_counter() - t0) * 1e3)
        return _pct(times)

    def add(name: str, size: int, med_p95: tuple[float, float], kind: str = "check") -> None:
        rows.append({"check": name, "chars": size, "threads": threads, "median": med_p95[0], "p95": med_p95[1],
                     "kind": kind})

    for backend in ("torch", "onnx-int8"):
        get_embedder(backend).encode(["load"])  # load outside the timings

    for size, answer in answers.items():
        # baselines: embed answer + passages, no cache
        for backend in ("torch", "onnx-int8"):
            emb = get_embedder(backend)
            add(f"baseline: embed answer + 5 passages ({backend}, no cache)", size,
                timed(lambda c, emb=emb: emb.encode([c.output, *PASSAGES], cache=False), answer,
                      n=max(5, reps // 3)), "baseline")
        for mode in ("lexical", "full"):
            for backend in (("auto",) if mode == "lexical" else ("torch", "onnx-int8")):
                g = Grounding(mode=mode, backend=backend)  # type: ignore[arg-type]
                label = f"grounding {mode}" + ("" if mode == "lexical" else f" {backend}")
                cold_n = reps if mode == "lexical" else max(5, reps // 3)  # a cold full run costs seconds
                add(f"{label} (cold)", size, timed(g.run, answer, before=clear, n=cold_n), "grounding")
                add(f"{label} (warm passages)", size, timed(g.run, answer), "grounding")
        for name in registry.names():
            if name == "grounding":
                continue
            try:
                cls = registry.get(name)
                if cls.costly or cls.is_async():
                    rows.append({"check": name, "chars": size, "threads": threads, "skipped": "costly/async"})
                    continue
                inst = cls()
            except Exception as e:  # a check that needs configuration: say so, do not guess its settings
                rows.append({"check": name, "chars": size, "threads": threads,
                             "skipped": f"needs config ({type(e).__name__})"})
                continue
            add(name, size, timed(inst.run, answer))
        # the default policy's cheap suite, check by check, then the Validator end to end
        policy = load_policy(ROOT / "policies" / "default.yaml")
        steps = policy.default.cheap

        def suite(c: CheckContext, steps: Any = steps) -> None:
            for s in steps:
                to_result(s.check, s.check.run(c))

        add("default policy: sum of cheap checks", size, timed(suite, answer), "suite")
        from catalyst import Validator

        validator = Validator(policy)
        add("default policy: Validator.validate", size,
            timed(lambda c, v=validator: v.validate(c.record.model_dump()), answer), "suite")
        rows.append({"check": "_policy_checks", "chars": size, "threads": threads,
                     "skipped": ", ".join(s.label for s in steps)})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _report import machine

    timed = [r for r in rows if "median" in r]
    keys = list(dict.fromkeys(r["check"] for r in timed))
    cols = [(t, c) for t in (1, 2) for c in (140, 600)]
    by = {(r["check"], r["threads"], r["chars"]): r for r in timed}
    head = " | ".join(f"{t}T {c}ch med / p95" for t, c in cols)
    lines = [
        "## Check latency (ms per answer)",
        "",
        "`python benchmarks/check_latency.py` — 5 context passages of ~500 characters, answers of 140 and 600 "
        "characters, models loaded beforehand; 1T/2T = `CATALYST_THREADS`. `cold` clears the passage caches "
        "before each run; `warm passages` keeps them (RAG passages repeat), the answer is always new. "
        f"Budget for the default policy's suite on a 600-character answer: median < {BUDGET_MS:.0f} ms.",
        "",
        f"Machine: {machine()}.",
        "",
        f"| check | {head} |",
        "|---|" + "---:|" * len(cols),
    ]
    for k in keys:
        cells = []
        for t, c in cols:
            r = by.get((k, t, c))
            cells.append(f"{r['median']:.1f} / {r['p95']:.1f}" if r else "")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    skipped = sorted({(r["check"], r["skipped"]) for r in rows if "skipped" in r and r["check"] != "_policy_checks"})
    policy = next((r["skipped"] for r in rows if r["check"] == "_policy_checks"), "")
    lines += ["", f"Default policy cheap checks: {policy}."]
    if skipped:
        lines.append("Skipped: " + "; ".join(f"`{n}` ({why})" for n, why in skipped) + ".")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.reps)))
        return 0

    rows: list[dict[str, Any]] = []
    for t in args.threads:
        env = {**os.environ, "CATALYST_THREADS": str(t), "OMP_NUM_THREADS": str(t), "TOKENIZERS_PARALLELISM": "false"}
        out = subprocess.run([sys.executable, __file__, "--worker", "--reps", str(args.reps)], env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        rows += json.loads(out.stdout.strip().splitlines()[-1])

    from rich.console import Console
    from rich.table import Table

    table = Table(title="Check latency, ms per answer (median / p95)")
    table.add_column("check")
    cols = [(t, c) for t in args.threads for c in (140, 600)]
    for t, c in cols:
        table.add_column(f"{t}T {c}ch", justify="right")
    by = {(r["check"], r["threads"], r["chars"]): r for r in rows if "median" in r}
    for k in dict.fromkeys(r["check"] for r in rows if "median" in r):
        table.add_row(k, *[f"{by[(k, t, c)]['median']:.1f} / {by[(k, t, c)]['p95']:.1f}" if (k, t, c) in by else ""
                           for t, c in cols])
    Console(width=200).print(table)
    for r in rows:
        if "skipped" in r and r["check"] != "_policy_checks" and r["chars"] == 140 and r["threads"] == args.threads[0]:
            print(f"skipped {r['check']}: {r['skipped']}")
    suite = [r for r in rows if r["check"] == "default policy: sum of cheap checks" and r["chars"] == 600]
    for r in suite:
        ok = "meets" if r["median"] < BUDGET_MS else "MISSES"
        print(f"default suite, 600 chars, {r['threads']} thread(s): median {r['median']:.1f} ms ({ok} {BUDGET_MS} ms)")
    if not args.no_write:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from _report import write_section

        write_section(SECTION, render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
