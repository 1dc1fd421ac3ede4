"""Shared terminal pieces: one console, progress bars, tables that never cut a cell, verdict summaries.

Output survives pipes and narrow terminals: piped (not a terminal, no ``COLUMNS``) the console is as wide as
its longest line, so ``| grep`` sees whole rows; in a narrow terminal every table cell folds instead of
ending in ``…``. Commands that print a table also take ``--json``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

#: how each decision is coloured (also in catalyst.summary, which imports the record models)
DECISION_STYLE = {"accept": "green", "review": "yellow", "block": "red", "retry": "magenta"}

#: width used when output goes to a pipe or a file (cells fold beyond it; nothing is cut)
PIPE_WIDTH = 240


def _width(stream: Any) -> int | None:
    if os.environ.get("COLUMNS"):
        return None  # rich reads COLUMNS itself
    try:
        return None if stream.isatty() else PIPE_WIDTH
    except (AttributeError, ValueError):
        return PIPE_WIDTH


console = Console(stderr=False, width=_width(sys.stdout))
err = Console(stderr=True, width=_width(sys.stderr))

__all__ = ["DECISION_STYLE", "console", "err", "plain_table", "progress", "verdict_panel"]


def __getattr__(name: str) -> Any:  # ``Summary`` imports the record models: only when asked for
    if name == "Summary":
        from catalyst.summary import Summary

        return Summary
    raise AttributeError(name)


def plain_table(title: str | None, columns: list[str], *, right: tuple[str, ...] = ()) -> Table:
    """A table whose cells fold (never ``…``) in a narrow terminal."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col, overflow="fold", justify="right" if col in right else "left")
    return t


def progress(transient: bool = False) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err, transient=transient)


def _marked(text: str, spans: list[tuple[int, int, bool, str]], limit: int, *, marks: tuple[str, str]
            ) -> tuple[Any, list[str]]:
    """``text`` with spans styled (green supported, yellow unsupported) and one line per span, so the marks
    survive a pipe (styles do not)."""
    from rich.text import Text

    from catalyst.review._text import visible

    shown = Text(visible(text[:limit]))
    notes = []
    for start, end, ok, reason in sorted(spans):
        if start < len(shown):
            shown.stylize("bold black on green" if ok else "bold black on yellow", start, min(end, len(shown)))
        mark = marks[0] if ok else marks[1]
        snippet = visible(text[start:end])
        snippet = snippet if len(snippet) <= 100 else snippet[:97] + "..."
        notes.append(f"  {mark} [{start}:{end}] \"{snippet}\" — {visible(reason)}")
    if len(text) > limit:
        shown.append(f"\n... {len(text) - limit:,} more characters not shown", style="italic dim")
    return shown, notes


def verdict_panel(v: dict[str, Any]) -> list[Any]:
    """Rich renderables for one logged verdict (``Store.verdict``): the answer and every context passage with
    the spans checks pointed at (supported / unsupported), then each check's score and reason."""
    import orjson
    from rich.panel import Panel
    from rich.text import Text

    from catalyst.records import confidence_text
    from catalyst.review._text import visible

    inter = v.get("interaction") or {}
    out = inter.get("output") or ""
    ctx = inter.get("context")
    context = orjson.loads(ctx) if isinstance(ctx, str) and ctx else (ctx or [])
    style = DECISION_STYLE.get(v["decision"], "white")
    head = Text.assemble(("decision ", "bold"), (v["decision"], f"bold {style}"),
                         ("   confidence ", "bold"), confidence_text(v["confidence"], 3),
                         ("   policy ", "bold"), v["policy"], ("   at ", "bold"), str(v["created_at"]))
    parts: list[Any] = [head]
    if inter.get("input"):
        parts.append(Panel(Text(visible(str(inter["input"])[:4000])), title="input", title_align="left",
                           expand=False))
    out_spans: list[tuple[int, int, bool, str]] = []
    ctx_spans: dict[int, list[tuple[int, int, bool, str]]] = {}
    for c in v["checks"]:
        for e in c["evidence"]:
            span = (int(e["start"]), int(e["end"]), bool(c["passed"]), f"{c['name']}: {e['reason']}")
            if e.get("field", "output") == "output":
                out_spans.append(span)
            elif e.get("field") == "context" and e.get("passage") is not None:
                ctx_spans.setdefault(int(e["passage"]), []).append(span)
    shown, notes = _marked(out, out_spans, 20000, marks=("✓ supported", "✗ unsupported"))
    parts.append(Panel(shown, title="output (green: supported, yellow: doubted)", title_align="left", expand=False))
    parts += [Text(n) for n in notes]
    for i, passage in enumerate(context):
        shown, notes = _marked(str(passage), ctx_spans.get(i, []), 4000,
                               marks=("✓ supports the answer", "~ closest evidence for a doubted claim"))
        status = "referenced" if i in ctx_spans else "not referenced by any check"
        parts.append(Panel(shown, title=f"context passage {i} ({status})", title_align="left", expand=False))
        parts += [Text(n) for n in notes]
    t = plain_table("checks", ["check", "score", "passed", "ms", "why"])
    for c in v["checks"]:
        why = c["error"] or "; ".join(e["reason"] for e in c["evidence"][:3]) or ""
        score = "—" if c["score"] is None else f"{c['score']:.3f}"
        t.add_row(c["name"], score, "[green]yes[/]" if c["passed"] else "[red]no[/]", f"{c['ms'] or 0:.2f}", why)
    parts.append(t)
    if v.get("reasons"):
        parts.append(Text("reasons: " + "; ".join(v["reasons"])))
    return parts
