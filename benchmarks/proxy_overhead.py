"""What the validating proxy adds over calling the upstream directly, and whether any verdict is lost.

Same run, three processes on loopback: the scripted OpenAI-compatible server (upstream), ``catalyst serve``
in front of it (the shipped default policy, then a rules-only policy that isolates the proxy's own cost), and this
script as the load generator — 8 concurrent
clients, ``--requests`` (200) chat completions straight to the upstream and 200 through the proxy,
interleaved in rounds so drift in machine load hits both alike. Added latency = proxy percentile − direct
percentile; the checks' own time is the verdict's ``ms`` (the validation flow) reported by the proxy, so
"overhead beyond the checks" = added p50 − median check time. After the proxy shuts down (SIGINT) the
DuckDB log must hold exactly one verdict per request sent through it.

Run: ``python benchmarks/proxy_overhead.py`` (writes its section of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, median, p95, show, write_section

import catalyst

UPSTREAM = """
import socket
import sys
from catalyst.testing import ScriptedServer
from catalyst.testing import _server
_setup = _server._Handler.setup
def setup(self):  # headers and body go out as two writes: without NODELAY, Nagle + delayed ACK add ~40 ms
    _setup(self)
    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
_server._Handler.setup = setup
srv = ScriptedServer(lambda r: "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.").start()
print(srv.url, flush=True)
sys.stdin.read()
srv.stop()
"""


@contextlib.contextmanager
def scripted_upstream(env: dict[str, str]) -> Iterator[str]:
    """The scripted server (with ``TCP_NODELAY``) as a process of its own; yields its base URL."""
    up = subprocess.Popen([sys.executable, "-c", UPSTREAM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, env=env)
    assert up.stdout is not None and up.stdin is not None
    try:
        url = up.stdout.readline().strip()
        wait_up(url + "/models", up, "scripted server")
        yield url
    finally:
        up.stdin.close()
        up.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report the proxy's own CPU cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not come up")


async def load(base: str, n: int, clients: int, tag: str) -> tuple[list[float], list[float]]:
    """``n`` requests over ``clients`` concurrent workers; returns (latencies ms, verdict ms when present)."""
    lat: list[float] = []
    check_ms: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {"model": "m", "messages": [{"role": "user", "content": f"{tag} question {i}: when was it built?"}]}
            t0 = time.perf_counter()
            async with client.post(f"{base}/chat/completions", json=body) as r:
                data = await r.json()
            lat.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            v = data.get("catalyst")
            if v is not None:
                check_ms.append(float(v.get("ms") or 0.0))

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn, headers={"Authorization": "Bearer k"},
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return lat, check_ms


RULES_POLICY = """
name: rules-only
description: the default policy's cheap rules without the safety screens (isolates the proxy's own cost)
checks:
  - non_empty: {}
    on_fail: block
  - length: {min_chars: 1, max_chars: 8000}
    on_fail: review
  - denylist: {phrases: ["as an AI language model", "lorem ipsum"]}
    on_fail: review
  - grounding: {mode: lexical, on_empty: pass}
    on_fail: review
"""


def measure(upstream: str, policy: str, db: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """One ``catalyst serve`` for ``policy``: both rows (8 clients, 1 client), the log count, /healthz."""
    port = free_port()
    proxy = subprocess.Popen([sys.executable, "-c", "from catalyst.cli import main; main()", "serve",
                              "--upstream", upstream, "--db", str(db), "--port", str(port),
                              "--policy", policy, "--flush-interval", "1"],
                             stdout=subprocess.DEVNULL, env=env)
    proxied = f"http://127.0.0.1:{port}/v1"
    sent = 0
    results: dict[int, dict[str, Any]] = {}
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proxy, "catalyst serve")
        asyncio.run(load(upstream, 40, args.clients, "warm"))  # warm both paths (connections, first-call costs)
        asyncio.run(load(proxied, 40, args.clients, "warm"))
        sent += 40
        for clients in (args.clients, 1):
            direct: list[float] = []
            via: list[float] = []
            check_ms: list[float] = []
            per_round = args.requests // args.rounds
            proxy_cpu = 0.0
            for r in range(args.rounds):
                d, _ = asyncio.run(load(upstream, per_round, clients, f"d{clients}-{r}"))
                cpu0 = cpu_seconds(proxy.pid)
                p, c = asyncio.run(load(proxied, per_round, clients, f"p{clients}-{r}"))
                proxy_cpu += cpu_seconds(proxy.pid) - cpu0
                sent += per_round
                direct += d
                via += p
                check_ms += c
            results[clients] = {"direct": direct, "via": via, "check_ms": check_ms, "cpu": proxy_cpu}
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=60)
    with catalyst.Store(db) as store:
        logged = int(store.query("SELECT count(*) AS n FROM verdicts")[0]["n"])
    return {"results": results, "sent": sent, "logged": logged, "health": health}


COLS = ["policy", "clients", "direct p50 / p95 ms", "via proxy p50 / p95 ms", "added p50 / p95 ms",
        "checks' own ms (median)", "added beyond the checks, p50 ms", "proxy CPU ms / request"]


def summary(ms: list[dict[str, Any]], clients: int) -> dict[str, float]:
    """One row's figures, each the median over the repeats (each repeat: a fresh proxy, 200 requests each way)."""
    per = []
    for m in ms:
        r = m["results"][clients]
        add50 = median(r["via"]) - median(r["direct"])
        chk = median(r["check_ms"])
        per.append({"d50": median(r["direct"]), "d95": p95(r["direct"]), "v50": median(r["via"]), "v95": p95(r["via"]),
                    "add50": add50, "add95": p95(r["via"]) - p95(r["direct"]), "chk": chk, "beyond": add50 - chk,
                    "cpu": r["cpu"] / len(r["via"]) * 1000})
    out = {k: median([p[k] for p in per]) for k in per[0]}
    out["beyond_lo"] = min(p["beyond"] for p in per)
    out["beyond_hi"] = max(p["beyond"] for p in per)
    return out


