"""Terminal tables and HTML (with plots) for the drift, quality and slice sections of a report."""

from __future__ import annotations

import html
from typing import Any

from catalyst.evaluation.html import _plt, _png, _table


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def _f(x: Any, d: int = 3) -> str:
    return "—" if x is None else f"{x:.{d}f}"


def time_png(fig: Any, axes: Any) -> str:
    """Finish a figure whose x axes are time (slanted small dates) and return it as base64 PNG."""
    for ax in (axes if hasattr(axes, "__iter__") else [axes]):
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.tight_layout()
    return _png(fig)


def _p(x: Any) -> str:
    return "—" if x is None else f"{x:.2g}"


# -- drift -----------------------------------------------------------------------------------------
def drift_terminal(d: dict[str, Any]) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"drift vs {d['reference']['start']:%Y-%m-%d %H:%M} → {d['reference']['end']:%Y-%m-%d %H:%M} "
                    f"(FDR {d['alpha']:.0%}, thresholds from each statistic's null)", title_justify="left")
    for col in ("metric", "n ref / cur", "statistic", "null 95%", "q", "drift", "PSI>0.1 rule"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for x in d["tests"]:
        if x["status"] != "ok":
            t.add_row(x["metric"], f"{x['n_ref']:,} / {x['n_cur']:,}", "", "", "", f"[dim]{x['note']}[/]", "")
            continue
        stat = f"AUC {x['statistic']:.3f}" if x["kind"] == "text" else f"PSI {x['statistic']:.4f}"
        t.add_row(x["metric"], f"{x['n_ref']:,} / {x['n_cur']:,}", stat, _f(x.get("threshold"), 4), _p(x["q"]),
                  "[bold red]yes[/]" if x["drift"] else "no",
                  "" if x["kind"] == "text" else ("fires" if x.get("fixed_rule") else ""))
    out: list[Any] = [t]
    for f in d.get("fields", []):
        out.append(Text(f"metadata field `{f['field']}` {f['change']} ({f['ref_rows']:,} → {f['cur_rows']:,} rows)",
                        style="bold"))
    for x in d["tests"]:
        if x["kind"] == "text" and x.get("drift"):
            out.append(Text(f"{x['metric']}: words of the current window: {', '.join(x['words_current'][:8])}; "
                            f"e.g. {x['examples_current'][:1]}"))
        if x["kind"] == "category" and (x.get("appeared") or x.get("vanished")):
            out.append(Text(f"{x['metric']}: new values {x['appeared'][:5]}, vanished {x['vanished'][:5]}"))
    return out


def _drift_figure(d: dict[str, Any]) -> str:
    plt = _plt()
    ok = [x for x in d["tests"] if x["status"] == "ok" and x["kind"] != "text"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(ok) + 1.2))
    ys = range(len(ok))
    floor = 1e-6  # PSI of identical histograms is 0: drawn at the floor of the log axis
    ax.barh(ys, [max(floor, x["statistic"]) for x in ok], left=floor,
            color=["#c33" if x["drift"] else "#8aa" for x in ok], label="PSI")
    ax.scatter([max(floor, x["threshold"]) for x in ok], ys, marker="|", s=200, c="black",
               label="null 95th percentile (this window's threshold)")
    ax.axvline(0.1, ls=":", c="grey", label="fixed PSI 0.1")
    ax.set_yticks(list(ys), [x["metric"] for x in ok], fontsize=8)
    ax.set(xscale="log", xlim=(floor, None), xlabel="PSI (red: drift after FDR control)", title="Drift by metric")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def drift_html(d: dict[str, Any]) -> str:
    rows = []
    for x in d["tests"]:
        if x["status"] != "ok":
            rows.append([x["metric"], x["n_ref"], x["n_cur"], None, None, None, None, x["note"]])
            continue
        note = ""
        if x["kind"] == "text":
            note = "current: " + ", ".join(x["words_current"][:8])
        elif x["kind"] == "category" and (x["appeared"] or x["vanished"]):
            note = f"new {x['appeared'][:5]} vanished {x['vanished'][:5]}"
        rows.append([x["metric"], x["n_ref"], x["n_cur"], x["statistic"], x.get("threshold"), _p(x["q"]),
                     "DRIFT" if x["drift"] else "no", note])
    examples = "".join(
        f"<h4>{html.escape(x['metric'])}</h4><p>current-looking: "
        + "; ".join(f"<code>{html.escape(e)}</code>" for e in x["examples_current"])
        + "</p><p>reference-looking: " + "; ".join(f"<code>{html.escape(e)}</code>" for e in x["examples_reference"])
        + "</p>" for x in d["tests"] if x["kind"] == "text" and x.get("drift"))
    return ("<h2>Drift</h2>"
            f"<p>Current {d['current']['start']:%Y-%m-%d %H:%M} → {d['current']['end']:%Y-%m-%d %H:%M} against "
            f"reference {d['reference']['start']:%Y-%m-%d %H:%M} → {d['reference']['end']:%Y-%m-%d %H:%M} UTC.</p>"
            f"<img src='data:image/png;base64,{_drift_figure(d)}'>"
            + _table(["metric", "n ref", "n cur", "statistic (PSI / AUC)", "null 95%", "q", "drift", "what"], rows)
            + examples + "".join(f"<p><b>metadata field <code>{html.escape(f['field'])}</code> {f['change']}</b> "
                                 f"({f['ref_rows']:,} → {f['cur_rows']:,} rows)</p>" for f in d.get("fields", []))
            + f"<p class='note'>{html.escape(d['method'])}; {d['resamples']} null draws per statistic.</p>")


