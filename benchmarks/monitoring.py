"""Monitoring: `catalyst report` over 1,000,000 logged verdicts, the dashboard page, and the drift tests' error rates.

    python benchmarks/monitoring.py               # writes its BENCHMARKS.md section
    python benchmarks/monitoring.py --rows 200000 --reps 100 --no-write

Measured in one run:

- **Report speed.** A 30-day log of ``--rows`` verdicts (+ interactions, ~2.1 check results each, model calls,
  review items, labels) is generated directly with DuckDB SQL (``catalyst.monitor.simulate``: not through the
  validator). Each command runs in a fresh process (as a user runs it), median of 3 with the range:
  ``catalyst report --since 7d`` and ``--since 30d`` (terminal), ``--since 7d --html`` (with every drift test),
  against the baseline ``catalyst sql "SELECT count(*) FROM verdicts"`` (process start + opening the file).
- **Dashboard.** ``GET /dashboard?since=7d`` of the web reviewer over the same file (FastAPI TestClient in
  process, signed in; the app holds the file open as the server does): median and p95 of 10, beside
  ``/healthz``; and the time one computation of its numbers takes (what the background refresh costs).
- **Drift tests' error rates.** (a) Per statistic: the histogram PSI test with its multinomial null (exactly
  the code the report runs, on 10 quantile bins) on ``--reps`` pairs of normal samples of equal size n, with
  no shift (false-alarm rate, nominal 5%) and mean shifts of 0.05, 0.1 and 0.2 SD (power), beside the fixed
  rule PSI > 0.1 on the same samples. (b) Per report: a 40-day no-drift log (1,000 verdicts a day), the full
  drift report (all metrics, text classifiers included, BH at 5%) on 20 disjoint pairs of days — the share of
  reports with any drift flagged — beside "any metric with PSI > 0.1".
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, median, p95, show, write_section

from catalyst.monitor._sql import Window
from catalyst.monitor.drift import DriftSettings, drift_report, psi_null_test
from catalyst.monitor.simulate import simulate
from catalyst.store import Store, open_db

SECTION = "monitoring"


def timed_cli(args: list[str], reps: int = 3) -> tuple[float, float, float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "catalyst", *args], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "150"})
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise SystemExit(f"catalyst {' '.join(args)} failed: {r.stderr[-2000:]}")
    return median(times), min(times), max(times)


def dashboard_times(db: Path, n: int = 10) -> tuple[list[float], list[float], float]:
    from fastapi.testclient import TestClient

    from catalyst.review.web import auth, create_app

    store = Store(db)
    with store.connect() as con:
        token = auth.add_user(con, f"bench{time.time_ns()}", "admin")
    c = TestClient(create_app(store))
    pre = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signin").text).group(1)  # type: ignore[union-attr]
    c.post("/signin", data={"token": token, "csrf_token": pre})
    t = time.perf_counter()
    c.get("/dashboard?since=7d")  # the first view computes in the request (a served app warms it at start)
    cold = time.perf_counter() - t
    dash, health = [], []
    for _ in range(n):
        t = time.perf_counter()
        r = c.get("/dashboard?since=7d")
        dash.append(time.perf_counter() - t)
        assert r.status_code == 200 and "<polyline" in r.text
        t = time.perf_counter()
        c.get("/healthz")
        health.append(time.perf_counter() - t)
    store.close()
    return dash, health, cold


def _hist(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(np.quantile(a, np.arange(1, 10) / 10, method="inverted_cdf"))  # quantile_disc, as in SQL
    k = len(edges) + 1
    return (np.bincount(np.searchsorted(edges, a, side="right"), minlength=k),
            np.bincount(np.searchsorted(edges, b, side="right"), minlength=k))


def error_rates(reps: int, sizes: tuple[int, ...], shifts: tuple[float, ...]) -> list[list[object]]:
    rng = np.random.default_rng(7)
    out = []
    for n in sizes:
        for d in shifts:
            honest = fixed = 0
            for _ in range(reps):
                ha, hb = _hist(rng.normal(size=n), rng.normal(loc=d, size=n))
                stat, p, _thr = psi_null_test(ha, hb, 999, rng)
                honest += p < 0.05
                fixed += stat > 0.1
            what = "false alarms" if d == 0 else "power"
            out.append([n, f"{d:g} SD", what, f"{honest / reps:.1%}", f"{fixed / reps:.1%}"])
    return out


def report_false_alarms(tmp: Path, pairs: int = 20) -> tuple[float, float, int]:
    db = tmp / "quiet.duckdb"
    end = datetime(2026, 11, 30, tzinfo=UTC)
    simulate(str(db), 40_000, days=40, end=end, audit_sample=0.0)  # no drift, no degradation
    con = open_db(db, read_only=True)
    start = end - timedelta(days=40)
    any_honest = any_fixed = 0
    tests = 0
    for k in range(pairs):
        ref = Window(start + timedelta(days=2 * k), start + timedelta(days=2 * k + 1))
        rep = drift_report(con, ref, Window(ref.end, ref.end + timedelta(days=1)), DriftSettings(seed=k))
        judged = [t for t in rep["tests"] if t["status"] == "ok"]
        tests = len(judged)
        any_honest += bool(rep["drifted"])
        any_fixed += any(t.get("fixed_rule") for t in judged)
    con.close()
    return any_honest / pairs, any_fixed / pairs, tests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    at_start = machine()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db = tmp / "big.duckdb"
        t = time.perf_counter()
        simulate(str(db), args.rows, days=30, end=datetime.now(UTC), drift_at=0.8, degrade_at=0.5,
                 audit_sample=0.02)
        gen = time.perf_counter() - t
        size_mb = db.stat().st_size / 1e6
        base = timed_cli(["sql", "SELECT count(*) FROM verdicts", "--db", str(db)])
        week = timed_cli(["report", "--db", str(db), "--since", "7d"])
        month = timed_cli(["report", "--db", str(db), "--since", "30d"])
        html = timed_cli(["report", "--db", str(db), "--since", "7d", "--html", str(tmp / "r.html")])
        dash, health, cold = dashboard_times(db)
        speed = [
            ["catalyst sql count(*) (baseline: start + open)", f"{base[0]:.2f}", f"{base[1]:.2f}–{base[2]:.2f}", ""],
            ["catalyst report --since 7d (terminal)", f"{week[0]:.2f}", f"{week[1]:.2f}–{week[2]:.2f}", "≤ 5 s"],
            ["catalyst report --since 30d (terminal)", f"{month[0]:.2f}", f"{month[1]:.2f}–{month[2]:.2f}", "≤ 5 s"],
            ["catalyst report --since 7d --html (with drift tests)", f"{html[0]:.2f}",
             f"{html[1]:.2f}–{html[2]:.2f}", "≤ 30 s"],
        ]
        web = [["/healthz (baseline)", f"{1000 * median(health):.1f}", f"{1000 * p95(health):.1f}", ""],
               ["/dashboard?since=7d", f"{1000 * median(dash):.1f}", f"{1000 * p95(dash):.1f}", "≤ 300 ms"],
               ["computing its numbers (first view / background refresh)", f"{1000 * cold:.0f}", "", ""]]
        honest_any, fixed_any, n_tests = report_false_alarms(tmp)
    rates = error_rates(args.reps, (100, 1_000, 10_000), (0.0, 0.05, 0.1, 0.2))
    show(f"report over {args.rows:,} verdicts (seconds, fresh process, median of 3)",
         ["command", "median s", "range", "goal"], speed)
    show("dashboard (ms, 10 requests)", ["page", "median ms", "p95 ms", "goal"], web)
    show(f"PSI null test vs fixed PSI > 0.1 ({args.reps} pairs each)",
         ["n per window", "shift", "measures", "null test (p < 0.05)", "PSI > 0.1"], rates)
    print(f"whole drift report on no-drift days: any drift flagged in {honest_any:.0%} of 20 reports "
          f"({n_tests} tests each, BH 5%); any PSI > 0.1 in {fixed_any:.0%}")
    if args.no_write:
        return
    body = f"""## Monitoring (`benchmarks/monitoring.py`)