def rows_of(name: str, ms: list[dict[str, Any]], clients_list: tuple[int, ...]) -> list[list[Any]]:
    rows = []
    for clients in clients_list:
        f = summary(ms, clients)
        rows.append([name, clients, f"{f['d50']:.1f} / {f['d95']:.1f}", f"{f['v50']:.1f} / {f['v95']:.1f}",
                     f"{f['add50']:.1f} / {f['add95']:.1f}", f"{f['chk']:.2f}",
                     f"{f['beyond']:.1f} ({f['beyond_lo']:.1f} to {f['beyond_hi']:.1f})", f"{f['cpu']:.1f}"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--policy", default="default")
    ap.add_argument("--repeats", type=int, default=3, help="fresh proxies per policy; figures are their medians")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="catalyst-bench-"))
    rules = tmp / "rules-only.yaml"
    rules.write_text(RULES_POLICY)
    env = {**os.environ, "CATALYST_THREADS": "1"}
    policies = ((args.policy, args.policy), ("rules-only", str(rules)))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in policies}
    with scripted_upstream(env) as upstream:
        for rep in range(args.repeats):  # the policies interleaved, so drift in machine load hits both alike
            for name, pol in policies:
                runs[name].append(measure(upstream, pol, tmp / f"{name}-{rep}.duckdb", args, env))
    rows = [row for name, ms in runs.items() for row in rows_of(name, ms, (args.clients, 1))]
    show(f"Proxy overhead ({args.requests} requests each way per row)", COLS, rows)
    sent = sum(m["sent"] for ms in runs.values() for m in ms)
    logged = sum(m["logged"] for ms in runs.values() for m in ms)
    lost = sent - logged
    print(f"verdicts logged {logged} of {sent} requests sent through the proxy (lost: {lost})")
    beyond = {name: summary(ms, args.clients)["beyond"] for name, ms in runs.items()}
    own = beyond["rules-only"]
    goal = "met" if own < 15 else "NOT met"
    body = f"""## Proxy overhead (`benchmarks/proxy_overhead.py`)

`catalyst serve` (DuckDB log flushed every 1 s, journaled per verdict) in front of the scripted server, both as
separate processes on loopback; {args.requests} requests each way per row, interleaved in {args.rounds} rounds, after
40 warm-up requests each way; the clients use aiohttp. Each figure is the median over {args.repeats} fresh proxies per
policy (the two policies interleaved); "beyond the checks" also shows the range over those repeats.
Two policies: `{args.policy}` (the shipped one, with its
PII/secrets/injection screens and a redacted log) and `rules-only` (its cheap rules, no screens), which isolates
what the proxy itself costs. {machine()}.

{markdown_table(COLS, rows)}

Goal < 15 ms p50 beyond the checks' own time at {args.clients} concurrent clients, the proxy's own cost
(`rules-only`): **{goal}** ({own:.1f} ms). With `{args.policy}`: {beyond[args.policy]:.1f} ms beyond the checks.
Verdicts in the DuckDB logs after shutdown: **{logged} of {sent}** requests sent through the proxy (lost: {lost}).

Reading it: the proxy's own cost is about the `rules-only` CPU figure per request (uvicorn + httptools + uvloop,
one upstream round trip on aiohttp, request checks, the checks, orjson, the journal write; DuckDB is written by a
background thread once a second). The screens of `{args.policy}` cost several ms of CPU per answer (PII patterns,
injection similarity, and the log redaction before each write, which is not in the verdict's own `ms`); at
{args.clients} concurrent clients on 2 shared cores, requests queue behind each other's checks, so "beyond the
checks" there is mostly waiting for CPU, and it grows with the machine's load (see the load figure above). p95
mostly measures scheduling. The scripted upstream gets `TCP_NODELAY` in this script: it writes headers and body
separately, and with Nagle + delayed ACK every keep-alive request would otherwise wait ~40 ms on both paths.
"""
    write_section("proxy_overhead", body)


if __name__ == "__main__":
    main()
