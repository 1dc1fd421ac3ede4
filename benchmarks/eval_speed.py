"""How long ``catalyst eval`` takes on 100k records with precomputed check scores, against a naive loop.

    python benchmarks/eval_speed.py [--n 100000] [--repeats 3]

Both sides compute the same things from the same JSONL file: parse, aggregate the check scores under the
policy, AUROC, Brier, ECE (10 equal-width bins), risk-coverage and accuracy at 80% coverage, the review rate
for a 5% error target, per-check AUROC, the length baseline, and per-segment AUROC/ECE. Catalyst's side is the
real code path of ``catalyst eval`` (DuckDB parse + numpy; the HTML report is timed separately); the baseline
is a straightforward per-record Python implementation (json.loads per line, sorted(), loops over records).
The two AUROCs are compared to show they agree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, median, show, write_section

POLICY = "name: sig\nchecks:\n  - signal_a: {}\n  - signal_b: {}\nthresholds: {accept: 0.8, block: 0.3}\n"


def naive(path: Path) -> dict[str, float]:
    """The same metrics with one Python loop per record (what a quick script would do)."""
    rows = []
    with path.open() as f:
        for line in f:
            r = json.loads(line)
            scores = {c["name"]: c["score"] for c in r["checks"] if c.get("score") is not None}
            conf = sum(scores.values()) / len(scores)
            rows.append((conf, r["label"], r["output_chars"], r["metadata"]["segment"]["region"], scores))

    def auc(pairs: list[tuple[float, int]]) -> float:
        pairs = sorted(pairs)
        n1 = sum(1 for _, y in pairs if y == 1)
        n0 = len(pairs) - n1
        rank_sum, i = 0.0, 0
        while i < len(pairs):
            j = i
            while j < len(pairs) and pairs[j][0] == pairs[i][0]:
                j += 1
            avg = (i + 1 + j) / 2
            rank_sum += avg * sum(1 for k in range(i, j) if pairs[k][1] == 1)
            i = j
        return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)

    def ece(pairs: list[tuple[float, int]]) -> float:
        bins = [[0, 0.0, 0.0] for _ in range(10)]
        for p, y in pairs:
            b = min(int(p * 10), 9)
            bins[b][0] += 1
            bins[b][1] += p
            bins[b][2] += y
        return sum(n / len(pairs) * abs(a / n - c / n) for n, c, a in bins if n)

    pairs = [(c, y) for c, y, *_ in rows]
    out = {"auroc": auc(pairs), "ece": ece(pairs), "brier": sum((c - y) ** 2 for c, y in pairs) / len(pairs)}
    ranked = sorted(pairs, key=lambda t: -t[0])
    correct, curve = 0, []
    for k, (_, y) in enumerate(ranked, 1):
        correct += y
        curve.append(correct / k)
    out["acc80"] = curve[int(0.8 * len(curve)) - 1]
    out["review"] = next((1 - k / len(curve) for k in range(len(curve), 0, -1) if 1 - curve[k - 1] <= 0.05), 1.0)
    for name in ("signal_a", "signal_b"):
        out[name] = auc([(r[4][name], r[1]) for r in rows if name in r[4]])
    out["length"] = auc([(-r[2], r[1]) for r in rows])
    for seg in {r[3] for r in rows}:
        sub = [(r[0], r[1]) for r in rows if r[3] == seg]
        if len(sub) >= 30:
            out[f"seg_{seg}"] = auc(sub) + ece(sub)
    return out


def catalyst_eval(path: Path, policy_path: Path) -> dict[str, float]:
    from catalyst.evaluation import evaluate, load_jsonl, rescore
    from catalyst.policy import load_policy

    policy = load_policy(policy_path)
    data = load_jsonl(path)
    conf, dec = rescore(data, policy)
    data.decision = dec
    rep = evaluate(data, conf)
    return {"auroc": rep["overall"]["auroc"], "ece": rep["overall"]["ece"], "report": rep}  # type: ignore[dict-item]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args(argv)
    from catalyst.evaluation.html import render_html
    from catalyst.evaluation.synthetic import make_records, register_checks, write_jsonl

    register_checks()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_jsonl(Path(tmp) / "scored.jsonl", make_records(args.n, seed=11, shift=0.7))
        policy = Path(tmp) / "p.yaml"
        policy.write_text(POLICY)
        size_mb = path.stat().st_size / 1e6
        ours, base, html_t = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            res = catalyst_eval(path, policy)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            render_html(res["report"])  # type: ignore[arg-type]
            html_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = naive(path)
            base.append(time.perf_counter() - t)
    agree = abs(res["auroc"] - ref["auroc"]) < 1e-9 and abs(res["ece"] - ref["ece"]) < 1e-9
    rows = [["catalyst eval (DuckDB parse + numpy metrics)", f"{median(ours):.2f} s", "1.0x"],
            ["HTML report with 3 plots (extra)", f"{median(html_t):.2f} s", "–"],
            ["naive per-record Python loop (baseline)", f"{median(base):.2f} s",
             f"{median(base) / median(ours):.1f}x slower"]]
    cols = ["implementation", f"median of {args.repeats}, {args.n:,} records ({size_mb:.0f} MB JSONL)", "ratio"]
    show("catalyst eval speed", cols, rows)
    print(f"AUROC catalyst {res['auroc']:.6f} vs naive {ref['auroc']:.6f}; ECE {res['ece']:.6f} vs "
          f"{ref['ece']:.6f}: {'agree' if agree else 'DISAGREE'}")
    if not args.no_write:
        body = "\n".join([
            "## `catalyst eval` speed (precomputed check scores)",
            "",
            f"`python benchmarks/eval_speed.py --n {args.n}` — {machine()}. Same file, same metrics (aggregate "
            "under the policy, AUROC, Brier, ECE, risk-coverage, accuracy@80%, review rate for 5% error, per-check "
            "and length-baseline AUROC, per-segment AUROC/ECE). Target: under 10 s for 100k records.",
            "",
            markdown_table(cols, rows),
            "",
            f"AUROC and ECE agree between the two implementations: {'yes' if agree else 'NO'}.",
        ])
        write_section("eval_speed", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
