"""Shared terminal pieces: one console, progress bars, verdict summaries."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from catalyst.records import confidence_text
from catalyst.summary import DECISION_STYLE, Summary

console = Console(stderr=False)
err = Console(stderr=True)

__all__ = ["DECISION_STYLE", "Summary", "console", "err", "progress", "verdict_panel"]


def progress(transient: bool = False) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err, transient=transient)


def verdict_panel(v: dict[str, Any]) -> list[Any]:
    """Rich renderables for one logged verdict (``Store.verdict``), evidence highlighted in the output."""
    from rich.panel import Panel
    from rich.text import Text

    inter = v.get("interaction") or {}
    out = inter.get("output") or ""
    style = DECISION_STYLE.get(v["decision"], "white")
    head = Text.assemble(("decision ", "bold"), (v["decision"], f"bold {style}"),
                         ("   confidence ", "bold"), confidence_text(v["confidence"], 3),
                         ("   policy ", "bold"), v["policy"], ("   at ", "bold"), str(v["created_at"]))
    parts: list[Any] = [head]
    if inter.get("input"):
        parts.append(Panel(Text(str(inter["input"])[:4000]), title="input", title_align="left"))
    shown = Text(out[:20000])
    for c in v["checks"]:
        for e in c["evidence"]:
            if e.get("field", "output") == "output" and e["start"] < len(shown):
                shown.stylize("bold black on yellow", e["start"], min(e["end"], len(shown)))
    parts.append(Panel(shown, title="output (doubted spans highlighted)", title_align="left"))
    t = Table(title="checks", title_justify="left")
    for col in ("check", "score", "passed", "ms", "why"):
        t.add_column(col)
    for c in v["checks"]:
        why = c["error"] or "; ".join(e["reason"] for e in c["evidence"][:3]) or ""
        score = "—" if c["score"] is None else f"{c['score']:.3f}"
        t.add_row(c["name"], score, "[green]yes[/]" if c["passed"] else "[red]no[/]", f"{c['ms'] or 0:.2f}", why)
    parts.append(t)
    if v.get("reasons"):
        parts.append(Text("reasons: " + "; ".join(v["reasons"])))
    return parts
