"""Showing a monitoring report: rich tables for the terminal, a self-contained HTML page with plots.

Both read the plain dict that :func:`catalyst.monitor.report.health` (and the drift, quality and slice
sections) return, so ``--json`` output can be re-rendered later.
"""

from __future__ import annotations

import html
from typing import Any

from catalyst.evaluation.html import _plt, _table
from catalyst.monitor._sections import _pct, time_png

__all__ = ["render_html", "terminal"]


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _q(qs: Any, i: int) -> str:
    return "—" if not qs or qs[i] is None else f"{qs[i]:.1f}"


def terminal(rep: dict[str, Any]) -> list[Any]:
    """Rich renderables for the report, section by section (sections absent from ``rep`` are skipped)."""
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    w, o = rep["window"], rep["overview"]
    out.append(Text.assemble(("window ", "bold"), f"{w['start']:%Y-%m-%d %H:%M} → {w['end']:%Y-%m-%d %H:%M} UTC",
                             ("   verdicts ", "bold"), f"{o['n']:,}", ("   mean confidence ", "bold"),
                             _num(o["mean_confidence"]), ("   unverified ", "bold"), _pct(o["unverified_rate"])))
    t = Table(title=f"validations by {w['by']}", title_justify="left")
    for col in ("bucket", "n", "accept", "review", "block", "conf p10/p50/p90", "ms p50/p95/p99"):
        t.add_column(col, justify="left" if col == "bucket" else "right")
    for b in rep["timeline"]:
        cq = b["confidence_q"]
        when = f"{b['bucket']:%Y-%m-%d}" if w["by"] == "day" else f"{b['bucket']:%m-%d %H:%M}"
        t.add_row(when, f"{b['n']:,}", _pct(b["accept_rate"]), _pct(b["review_rate"]),
                  _pct(b["block_rate"]), "—" if not cq or cq[0] is None else f"{cq[0]:.2f}/{cq[1]:.2f}/{cq[2]:.2f}",
                  f"{_q(b['ms_q'], 0)}/{_q(b['ms_q'], 1)}/{_q(b['ms_q'], 2)}")
    out.append(t)
    t = Table(title="checks", title_justify="left")
    for col in ("check", "n", "ms p50", "p95", "p99", "errors", "timeouts", "failed", "mean score"):
        t.add_column(col, justify="left" if col == "check" else "right")
    lat = rep["latency"]["q"]
    t.add_row("[bold]whole verdict[/]", f"{o['n']:,}", _q(lat, 0), _q(lat, 1), _q(lat, 2), "", "", "", "")
    for c in rep["checks"]:
        t.add_row(c["check"], f"{c['n']:,}", _q(c["ms_q"], 0), _q(c["ms_q"], 1), _q(c["ms_q"], 2),
                  _pct(c["error_rate"]), _pct(c["timeout_rate"]), _pct(c["fail_rate"]), _num(c["mean_score"]))
    out.append(t)
    mc = rep.get("model_calls")
    if mc:
        out.append(Text(f"model calls: {mc['calls']:,} ({mc['calls_per_verdict']:.3f} per verdict), "
                        f"{mc['tokens_per_verdict']:.1f} tokens per verdict, errors {_pct(mc['error_rate'])}"))
    rv = rep.get("review")
    if rv:
        out.append(Text(f"review: backlog {rv['backlog']:,} (audit {rv['audit_backlog']:,}), age p50 "
                        f"{_num(rv['age_p50_hours'], 1)} h / max {_num(rv['age_max_hours'], 1)} h, SLA "
                        f"({rv['sla_hours']:g} h) breaches {rv['sla_breaches']:,}; {rv['created']:,} created and "
                        f"{rv['decided']:,} decided in the window (median {_num(rv['decide_p50_hours'], 1)} h)"))
    ov = rep.get("overturn") or {}
    for kind in ("review", "audit"):
        r = ov.get(kind)
        if r:
            out.append(Text(f"overturn rate ({kind} items): {_pct(r['rate'])} of {r['n']:,} "
                            f"[{_pct(r['low'])}, {_pct(r['high'])}]"))
    for key in ("drift", "quality", "slices"):
        if rep.get(key):
            from catalyst.monitor import _sections

            out.extend(getattr(_sections, f"{key}_terminal")(rep[key]))
    return out


