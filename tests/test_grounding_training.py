"""The head-training script on a small real HaluEval subsample: the split, the features, the monotone fit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


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


def test_heads_are_monotone_and_threshold_every_task(train: ModuleType) -> None:
    parts = [train.featurize(train.load_split(task, "train", 120), "lexical") for task in ("qa", "dialogue")]
    names = train.feature_names("lexical")
    assert not any("len" in n or "word_count" in n for n in names)  # no length/style feature exists
    for f in parts:
        assert f.X.shape[1] == len(names) and f.strict.dtype == bool and set(f.y.tolist()) == {0, 1}
    head = train.fit_head(parts, names)
    coef = np.array(head["coef"])
    assert (coef <= 0).all() and (coef < 0).any()  # more missing support never raises the score
    mean, scale = np.array(head["mean"]), np.array(head["scale"])
    for f in parts:  # the fitted head ranks right answers above hallucinated ones on its own training data
        s = ((f.X - mean) / scale) @ coef + head["intercept"]
        assert s[f.y == 1].mean() > s[f.y == 0].mean()
