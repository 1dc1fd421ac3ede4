"""One log, everything at once: the proxy under load, the web reviewer, a reviewer, and two batch runs.

    python benchmarks/concurrent_log.py [--records 10000] [--no-write]

Each part is first run **alone** on its own log, then **all together on one log**:

- the validating proxy (`catalyst serve`, upstream = `catalyst.testing.ScriptedServer`) under load from
  4 client threads with the real `openai` client — it starts first, so it owns the log;
- the web reviewer (`catalyst review --web`, a client of the owner) with a signed-in browser-like client
  loading the queue page in a loop, and a reviewer claiming and deciding items through the owner;
- two `catalyst validate` runs over different files, and the admin command `catalyst review token add`.

Verdicts in (proxy answers received + records in both files) must equal verdicts logged (no loss, no
duplicate), checked after the proxy's orderly stop.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, show, write_section
from batch_throughput import CHEAP3, make_input

from catalyst.review import ReviewQueue
from catalyst.review.demo import fill
from catalyst.store import Store
from catalyst.testing import ScriptedServer

SECTION = "concurrent_log"
CLI = [sys.executable, "-m", "catalyst"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not come up")


def start_proxy(upstream: str, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--upstream", upstream, "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, "catalyst serve")
    return proc, f"http://127.0.0.1:{port}/v1"


def load(url: str, stop: threading.Event, seconds: float | None, out: dict[str, Any], threads: int = 4) -> None:
    """Chat completions from ``threads`` clients until ``stop`` (or ``seconds``)."""
    t0 = time.perf_counter()

    def one(k: int) -> None:
        with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as c:
            i = 0
            while not stop.is_set() and (seconds is None or time.perf_counter() - t0 < seconds):
                r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{k}-{i}"}])
                if getattr(r, "catalyst", None):
                    out["ok"] += 1
                i += 1

    ts = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out["seconds"] = time.perf_counter() - t0


def stop_proc(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(2)
    p.wait(60)


def web_loop(base: str, token: str, stop: threading.Event, out: dict[str, Any]) -> None:
    with httpx.Client(base_url=base, timeout=60) as c:
        pre = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signin").text)
        assert pre is not None
        c.post("/signin", data={"token": token, "csrf_token": pre.group(1)})
        while not stop.is_set():
            r = c.get("/queue")
            out["pages"] += r.status_code == 200


def review_loop(db: Path, stop: threading.Event, out: dict[str, Any]) -> None:
    q = ReviewQueue(Store(db, keep_open=False))
    while not stop.is_set():
        c = q.claim("bench")
        if c is None:
            time.sleep(0.05)
            continue
        q.decide(c.item_id, reviewer="bench", action="approve")
        out["decided"] += 1


def validate(path: Path, db: Path, policy: Path) -> tuple[subprocess.Popen[bytes], float]:
    return subprocess.Popen([*CLI, "validate", str(path), "--db", str(db), "--policy", str(policy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--proxy-seconds", type=float, default=20.0, help="proxy load when alone")
    ap.add_argument("--queue", type=int, default=2000, help="review items written before the runs start")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    where = machine()
    tmp = Path(tempfile.mkdtemp(prefix="catalyst-conc-"))
    policy = tmp / "cheap3.yaml"
    policy.write_text(CHEAP3)
    files = [tmp / "a.jsonl", tmp / "b.jsonl"]
    for k, f in enumerate(files):
        make_input(f, a.records)
        f.write_bytes(f.read_bytes().replace(b'"id":"b', f'"id":"{"xy"[k]}'.encode()))
    alone: dict[str, float] = {}
    with ScriptedServer(lambda r: f"Answer: {r.last_user_message}") as up:
        # -- alone ----------------------------------------------------------------------------------
        db = tmp / "alone-proxy.duckdb"
        proxy, url = start_proxy(up.url, db)
        res: dict[str, Any] = {"ok": 0}
        load(url, threading.Event(), a.proxy_seconds, res)
        stop_proc(proxy)
        alone["proxy"] = res["ok"] / res["seconds"]
        alone_proxy_ok = Store(db, keep_open=False).query("SELECT count(*) AS n FROM verdicts")[0]["n"] == res["ok"]
        p, t0 = validate(files[0], tmp / "alone-val.duckdb", policy)
        assert p.wait() == 0, p.stderr.read() if p.stderr else ""
        alone["validate"] = a.records / (time.perf_counter() - t0)
        # -- together -------------------------------------------------------------------------------
        db = tmp / "shared.duckdb"
        proxy, url = start_proxy(up.url, db)  # the first long-running process: the owner
        with Store(db, keep_open=False) as s:  # a queue for the reviewers (through the owner)
            fill(s, a.queue)
        token = subprocess.run([*CLI, "review", "token", "add", "ana", "--role", "admin", "--db", str(db)],
                               capture_output=True, text=True, check=True).stdout.strip()
        port = free_port()
        web = subprocess.Popen([*CLI, "review", "--web", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/healthz", web, "the web reviewer")
        stop = threading.Event()
        res = {"ok": 0}
        web_res: dict[str, Any] = {"pages": 0}
        rev_res: dict[str, Any] = {"decided": 0}
        t_start = time.perf_counter()
        side = [threading.Thread(target=load, args=(url, stop, None, res)),
                threading.Thread(target=web_loop, args=(f"http://127.0.0.1:{port}", token, stop, web_res)),
                threading.Thread(target=review_loop, args=(db, stop, rev_res))]
        for t in side:
            t.start()
        runs = [validate(f, db, policy) for f in files]
        run_s = []
        for p, t0 in runs:
            code = p.wait()
            assert code == 0, p.stderr.read().decode()[-2000:] if p.stderr else ""
            run_s.append(time.perf_counter() - t0)
        stop.set()
        for t in side:
            t.join()
        together_s = time.perf_counter() - t_start
        stop_proc(web)
        stop_proc(proxy)
    s = Store(db, keep_open=False)
    logged = s.query("SELECT count(*) AS n, count(DISTINCT verdict_id) AS v FROM verdicts")[0]
    batch_ids = s.query("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM verdicts WHERE id[1] IN ('x', 'y')")[0]
    verdicts_in = res["ok"] + 2 * a.records + a.queue
    equal = logged["n"] == verdicts_in and batch_ids == {"n": 2 * a.records, "ids": 2 * a.records}
    cols = ["part", "alone (per s)", "together (per s)", "together / alone"]
    rows = [["proxy: answers", f"{alone['proxy']:.1f}", f"{res['ok'] / res['seconds']:.1f}",
             f"{res['ok'] / res['seconds'] / alone['proxy']:.2f}"],
            ["batch run 1: records", f"{alone['validate']:,.0f}", f"{a.records / run_s[0]:,.0f}",
             f"{a.records / run_s[0] / alone['validate']:.2f}"],
            ["batch run 2: records", f"{alone['validate']:,.0f}", f"{a.records / run_s[1]:,.0f}",
             f"{a.records / run_s[1] / alone['validate']:.2f}"],
            ["web reviewer: queue pages", "-", f"{web_res['pages'] / together_s:.1f}", "-"],
            ["reviewer: claim + decide", "-", f"{rev_res['decided'] / together_s:.1f}", "-"]]
    show("One log, all at once", cols, rows)
    print(f"verdicts in {verdicts_in:,} · logged {logged['n']:,} (distinct {logged['v']:,}) · equal: {equal}")
    body = (f"## One log, everything at once (`benchmarks/concurrent_log.py`)\n\n"
            f"The validating proxy (4 client threads, the real `openai` client, upstream a `ScriptedServer`), the "
            f"web reviewer (a signed-in client loading the queue page in a loop), a reviewer claiming and deciding "
            f"through the owner, `catalyst review token add`, and two `catalyst validate` runs of {a.records:,} "
            f"records each (policy `cheap3`), all on **one** DuckDB log for {together_s:.0f} s. The proxy started "
            "first and owns the log; every other process goes through it. Each part's rate beside the same part "
            "alone on its own log (same machine, same run).\n\n"
            + markdown_table(cols, rows) + "\n\n"
            f"**Verdicts in {verdicts_in:,}** (proxy answers {res['ok']:,} + {2 * a.records:,} records + "
            f"{a.queue:,} queued for review first) — "
            f"**verdicts logged {logged['n']:,}** ({'equal' if equal else 'NOT EQUAL'}; every batch record id "
            f"exactly once); reviewer decisions {rev_res['decided']:,}, queue pages served {web_res['pages']:,}. "
            f"The proxy alone logged exactly what it answered: {alone_proxy_ok}.\n\n"
            "Reading it: on 2 shared cores the parts compete for CPU, so each runs slower together than alone; "
            "none waits for the file and none fails (before the shared log, a batch run beside the proxy waited "
            "for the lock and failed with `StoreLockedError`).\n\n"
            f"Machine: {where}.\n\nReproduce: `python benchmarks/concurrent_log.py --records {a.records}`")
    if not a.no_write:
        write_section(SECTION, body)
    if not equal:
        raise SystemExit("verdicts in != verdicts logged")


if __name__ == "__main__":
    main()
