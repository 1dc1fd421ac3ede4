"""Grounding beyond one benchmark: leave-one-source-out ranking, calibration out of the box, and the label curve.

    python benchmarks/grounding_transfer.py            # features cached in .cache/grounding/ (first run: minutes)

For every source (QAGS CNN/DM and XSum, BEGIN CMU-DoG / TopicalChat / WoW, HaluEval qa / dialogue /
summarization) the head and its calibrator are fitted exactly as ``scripts/train_grounding.py`` fits the shipped
ones, on every *other* source plus the synthetic edits, and measured on the held-out source (HaluEval: its test
split). Beside the check, in the same run and on the same answers: answer length and words per sentence, each
in its better orientation (optimistic for them). Then, with the calibrator shipped in ``policies/default.yaml``'s
place (fitted without the source): ECE (10 equal-width bins) and the balanced accuracy of the shipped decision
(accept = calibrated confidence >= the default policy's accept threshold; block below its block threshold)
against the best threshold chosen on the held-out labels themselves. Finally the label curve: n reviewer labels
of the new source through ``catalyst.calibration.choose`` (what ``catalyst calibrate`` runs), measured on the
source's other answers (median of 5 draws).

Answers with no checkable claim (the check reports no evidence) are left out of every column; ``n`` counts the
rest.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import train_grounding as tg  # noqa: E402
from _report import machine, markdown_table, show, write_section  # noqa: E402

SECTION = "grounding_transfer"
TEST_SOURCES = (*tg.SHARED, *tg.HALU)


def _thresholds() -> tuple[float, float]:
    """The default policy's accept / block thresholds: the shipped decision."""
    from catalyst.policy import load_policy

    th = load_policy(ROOT / "policies" / "default.yaml").policy.thresholds
    return th.accept, th.block


ACCEPT, BLOCK = _thresholds()
_WORDS = re.compile(r"\w+")


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else float("nan")


def either_way(y: np.ndarray, s: np.ndarray) -> float:
    a = auroc(y, s)
    return max(a, 1 - a)


def bacc(y: np.ndarray, pred: np.ndarray) -> float:
    return float((pred[y == 1].mean() + (~pred[y == 0]).mean()) / 2)


def best_bacc(y: np.ndarray, s: np.ndarray) -> float:
    return max([0.5] + [bacc(y, s >= t) for t in np.unique(s)])


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def texts(name: str, halueval_items: int) -> list[str]:
    """The answers behind the feature rows of a held-out source (rows skip answers without a claim)."""
    from catalyst_checks.grounding.text import claims

    split = "test" if name in tg.HALU else "train"
    recs = tg.source_records(name, split, halueval_items)
    return [r.output for r in recs if claims(r.output)]


def words_per_sentence(t: str) -> float:
    from catalyst_checks.grounding.text import sentences

    return len(_WORDS.findall(t)) / max(1, len(sentences(t)))


def loso(train: dict[str, tg.Features], test: dict[str, tg.Features], test_items: int) -> list[dict[str, Any]]:
    rows = []
    names = tg.feature_names("lexical")
    for src in TEST_SOURCES:
        parts = [f for n, f in train.items() if n != src]
        head = tg.fit_head(parts, names)
        cal = tg.fit_calibrator(parts, [tg.check_scores(head, f) for f in parts])
        f = test[src]
        s = tg.check_scores(head, f)
        p = tg.apply_calibrator(cal, s)
        out = texts(src, test_items)
        if len(out) != len(f.y):
            raise RuntimeError(f"{src}: {len(out)} answers vs {len(f.y)} feature rows; clear .cache/grounding")
        y = f.y
        rows.append({
            "source": src, "n": len(y), "pos": float(y.mean()), "auroc": auroc(y, s),
            "length": either_way(y, np.array([len(t) for t in out], float)),
            "wps": either_way(y, np.array([words_per_sentence(t) for t in out])),
            "ece_raw": ece(y, s), "ece": ece(y, p), "bacc_accept": bacc(y, p >= ACCEPT),
            "bacc_block": bacc(y, p >= BLOCK), "bacc_best": best_bacc(y, p), "p": p, "s": s, "y": y,
        })
    return rows


def label_curve(rows: list[dict[str, Any]], sizes: tuple[int, ...], draws: int = 5) -> dict[str, dict[int, Any]]:
    """n labels of the held-out source through calibration.choose -> ECE / balanced accuracy on the rest."""
    from catalyst.calibration import choose

    out: dict[str, dict[int, Any]] = {}
    for r in rows:
        y, conf, raw = r["y"], r["p"], r["s"]
        out[r["source"]] = {}
        for n in sizes:
            if n + 50 > len(y):
                continue
            e, b = [], []
            for d in range(draws):
                rng = np.random.default_rng(d)
                idx = rng.permutation(len(y))
                tr, te = idx[:n], idx[n:]
                if min(y[tr].sum(), n - y[tr].sum()) < 10:
                    continue
                cal = choose(y[tr], conf[tr], {"grounding": raw[tr]})
                q = cal.apply_many(conf[te], {"grounding": raw[te]})
                e.append(ece(y[te], q))
                b.append(bacc(y[te], q >= ACCEPT))
            if e:
                out[r["source"]][n] = (float(np.median(e)), float(np.median(b)))
    return out


