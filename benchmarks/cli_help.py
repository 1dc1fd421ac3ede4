"""``catalyst --help`` and every subcommand's ``--help``, each in a fresh process (issue 13: under 1 s cold).

    python benchmarks/cli_help.py [--runs 5] [--before /work/main]

Each command's ``--help`` is run ``--runs`` times in a new interpreter (``python -m catalyst ... --help``),
interleaved, and the median wall time reported next to two baselines measured in the same run: the bare
interpreter (``python -c pass``) and ``import typer`` (the CLI framework alone). ``--before PATH`` also times
another checkout (e.g. the main branch) the same way, by putting it first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, markdown_table, median, show, write_section

ROOT = Path(__file__).resolve().parents[1]


def command_paths() -> list[list[str]]:
    """Every command and group of the CLI, from the click tree (``[]`` is ``catalyst`` itself)."""
    import typer.main

    from catalyst.cli import app

    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        out.append(path)
        sub = getattr(cmd, "commands", None)
        if isinstance(sub, dict):
            for name in sorted(sub):
                walk(sub[name], [*path, name])

    walk(typer.main.get_group(app), [])
    return out


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, env=env, cwd="/tmp")
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()[-400:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", type=Path, default=None, help="another checkout to time the same way")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    header = machine()
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    py = sys.executable
    paths = command_paths()
    cases: list[tuple[str, list[str], dict[str, str]]] = [
        ("baseline: python -c pass", [py, "-c", "pass"], env),
        ("baseline: import typer", [py, "-c", "import typer"], env),
    ]
    for p in paths:
        cases.append(("catalyst " + " ".join([*p, "--help"]), [py, "-m", "catalyst", *p, "--help"], env))
    if args.before is not None:
        benv = {**env, "PYTHONPATH": str(args.before)}
        for p in paths:
            if p in ([], ["validate"], ["eval"], ["review"], ["policy", "check"]):
                cases.append(("before: catalyst " + " ".join([*p, "--help"]), [py, "-m", "catalyst", *p, "--help"],
                              benv))
    times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):
        for name, argv, e in cases:
            times[name].append(timed(argv, e))
    base = median(times["baseline: python -c pass"])
    rows = []
    for name, _, _ in cases:
        m = median(times[name])
        rows.append((name, f"{m * 1000:.0f}", f"{max(times[name]) * 1000:.0f}", f"{m / base:.1f}×",
                     "yes" if m < 1.0 else "NO"))
    cols = ["command", "median ms", "max ms", "× bare python", "< 1 s"]
    show("--help in a fresh process", cols, rows)
    own = [median(times[n]) for n, _, _ in cases if n.startswith("catalyst")]
    body = (f"## CLI start-up: `--help` (`benchmarks/cli_help.py`)\n\n{header}. Each `--help` run {args.runs}× in a "
            f"fresh interpreter (`python -m catalyst … --help`), interleaved; medians. Reproduce: "
            f"`python benchmarks/cli_help.py --runs {args.runs}"
            + (f" --before {args.before}`" if args.before else "`") + ".\n\n"
            f"**Slowest command's median {max(own) * 1000:.0f} ms, over {len(own)} commands (goal: under 1 s "
            f"cold)**; the bare interpreter takes {base * 1000:.0f} ms in the same run.\n\n"
            + markdown_table(cols, rows) + "\n\nCommand modules import nothing heavy at their top (numpy, duckdb, "
            "pydantic models, the store): `--help` imports every one of them to list the commands "
            "(`tests/test_cli_help.py` keeps it so); the work's imports happen inside each command.\n")
    if not args.no_write:
        write_section("cli_help", body)


if __name__ == "__main__":
    main()
