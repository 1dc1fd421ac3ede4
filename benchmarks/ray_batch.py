"""Batch validation on Ray beside `catalyst validate --workers 2`, and what the engine itself costs per record.

    python benchmarks/ray_batch.py [--records 20000] [--no-write]

Same input (the bundled HaluEval sample, RAG-sized passages), same cheap policy as batch_throughput.py, same
log. Each run is a fresh `catalyst validate` process, timed from start to exit, and its log is checked (every
record logged exactly once). On Ray the rate is also given for the pipeline alone (after `ray.init`).
The engine's own cost: the same Ray pipeline with an actor that returns its batch untouched (no validation),
per record. The owner's write rate: verdict batches sent through the log owner (what every actor does).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, show, write_section
from batch_throughput import CHEAP3, make_input

SECTION = "ray_batch"


def cli(path: Path, db: Path, policy: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "catalyst", "validate", str(path), "--db", str(db), "--policy",
                          str(policy), *args], capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout


def logged(db: Path) -> tuple[int, int]:
    from catalyst.store import Store

    r = Store(db, keep_open=False).query("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM verdicts")[0]
    return int(r["n"]), int(r["ids"])


def engine_cost(small: Path, large: Path, actors: int) -> tuple[float, float, float, int]:
    """ray.init seconds, then the same read + map_batches with an identity actor over a small and a large
    input: (init s, small s, large s, rows of large − rows of small). The slope is the per-record cost; the
    rest (actor start-up, scheduling) is fixed per run."""
    import ray

    from catalyst.ray import read

    class Identity:
        def __call__(self, batch):  # type: ignore[no-untyped-def]
            return batch

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    init_s = time.perf_counter() - t0
    times, rows = [], []
    for path in (small, small, large):  # the first run warms Ray up (workers, imports): not counted
        t1 = time.perf_counter()
        out = read(path, blocks=4 * actors).map_batches(Identity, batch_format="pyarrow", batch_size=1000,
                                                         concurrency=actors, num_cpus=0.5)
        rows.append(sum(b.num_rows for b in out.iter_batches(batch_format="pyarrow", batch_size=None)))
        times.append(time.perf_counter() - t1)
    ray.shutdown()
    return init_s, times[1], times[2], rows[2] - rows[1]


def owner_write_rate(path: Path, db: Path, policy: Path, n: int) -> float:
    """Verdicts per second written through a log owner in batches of 1,000 (Arrow over loopback)."""
    from catalyst.jsonl import read_records
    from catalyst.ray import _validate
    from catalyst.store import Store
    from catalyst.store._store import to_arrow

    recs = list(read_records(path))[:n]
    verdicts = _validate(str(policy), recs)
    tables = [to_arrow(list(zip(recs[i:i + 1000], verdicts[i:i + 1000], strict=True))) for i in range(0, n, 1000)]
    owner = Store(db)
    owner.query("SELECT 1")
    client = Store(db, keep_open=False)
    t0 = time.perf_counter()
    for k, t in enumerate(tables):
        client.write_once(t, f"bench:{k}", source="bench")
    el = time.perf_counter() - t0
    client.close()
    owner.close()
    return n / el


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    where = machine()
    tmp = Path(tempfile.mkdtemp(prefix="catalyst-ray-"))
    data = tmp / "in.jsonl"
    make_input(data, a.records)
    policy = tmp / "cheap3.yaml"
    policy.write_text(CHEAP3)
    rows = []
    local_s, _ = cli(data, tmp / "local.duckdb", policy, "--workers", "2")
    ok = logged(tmp / "local.duckdb") == (a.records, a.records)
    rows.append(["`catalyst validate --workers 2` (local engine)", f"{local_s:.1f}", "-",
                 f"{a.records / local_s:,.0f}", "-", "yes" if ok else "NO"])
    for actors in (1, 2):
        db = tmp / f"ray{actors}.duckdb"
        total, out = cli(data, db, policy, "--engine", "ray", "--workers", str(actors))
        ok = logged(db) == (a.records, a.records)
        rate = out.split("(pipeline ")[1].split("s ")[0] if "(pipeline " in out else "?"
        rows.append([f"`--engine ray --workers {actors}` ({actors} actor{'s' if actors > 1 else ''})",
                     f"{total:.1f}", rate, f"{a.records / total:,.0f}",
                     f"{a.records / float(rate):,.0f}" if rate != "?" else "?", "yes" if ok else "NO"])
    small = tmp / "small.jsonl"
    make_input(small, max(a.records // 10, 1000))
    init_s, small_s, pipe_s, n = engine_cost(small, data, 2)
    per_rec_us = max(pipe_s - small_s, 0.0) / n * 1e6
    write_rate = owner_write_rate(data, tmp / "owner.duckdb", policy, min(a.records, 20_000))
    cols = ["run", "wall s (process)", "s inside (after start-up)", "records/s (wall)", "records/s (inside)",
            "every record logged once"]
    show(f"Ray vs local workers, {a.records:,} records", cols, rows)
    print(f"engine alone: ray.init {init_s:.1f} s; identity pipeline {small_s:.2f} s / {pipe_s:.2f} s, "
          f"{per_rec_us:.0f} µs/record; owner writes {write_rate:,.0f} verdicts/s")
    local_rate = a.records / local_s
    per_node = 16 * 1e6 / (2e6 / local_rate + per_rec_us)  # a 16-core node: per-core validation + engine cost
    body = (f"## Batch validation on Ray (`benchmarks/ray_batch.py`)\n\n"
            f"{a.records:,} records (bundled HaluEval sample, passages cut to 500 characters), policy `cheap3` "
            "(non_empty, length, denylist — as in batch throughput), one fresh `catalyst validate` process per "
            "run, timed start to exit; the log is checked after each run (every record logged exactly once). "
            "Ray runs start a local 2-CPU cluster inside the process (`ray.init`), read the JSONL with Ray Data, "
            "and validate in an actor pool (`map_batches` over Arrow batches of 1,000); each actor writes its "
            "batches through the log's owner (the driver process).\n\n"
            + markdown_table(cols, rows) + "\n\n"
            f"The engine alone (same read + `map_batches` with an actor that returns its batch, 2 actors): "
            f"`ray.init` {init_s:.1f} s; the pipeline took {small_s:.1f} s for the small input and {pipe_s:.1f} s "
            f"for the full one, so **{per_rec_us:.0f} µs per record** of Ray Data overhead (the slope) on top of "
            f"a fixed ~{small_s:.0f} s per run (actor start-up, scheduling). Validation itself (local engine): "
            f"**{2e6 / local_rate:.0f} µs per record per core**. Writing through the log owner: "
            f"**{write_rate:,.0f} verdicts/s** (Arrow batches of 1,000 over loopback, one transaction each).\n\n"
            "Reading it: on this 2-core machine (shared with other jobs: see the load below) Ray adds its start-up "
            "(`ray.init`, actors loading the policy) and a per-record cost to the same validation work, and the "
            "two actors compete with the driver, Ray's own processes and the other jobs for the two cores; it "
            "cannot beat the local engine here. It pays off when the data outgrows one machine or the policy "
            "calls models (milliseconds per record), where the fixed cost vanishes. Mind the load figure below: "
            "every per-record figure of this run is inflated by the other jobs on the machine (see "
            "`batch_throughput` for the local engine on a quieter machine); compare within the run.\n\n"
            "Projection (arithmetic from the numbers above, not measured): a record costs about the local "
            f"engine's {2e6 / local_rate:.0f} µs of one core plus Ray's {per_rec_us:.0f} µs; a 16-core node would "
            f"validate ~{per_node:,.0f} records/s, 10 nodes ~{10 * per_node:,.0f}, 100 nodes ~{100 * per_node:,.0f}. "
            f"One log owner takes ~{write_rate:,.0f} verdicts/s, so the log caps the cluster at about "
            f"{write_rate / per_node:.0f} such nodes; past that, each node (or group) needs its own log, merged "
            "later (not built yet: README, \"Many processes, many machines\").\n\n"
            f"Machine: {where}.\n\nReproduce: `python benchmarks/ray_batch.py --records {a.records}`")
    if not a.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