# -- quality ---------------------------------------------------------------------------------------
def quality_terminal(q: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    out: list[Any] = []
    if q["expected"]:
        last = q["expected"][-1]
        out.append(Text(f"expected error of accepted answers (label-free, last bucket): "
                        f"{_pct(last['expected_error'])} [{_pct(last['low'])}, {_pct(last['high'])}] of "
                        f"{last['accepted']:,}"))
    a = q.get("audit_total")
    if a:
        out.append(Text(f"audit sample: {a['errors']} wrong of {a['n']} accepted answers = {_pct(a['error_rate'])} "
                        f"[{_pct(a['low'])}, {_pct(a['high'])}], confidence promised {_pct(a['expected_error'])}"))
    for al in q["alarms"]:
        what = (f"reviewers find {_pct(al['observed'])} wrong where {_pct(al['expected'])} was expected"
                if al["kind"] == "concept_drift" else f"ECE {al['ece']:.3f} on {al['n']} labels")
        out.append(Text(f"ALARM {al['kind']} {al['bucket']:%Y-%m-%d %H:%M}: {what}", style="bold red"))
    return out


def _quality_figure(q: dict[str, Any]) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    e = q["expected"]
    xs = [r["bucket"] for r in e]
    axes[0].fill_between(xs, [r["low"] for r in e], [r["high"] for r in e], alpha=0.25)
    axes[0].plot(xs, [r["expected_error"] for r in e], label="expected (from confidence)")
    aud = [r for r in q["audit"] if r["n"] > 0]
    if aud:
        axes[0].errorbar([r["bucket"] for r in aud], [r["error_rate"] for r in aud],
                         yerr=[[max(0.0, r["error_rate"] - r["low"]) for r in aud],
                               [max(0.0, r["high"] - r["error_rate"]) for r in aud]],
                         fmt="o", ms=3, c="#c33", label="audit labels (observed)")
    axes[0].set(title="error of auto-accepted answers", ylim=(0, None))
    axes[0].legend(fontsize=8)
    cal = [r for r in q["calibration"] if r["judged"]]
    axes[1].plot([r["bucket"] for r in cal], [r["ece"] for r in cal], marker="o")
    axes[1].axhline(q.get("settings", {}).get("ece_alarm", 0.1), ls=":", c="grey", label="alarm")
    axes[1].set(title="calibration error (ECE) of labelled verdicts", ylim=(0, None))
    axes[1].legend(fontsize=8)
    return time_png(fig, axes)


def quality_html(q: dict[str, Any]) -> str:
    alarms = "".join(f"<p><b>Alarm ({html.escape(a['kind'])})</b> at {a['bucket']:%Y-%m-%d %H:%M}: "
                     + (f"reviewers find {_pct(a['observed'])} wrong where {_pct(a['expected'])} was expected "
                        f"(n={a['n']}, q={a['q']:.2g})" if a["kind"] == "concept_drift"
                        else f"ECE {a['ece']:.3f} on {a['n']} labels") + "</p>" for a in q["alarms"])
    a = q.get("audit_total")
    total = (f"<p>Audit sample over the window: {a['errors']} wrong of {a['n']} = {_pct(a['error_rate'])} "
             f"({_pct(a['low'])} – {_pct(a['high'])}); the confidence promised {_pct(a['expected_error'])}.</p>"
             if a else "<p>No audit labels in this window (set <code>review: {audit_sample: 0.02}</code>).</p>")
    return ("<h2>Quality without labels</h2>" + (f"<img src='data:image/png;base64,{_quality_figure(q)}'>"
                                                  if q["expected"] else "") + total + alarms
            + "<p class='note'>Expected error = mean(1 − confidence) of accepted answers, valid while the confidence "
              "is calibrated; audit labels (random accepted answers sent to review) test that.</p>")


# -- slices ----------------------------------------------------------------------------------------
def slices_terminal(s: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    t = Table(title=f"segments ranked by evidence (min {s['min_size']} verdicts)", title_justify="left")
    for col in ("segment", "n", "flag rate [95%]", "rest", "mean conf", "overturn", "strongest", "q"):
        t.add_column(col, justify="left" if col == "segment" else "right")
    for x in s["ranked"][:15]:
        t.add_row(f"{x['key']}={x['value']}", f"{x['n']:,}",
                  f"{_pct(x['flag_rate'])} [{_pct(x['flag_low'])}, {_pct(x['flag_high'])}]",
                  _pct(x.get("rest_flag_rate")), _f(x["mean_confidence"]), _pct(x["overturn_rate"]),
                  x.get("strongest", ""), ("[bold red]" if x.get("flagged") else "") + _p(x.get("evidence_q")))
    for x in s["too_small"][:5]:
        t.add_row(f"[dim]{x['key']}={x['value']}[/]", f"{x['n']:,}", "[dim]too small to judge[/]", "", "", "", "", "")
    return [t]


def _slices_figure(s: dict[str, Any]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    series: dict[str, list[tuple[Any, float]]] = {}
    for r in s["timeline"]:
        series.setdefault(f"{r['key']}={r['value']}", []).append((r["bucket"], r["flag_rate"]))
    for name, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
    ax.set(title="flag rate by segment", ylim=(0, 1))
    ax.legend(fontsize=7)
    return time_png(fig, ax)


def slices_html(s: dict[str, Any]) -> str:
    rows = [[f"{x['key']}={x['value']}", x["n"],
             f"{_pct(x['flag_rate'])} ({_pct(x['flag_low'])}–{_pct(x['flag_high'])})",
             _pct(x.get("rest_flag_rate")), x["mean_confidence"], x["expected_error"], _pct(x["overturn_rate"]),
             x.get("strongest", ""), _p(x.get("evidence_q"))] for x in s["ranked"]]
    rows += [[f"{x['key']}={x['value']}", x["n"], "too small to judge", None, None, None, None, "", ""]
             for x in s["too_small"]]
    classes = ["flag" if x.get("flagged") else "" for x in s["ranked"]] + ["small"] * len(s["too_small"])
    fig = f"<img src='data:image/png;base64,{_slices_figure(s)}'>" if s["timeline"] else ""
    return ("<h2>Segments</h2>" + fig
            + _table(["segment", "n", "flag rate (95%)", "rest", "mean confidence", "expected error", "overturn",
                      "strongest difference", "q"], rows, classes)
            + f"<p class='note'>Ranked by Benjamini–Hochberg q of each segment against the rest; segments under "
              f"{s['min_size']} verdicts are not judged.</p>")
