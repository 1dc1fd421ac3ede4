"""Shared by every benchmark: print a rich table and rewrite this benchmark's section of BENCHMARKS.md.

Each script owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; other sections are
left as they are. Figures are medians and ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEvery figure here is written by a script under `benchmarks/` (named in its section), "
          "with a baseline measured in the same run. Machines here are shared and noisy: read ratios and medians.\n")


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
            f"load {load:.1f} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def p95(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def show(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(c) for c in r])
    Console().print(t)


def write_section(name: str, body: str) -> None:
    """Replace (or append) this benchmark's section in BENCHMARKS.md."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)
