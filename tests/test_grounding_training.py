"""The head-training script on a small real HaluEval subsample: the split, the features, the monotone fit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def train() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_grounding", ROOT / "scripts" / "train_grounding.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_grounding"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_test_split_is_stable_and_never_in_train(train: ModuleType) -> None:
    test = train.load_split("dialogue", "test", 50)
    tr = train.load_split("dialogue", "train", 200)
    assert {it.key for it in test}.isdisjoint({it.key for it in tr})
    assert all(train.split_of(it.key) == "test" for it in test)
    share = sum(train.split_of(it.key) == "test" for it in train.items("qa")) / 10000
    assert 0.17 < share < 0.23


def _records(train: ModuleType, task: str, n: int) -> list[object]:
    from grounding_data import Record

    return [Record(task, a, it.context, it.input, lab) for it in train.load_split(task, "train", n)
            for a, lab in ((it.right, 1), (it.hallucinated, 0))]


def test_heads_are_monotone_and_rank_every_source(train: ModuleType) -> None:
    parts = [train.featurize(_records(train, task, 120)) for task in ("qa", "dialogue")]
    parts.append(train.featurize(train.synthetic_records(30)))
    names = train.feature_names("lexical")
    assert not any("len" in n or "word_count" in n or "per_sentence" in n for n in names)  # no length/style feature
    for f in parts:
        assert f.X.shape[1] == len(names) and f.strict.dtype == bool and set(f.y.tolist()) == {0, 1}
    head = train.fit_head(parts, names)
    coef = np.array(head["coef"])
    assert (coef <= 0).all() and (coef < 0).any()  # more missing support never raises the score
    assert all(c == 0 for n, c in zip(names, coef, strict=True) if n in train.EXCLUDED)
    for f in parts:  # the fitted head ranks faithful answers above unfaithful ones on its own training data
        s = train.check_scores(head, f)
        assert s[f.y == 1].mean() > s[f.y == 0].mean()


def test_synthetic_edits_label_invariances_faithful_and_sensitivities_not(train: ModuleType) -> None:
    recs = train.synthetic_records(30)
    pos = [r.output for r in recs if r.label == 1]
    neg = [r.output for r in recs if r.label == 0]
    assert len(pos) > 30 and len(neg) > 20 and not set(pos) & set(neg)


def test_calibrator_block_is_monotone_and_loads_as_policy_calibration(train: ModuleType, tmp_path: Path) -> None:
    from catalyst.calibration import from_policy
    from catalyst.policy import load_policy

    parts = [train.featurize(_records(train, task, 100)) for task in ("qa", "dialogue")]
    head = train.fit_head(parts, train.feature_names("lexical"))
    cal = train.fit_calibrator(parts, [train.check_scores(head, f) for f in parts])
    grid = np.linspace(0, 1, 21)
    p = from_policy(cal).apply_many(grid)
    assert (np.diff(p) >= -1e-12).all() and p.min() > 0 and p.max() < 1
    policy = tmp_path / "p.yaml"
    policy.write_text("name: t\nchecks:\n  - grounding: {}\ncalibration: {id: old, method: identity}\n"
                      "thresholds: {accept: 0.8, block: 0.3}\n")
    train.write_policy_calibration(cal, policy)
    text = policy.read_text()
    assert text.count("calibration:") == 1 and "thresholds:" in text
    assert load_policy(policy).calibrator is not None


def test_the_shipped_default_policy_carries_the_mixed_calibrator() -> None:
    from catalyst.policy import load_policy

    cal = load_policy(ROOT / "policies" / "default.yaml").calibrator
    assert cal is not None and cal.method == "isotonic" and len(cal.params["x"]) >= 5
    assert cal(0.05) < 0.3 < cal(0.9)
