"""Ordered, named schema migrations for the DuckDB log (after simonw/llm's ``migrations.py``).

Each module here named ``mNNN_<what>.py`` defines ``MIGRATIONS``: a list of ``(name, sql)`` pairs, applied
in module order, then list order. A migration runs once per database, recorded in ``_migrations``; never
edit one that has shipped — add a new one. Number ranges: core 000-009, review 010-019,
calibration/eval 020-029, model calls/proxy 030-039.
"""

from __future__ import annotations

import importlib
import pkgutil


def all_migrations() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("m"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        out.extend(module.MIGRATIONS)
    names = [n for n, _ in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"duplicate migration names: {sorted(dupes)}")
    return out
