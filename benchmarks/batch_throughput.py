"""Batch validation throughput and inline overhead (issue 2's numbers).

    python benchmarks/batch_throughput.py [--records 100000]

Catalyst's batch path (one flow invocation per 2,000 records, Arrow batches written to DuckDB on a writer
thread) against the naive path measured in the same run: one graph invocation and one INSERT per record.
Then the inline `validate()` overhead with the three cheap checks, against the same call through LangGraph.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, median, p95, show, write_section

import catalyst
from catalyst import engine
from catalyst.cli.demo import demo_data
from catalyst.jsonl import read_records
from catalyst.store import open_db

CHEAP3 = """
name: cheap3
on_unverified: accept   # rules only, no evidence check: an answer no rule flags is accepted (as before m050)
checks:
  - non_empty: {}
    on_fail: block
  - length: {min_chars: 1, max_chars: 8000}
    on_fail: review
  - denylist:
      phrases: ["as an AI language model", "I cannot browse the internet", "as of my knowledge cutoff",
                "I'm sorry, but I can't", "lorem ipsum"]
    weight: 0.5
    on_fail: review
"""


def make_input(path: Path, n: int) -> None:
    base = [orjson.loads(line) for line in demo_data().open("rb")]
    with path.open("wb") as fh:
        for i in range(n):
            r = dict(base[i % len(base)])
            r["id"] = f"b{i}"
            r["context"] = [c[:500] for c in r["context"]]  # RAG-sized passages
            fh.write(orjson.dumps(r) + b"\n")


def catalyst_batch(path: Path, db: Path, workers: int, policy: str) -> tuple[float, float, int]:
    """The `catalyst validate` code path (no --out) in a fresh process, as a CLI run is: worker processes start
    cold every time (the parent's own imports are done before the clock starts). Checked against the log."""
    out = subprocess.run([sys.executable, __file__, "--one", str(path), str(db), str(workers), policy],
                         capture_output=True, text=True, check=True)
    wall, cpu, n = orjson.loads(out.stdout.strip().splitlines()[-1])
    con = open_db(db)
    logged = con.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    con.close()
    assert logged == n, f"{logged} logged for {n} validated"
    return wall, cpu, n


def _one(path: str, db: str, workers: str, policy: str) -> None:
    import catalyst.validator  # noqa: F401  (imported before the clock, as the CLI has it when the command runs)
    from catalyst.cli.validate import run_validate

    t0, c0 = time.perf_counter(), time.process_time()
    res = run_validate(Path(path), policy, db, None, skip_bad=False, resume=False, batch_size=2000, quiet=True,
                       workers=int(workers))
    print(orjson.dumps([time.perf_counter() - t0, time.process_time() - c0, int(res["verdicts"])]).decode())


def naive(path: Path, db: Path, limit: int, policy: str) -> tuple[float, float, int]:
    """One graph invocation and one INSERT per table per record, autocommit: what a first version does."""
    v = catalyst.Validator(policy)
    con = open_db(db)
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for rec in read_records(path):
        verdict = v.graph.invoke({"items": engine.make_items([rec])})["verdicts"][0]
        con.execute("INSERT INTO verdicts (verdict_id, id, created_at, policy, decision, confidence, attempts, "
                    "reasons, output, segment, ms) VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?)",
                    [f"n{n}", verdict.id, verdict.policy, verdict.decision.value, verdict.confidence,
                     verdict.attempts, orjson.dumps(verdict.reasons).decode(), None, "{}", verdict.ms])
        con.execute("INSERT INTO interactions (verdict_id, id, created_at, input, output, context, samples, logprobs, "
                    "metadata, label) VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?)",
                    [f"n{n}", rec.id, orjson.dumps(rec.input).decode(), rec.output,
                     orjson.dumps(rec.context).decode(), "[]", None, orjson.dumps(rec.metadata).decode(), rec.label])
        for c in verdict.checks:
            con.execute("INSERT INTO check_results (verdict_id, id, name, score, passed, ms, error, evidence, details) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [f"n{n}", verdict.id, c.name, c.score, c.passed, c.ms, c.error, "[]", "{}"])
        n += 1
        if n >= limit:
            break
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()
    return wall, cpu, n


def inline(calls: int, policy: str) -> dict[str, list[float]]:
    v = catalyst.Validator(policy)
    answer = ("The Eiffel Tower was completed in 1889 for the World's Fair in Paris and is 330 metres tall, "
              "making it the tallest structure in the city.")[:140]
    rec = {"input": "When was the Eiffel Tower completed?", "output": answer,
           "context": ["The tower was completed in 1889."]}
    for _ in range(200):
        v.validate(rec)
        v.graph.invoke({"items": engine.make_items([catalyst.Interaction(**rec)])})
    out: dict[str, list[float]] = {"validate()": [], "same flow through LangGraph invoke": []}
    for _ in range(calls):  # interleaved, so load spikes hit both alike
        t = time.perf_counter()
        v.validate(rec)
        out["validate()"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        v.graph.invoke({"items": engine.make_items([catalyst.Interaction(**rec)])})
        out["same flow through LangGraph invoke"].append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--naive-records", type=int, default=3_000)
    ap.add_argument("--inline-calls", type=int, default=3_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each batch path (the table shows the median)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("--one", nargs=4, metavar=("IN", "DB", "WORKERS", "POLICY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(*args.one)
    env = machine()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.jsonl"
        make_input(data, args.records)
        policy = Path(tmp) / "cheap3.yaml"
        policy.write_text(CHEAP3)
        gc.collect()
        nw, _nc, nn = naive(data, Path(tmp) / "naive.duckdb", args.naive_records, str(policy))
        one: list[float] = []
        two: list[float] = []
        for r in range(args.repeats):  # alternated, so a load spike hits both paths alike
            sw, _sc, sn = catalyst_batch(data, Path(tmp) / f"one{r}.duckdb", 1, str(policy))
            one.append(sn / sw)
            bw, _bc, bn = catalyst_batch(data, Path(tmp) / f"batch{r}.duckdb", 2, str(policy))
            two.append(bn / bw)
        lat = inline(args.inline_calls, str(policy))
        lat_default = inline(args.inline_calls, "default")
    base = nn / nw

    def spread(rates: list[float]) -> str:
        return f"{min(rates):,.0f} – {max(rates):,.0f}"

    rows = [
        ["naive: 1 graph invoke + 1 INSERT per record", f"{nn:,}", f"{base:,.0f}", "—", "1.0×"],
        ["catalyst validate, 1 process (2,000/invoke, Arrow, writer thread)", f"{sn:,}", f"{median(one):,.0f}",
         spread(one), f"{median(one) / base:,.0f}×"],
        ["catalyst validate --workers 2 (the default on 2 cores)", f"{bn:,}", f"{median(two):,.0f}", spread(two),
         f"{median(two) / base:,.0f}×"],
    ]
    cols = ["path", "records", f"records/s (wall, median of {args.repeats})", "range", "speed-up (wall)"]
    show("Batch validation: 3 cheap checks (non_empty, length, denylist) + DuckDB log", cols, rows)
    lrows = [[f"{k}, 3 cheap checks", f"{median(v):.3f}", f"{p95(v):.3f}"] for k, v in lat.items()]
    lrows += [[f"{k}, default policy (+ grounding, lexical)", f"{median(v):.3f}", f"{p95(v):.3f}"]
              for k, v in lat_default.items()]
    lcols = ["one 140-character answer, no log", "median ms", "p95 ms"]
    show("Inline validate() overhead", lcols, lrows)
    goal = "goal ≥ 20,000 records/s" + (" — met" if median(two) >= 20_000 else " — **not met in this run**")
    body = (f"## Batch throughput and inline overhead\n\n`python benchmarks/batch_throughput.py --records "
            f"{args.records}` · {env}\n\n" + markdown_table(cols, rows) + f"\n\n{goal} (wall clock). Records have the "
            "demo sample's shape, about 1 KB each (question, answer, one passage of at most 500 characters, metadata). "
            "The naive baseline runs on the first records only (it is slow); rates compare directly.\n\n"
            + markdown_table(lcols, lrows) + "\n\nInline calls walk the same nodes in-process "
            "(`catalyst.graph.run_direct`); LangGraph compiles the same topology for batches and durable review. "
            "Goal: median under 2 ms.")
    if not args.no_write:
        write_section("batch", body)


if __name__ == "__main__":
    main()