def _timeline_figure(rep: dict[str, Any]) -> str:
    plt = _plt()
    tl = rep["timeline"]
    xs = [b["bucket"] for b in tl]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    axes[0].bar(xs, [b["n"] for b in tl], width=0.8 * ((xs[1] - xs[0]) if len(xs) > 1 else 1), color="#8aa")
    axes[0].set(title="validations", ylabel="verdicts")
    for key, colour in (("accept_rate", "#2a7"), ("review_rate", "#d90"), ("block_rate", "#c33")):
        axes[1].plot(xs, [b[key] for b in tl], label=key.split("_")[0], color=colour)
    axes[1].set(title="decision mix", ylim=(0, 1))
    axes[1].legend(fontsize=8)
    qs = [b["confidence_q"] or [None] * 3 for b in tl]
    axes[2].fill_between(xs, [q[0] for q in qs], [q[2] for q in qs], alpha=0.25, label="p10–p90")
    axes[2].plot(xs, [q[1] for q in qs], label="median")
    axes[2].set(title="confidence", ylim=(0, 1))
    axes[2].legend(fontsize=8)
    return time_png(fig, axes)


def _latency_figure(rep: dict[str, Any]) -> str:
    plt = _plt()
    tl = rep["timeline"]
    xs = [b["bucket"] for b in tl]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for i, name in enumerate(("p50", "p95", "p99")):
        ax.plot(xs, [(b["ms_q"] or [None] * 3)[i] for b in tl], label=name)
    ax.set(title="verdict latency (ms)", yscale="log")
    ax.legend(fontsize=8)
    return time_png(fig, ax)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}tr.flag{background:#fff0f0}
tr.small{color:#999}img{max-width:100%}.note{color:#555;font-size:0.9em}"""


def render_html(rep: dict[str, Any], *, title: str = "Catalyst monitoring report") -> str:
    """A self-contained page (plots inline as PNG) with every section present in ``rep``."""
    w, o = rep["window"], rep["overview"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{o['n']:,} verdicts, {w['start']:%Y-%m-%d %H:%M} → {w['end']:%Y-%m-%d %H:%M} UTC, by "
             f"{html.escape(w['by'])}. Mean confidence {_num(o['mean_confidence'])}; unverified (no confidence) "
             f"{_pct(o['unverified_rate'])}.</p>",
             "<h2>Over time</h2>", f"<img src='data:image/png;base64,{_timeline_figure(rep)}'>",
             f"<img src='data:image/png;base64,{_latency_figure(rep)}'>",
             "<h2>Decisions</h2>",
             _table(["accept", "review", "block", "retry"],
                    [[_pct(o["accept_rate"]), _pct(o["review_rate"]), _pct(o["block_rate"]), _pct(o["retry_rate"])]]),
             "<h2>Checks</h2>",
             _table(["check", "n", "ms p50", "ms p95", "ms p99", "errors", "timeouts", "failed", "mean score"],
                    [["whole verdict", o["n"], *(rep["latency"]["q"] or [None] * 3), None, None, None, None]] +
                    [[c["check"], c["n"], *(c["ms_q"] or [None] * 3), _pct(c["error_rate"]), _pct(c["timeout_rate"]),
                      _pct(c["fail_rate"]), c["mean_score"]] for c in rep["checks"]])]
    mc = rep.get("model_calls")
    if mc:
        parts += ["<h2>Model calls</h2>", _table(
            ["model", "calls", "tokens", "errors"],
            [[m["model"], m["calls"], m["tokens"], _pct(m["error_rate"])] for m in mc["by_model"]]),
            f"<p>{mc['calls_per_verdict']:.3f} calls and {mc['tokens_per_verdict']:.1f} tokens per verdict.</p>"]
    rv = rep.get("review")
    if rv:
        parts += ["<h2>Review</h2>", _table(
            ["backlog", "audit backlog", "age p50 (h)", "age max (h)", f"SLA breaches ({rv['sla_hours']:g} h)",
             "created", "decided", "time to decide p50 (h)"],
            [[rv["backlog"], rv["audit_backlog"], rv["age_p50_hours"], rv["age_max_hours"], rv["sla_breaches"],
              rv["created"], rv["decided"], rv["decide_p50_hours"]]])]
    ov = rep.get("overturn") or {}
    if any(ov.values()):
        parts += ["<h3>Reviewer overturn rate</h3>", _table(
            ["items", "labelled", "overturned", "rate", "95% interval"],
            [[k, r["n"], r["overturned"], _pct(r["rate"]), f"{_pct(r['low'])} – {_pct(r['high'])}"]
             for k, r in ov.items() if r]),
            "<p class='note'>Overturned: the reviewer judged the answer wrong although its confidence was ≥ 0.5, "
            "or right although it was below. Audit items are auto-accepted answers sampled at random.</p>"]
    for key in ("quality", "drift", "slices"):
        if rep.get(key):
            from catalyst.monitor import _sections

            parts.append(getattr(_sections, f"{key}_html")(rep[key]))
    parts.append("</body></html>")
    return "\n".join(parts)