{at_start}; `uptime` load at the end {os.getloadavg()[0]:.1f}. Log: {args.rows:,} verdicts over 30 days
generated with DuckDB SQL in {gen:.1f} s ({size_mb:.0f} MB file; ~2.1 check results per verdict, model calls,
review items, labels). Every command in a fresh process, median of 3 (range).

{markdown_table(["command", "median s", "range", "goal"], speed)}

Web reviewer, same file, signed in (FastAPI TestClient in process; the app holds the file open). The page
serves numbers computed off the request path (`DashboardCache`: stale-while-revalidate, recomputed in the
background once a minute old, on its own cursor; `serve` warms it at start); the last row is what one
computation costs, i.e. how stale the page can be beyond its minute:

{markdown_table(["page", "median ms", "p95 ms", "goal"], web)}

**Drift tests' error rates.** One statistic (PSI on 10 quantile bins, its threshold from a multinomial null
at the actual sizes, 999 draws — the report's own code), {args.reps} pairs of normal samples per row, against
the fixed rule PSI > 0.1 on the same samples:

{markdown_table(["n per window", "shift", "measures", "null test (p < 0.05)", "PSI > 0.1"], rates)}

Whole drift report (all {n_tests} tests incl. text domain classifiers, Benjamini–Hochberg at 5%) on 20 pairs of
no-drift days (1,000 verdicts each): drift flagged in **{honest_any:.0%}** of reports; "any metric with
PSI > 0.1" in {fixed_any:.0%}.
"""
    write_section(SECTION, body)


if __name__ == "__main__":
    main()
