"""Render an evaluation report for a person: plots (matplotlib, embedded as PNG) and plain tables.

Everything is drawn from the JSON report dict alone, so a saved ``report.json`` can be re-rendered later.
Figures: reliability diagram, risk-coverage (with the length baseline), score histograms by label; tables:
headline numbers beside the baseline, decisions, per-check AUROC, per-segment metrics with flags.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

__all__ = ["plot_compare", "plot_histogram", "plot_reliability", "plot_risk_coverage", "render_html"]


def _plt() -> Any:
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # headless by default; keep a notebook's inline backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_reliability(reports: dict[str, dict[str, Any]], ax: Any = None) -> Any:
    """Reliability diagram: each bin's accuracy against its mean confidence, one line per report."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect calibration")
    for name, rep in reports.items():
        rel = rep["overall"]["reliability"]
        pts = [(c, a, n) for c, a, n in zip(rel["confidence"], rel["accuracy"], rel["count"], strict=True)
               if c is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                label=f"{name} (ECE {rep['overall']['ece']:.3f})")
    ax.set(xlabel="mean confidence in bin", ylabel="share correct in bin", xlim=(0, 1), ylim=(0, 1),
           title="Reliability diagram")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_risk_coverage(reports: dict[str, dict[str, Any]], ax: Any = None, *, baseline: bool = True) -> Any:
    """Accuracy of the accepted answers as more are accepted (most confident first)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    for name, rep in reports.items():
        rc = rep["overall"]["risk_coverage"]
        ax.plot(rc["coverage"], rc["accuracy"], label=f"{name} (acc@80% {rep['overall']['accuracy_at_80']:.3f})")
    first = next(iter(reports.values()))
    base = first.get("baseline", {}).get("length")
    if baseline and base:
        ax.plot(base["risk_coverage"]["coverage"], base["risk_coverage"]["accuracy"], ls=":", c="black",
                label=f"answer length alone (acc@80% {base['accuracy_at_80']:.3f})")
    ax.axhline(first["base_rate"], c="grey", lw=0.8, ls="--", label=f"accept all ({first['base_rate']:.3f})")
    ax.axvline(0.8, c="grey", lw=0.5)
    ax.set(xlabel="coverage (share accepted)", ylabel="accuracy of accepted", xlim=(0, 1),
           title="Risk-coverage")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_histogram(rep: dict[str, Any], ax: Any = None, *, title: str = "Confidence by label") -> Any:
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    h = rep["overall"]["histogram"]
    e = h["edges"]
    width = e[1] - e[0]
    ax.bar(e[:-1], h["correct"], width=width, align="edge", alpha=0.6, label="correct (label 1)")
    ax.bar(e[:-1], h["incorrect"], width=width, align="edge", alpha=0.6, label="incorrect (label 0)")
    ax.set(xlabel="confidence", ylabel="answers", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_compare(reports: dict[str, dict[str, Any]]) -> Any:
    """Side-by-side figure for several reports on the same records (policies, calibrators)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2 + len(reports), figsize=(5 * (2 + len(reports)), 4.2))
    plot_reliability(reports, axes[0])
    plot_risk_coverage(reports, axes[1])
    for ax, (name, rep) in zip(axes[2:], reports.items(), strict=True):
        plot_histogram(rep, ax, title=f"{name}: confidence by label")
    fig.tight_layout()
    return fig


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _table(head: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_f(c)}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}tr.flag{background:#fff0f0}
tr.small{color:#999}.figs img{max-width:32%;margin-right:1%}.note{color:#555;font-size:0.9em}"""


def _unverified_html(un: dict[str, Any] | None) -> str:
    """The labelled answers no evidence check scored: left out of every metric of the confidence, said here."""
    if not un or not un["n"]:
        return ""
    acc = "" if un["accuracy"] is None else f", {un['accuracy']:.1%} of them correct"
    d = un.get("decisions") or {}
    rates = " / ".join(f"{d.get(k + '_rate', 0):.1%}" for k in ("accept", "review", "block"))
    return (f"<p class='note'><b>Not verified:</b> {un['n']} labelled answers ({un['share']:.1%}) had no "
            f"evidence (<code>evidence: none</code>, no confidence){acc}; accept / review / block {rates} "
            "(decided by <code>on_unverified</code>). They are left out of the metrics below.</p>")


def render_html(report: dict[str, Any], *, title: str = "Catalyst evaluation") -> str:
    """A self-contained HTML page (plots inline as base64 PNG)."""
    o = report["overall"]
    base = report["baseline"].get("length")
    st = report["settings"]
    name = report.get("policy", "confidence")
    figs = [_png(plot_reliability({name: report}).figure), _png(plot_risk_coverage({name: report}).figure),
            _png(plot_histogram(report).figure)]
    head_rows = [
        ["AUROC", o["auroc"], base["auroc"] if base else None],
        ["AUPRC (correct answers)", o["auprc"], None],
        ["AUPRC (errors, by low confidence)", o["auprc_error"], None],
        ["accuracy at 80% coverage", o["accuracy_at_80"], base["accuracy_at_80"] if base else None],
        ["area under risk-coverage (lower better)", o["aurc"], base["aurc"] if base else None],
        ["Brier score (lower better)", o["brier"], None],
        [f"ECE, {st['n_bins']} {'equal-width' if st['binning'] == 'width' else 'equal-count'} bins", o["ece"], None],
        ["accuracy (accept everything)", o["accuracy"], None],
    ]
    rt = o["review_for_target"]
    review_txt = (f"To keep the error of auto-accepted answers at or under {rt['target_error']:.1%}, accept "
                  f"confidence ≥ {rt['threshold']:.3f} and review {rt['review_rate']:.1%} of answers "
                  f"(accepted error {rt['accepted_error']:.2%}, measured on these records)."
                  if rt["achievable"] else
                  f"No threshold keeps the accepted error under {rt['target_error']:.1%}: everything needs review.")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{report['n_labelled']} labelled records of {report['n_records']}; "
             f"{report['base_rate']:.1%} of the verified ones correct. Score: <b>{html.escape(str(name))}</b>.</p>",
             _unverified_html(report.get("unverified")),
             "<h2>Headline</h2>",
             _table(["metric", "confidence", "answer length alone"], head_rows),
             f"<p class='note'>Length baseline: {html.escape(base['direction']) if base else 'no output text'}"
             f"{' — direction picked on these records, so it is slightly optimistic' if base else ''}.</p>",
             f"<p>{html.escape(review_txt)}</p>",
             "<div class='figs'>" + "".join(f"<img src='data:image/png;base64,{f}'>" for f in figs) + "</div>"]
    dec = report.get("decisions")
    if dec:
        parts += ["<h2>Decisions</h2>", _table(
            ["accept", "review", "block", "retry", "precision of accepted", "correct answers blocked"],
            [[dec["accept_rate"], dec["review_rate"], dec["block_rate"], dec["retry_rate"],
              dec["precision_accepted"], dec["correct_blocked_rate"]]])]
    if report["checks"]:
        parts += ["<h2>Checks</h2>", _table(
            ["check", "AUROC", "mean score", "records scored", "note"],
            [[k, v.get("auroc"), v.get("mean_score"), v["n"], v.get("note", "")]
             for k, v in report["checks"].items()])]
    for key, seg in report["segments"].items():
        rows, classes = [], []
        for r in seg["values"]:
            rows.append([r["value"], r["n"], r.get("accuracy"), r.get("auroc"), r.get("ece"), r.get("brier"),
                         r.get("length_auroc"),
                         ("largest gap: " if r.get("most_different") else "")
                         + (f"{r['worst_metric']} {r['delta'][r['worst_metric']]:+.3f}"
                            if r.get("flagged") or r.get("most_different") else "")
                         + (" (within tolerance)" if r.get("most_different") and not r.get("flagged") else "")
                         + (r.get("note", "") if r.get("status") != "ok" else "")])
            classes.append("flag" if r.get("flagged") else ("small" if r.get("status") == "too_small" else ""))
        parts += [f"<h2>Segment: {html.escape(key)}</h2>",
                  _table(["value", "n", "accuracy", "AUROC", "ECE", "Brier", "length AUROC", "flag"], rows, classes),
                  f"<p class='note'>Flagged when a metric differs from overall by ≥ {st['flag_delta']}; segments "
                  f"under {st['min_segment']} records are reported as too small, not as disparities.</p>"]
    parts.append("</body></html>")
    return "\n".join(parts)