def render(rows: list[dict[str, Any]], curve: dict[str, dict[int, Any]], sizes: tuple[int, ...],
           meta: str) -> str:
    t1 = [[r["source"], r["n"], f"{r['pos']:.2f}", f"**{r['auroc']:.3f}**", f"{r['length']:.3f}", f"{r['wps']:.3f}",
           "yes" if r["auroc"] >= 0.75 else "no",
           "yes" if r["auroc"] > max(r["length"], r["wps"]) else "no"] for r in rows]
    t2 = [[r["source"], f"{r['ece_raw']:.3f}", f"**{r['ece']:.3f}**", f"{r['bacc_accept']:.3f}",
           f"{r['bacc_block']:.3f}", f"{r['bacc_best']:.3f}", "yes" if r["ece"] <= 0.10 else "no",
           "yes" if r["bacc_best"] - r["bacc_accept"] <= 0.05 else "no"] for r in rows]
    t3 = [[src] + [f"{curve[src][n][0]:.3f} / {curve[src][n][1]:.3f}" if n in curve[src] else "n/a" for n in sizes]
          for src in curve]
    return "\n\n".join([
        "## Grounding transfer: leave-one-source-out (`benchmarks/grounding_transfer.py`)",
        meta,
        "Head and calibrator fitted as `scripts/train_grounding.py` fits the shipped ones, on every other source plus "
        "synthetic edits; measured on the held-out one. Baselines in their better orientation (optimistic for them).",
        markdown_table(["held-out source", "n", "faithful", "AUROC grounding", "AUROC length",
                        "AUROC words/sentence", ">= 0.75", "above both baselines"], t1),
        "### Calibration out of the box (calibrator fitted without the held-out source)",
        f"Shipped decision: accept = calibrated confidence >= {ACCEPT}; `>= block` = not blocked "
        f"(confidence >= {BLOCK}); best = the best threshold chosen on the held-out labels (an oracle).",
        markdown_table(["held-out source", "ECE raw score", "ECE calibrated", "bal. acc. accept",
                        "bal. acc. >= block", "bal. acc. best threshold", "ECE <= 0.10",
                        "accept within 5 pts of best"], t2),
        "### Label curve for a new domain (ECE / balanced accuracy of accept, on the source's other answers)",
        "n reviewer labels of the held-out source through `catalyst.calibration.choose` (what `catalyst calibrate` "
        "runs: the verdict's confidence plus the grounding check's score), median of 5 draws; n/a: the source has "
        "fewer than n + 50 answers.",
        markdown_table(["source", *[f"{n} labels" for n in sizes]], t3),
        "Reading the numbers: one calibrator cannot be right for sources whose base rates (20-50% faithful) and "
        "difficulty differ this much; out of the box it ranks well where lexical evidence exists (CNN/DM, the BEGIN "
        "sets, QA) and is over-confident where it does not (XSum's abstractive one-liners, HaluEval dialogue and "
        "summarization, where the faithful answers themselves carry content the context lacks: see the *What "
        "grounding without world knowledge can reach* table of the HaluEval section for the context-only ceiling). "
        "The label curve is the product's answer: 50-100 reviewer labels of the new domain bring ECE under 0.10 on "
        "most sources. Balanced accuracy of *accept* stays near 0.5 where no answer earns a calibrated 0.8: there "
        "the decision is review, which is what the evidence supports.",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--halueval-items", type=int, default=1500, help="HaluEval train items per task")
    ap.add_argument("--test-items", type=int, default=500, help="HaluEval test items per task")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    meta = machine()
    train = tg.load_all(args.halueval_items)
    test = {n: train[n] for n in tg.SHARED}
    test.update({n: tg.load_features(n, "test", args.test_items) for n in tg.HALU})
    rows = loso(train, test, args.test_items)
    sizes = (50, 100, 200, 500)
    curve = label_curve(rows, sizes)
    body = render(rows, curve, sizes, f"{meta}. HaluEval: {args.halueval_items} train items per task, "
                  f"{args.test_items} test items.")
    show("grounding transfer", ["source", "AUROC", "length", "wps", "ECE", "bacc accept", "bacc best"],
         [[r["source"], f"{r['auroc']:.3f}", f"{r['length']:.3f}", f"{r['wps']:.3f}", f"{r['ece']:.3f}",
           f"{r['bacc_accept']:.3f}", f"{r['bacc_best']:.3f}"] for r in rows])
    if not args.no_write:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
