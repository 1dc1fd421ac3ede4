"""The learned head: a logistic regression over the aggregated support features, shipped as JSON.

``head.json`` (next to this file) holds one head per mode, each with its feature names, the
standardisation (mean, scale), coefficients and intercept. It is written by
``python scripts/train_grounding.py`` from HaluEval's training split; nothing is learned at run time.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalyst.errors import ConfigError

__all__ = ["HEAD_PATH", "Head", "load_heads"]

HEAD_PATH = Path(__file__).resolve().parent / "head.json"


@dataclass(frozen=True, slots=True)
class Head:
    """``P(supported) = sigmoid(coef · (x - mean) / scale + intercept)``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def prob(self, x: np.ndarray) -> np.ndarray:
        """Probability that the answer (or claim) is supported, for rows of ``x`` (or one vector)."""
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_json(self) -> dict[str, object]:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_json(cls, d: dict[str, object], where: str) -> Head:
        try:
            feats = tuple(d["features"])  # type: ignore[arg-type]
            arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            head = cls(feats, *arrays, float(d["intercept"]))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"grounding head {where} is malformed ({e}); re-run scripts/train_grounding.py") from e
        if not all(len(a) == len(feats) for a in arrays):
            raise ConfigError(f"grounding head {where}: arrays do not match its {len(feats)} features; retrain it")
        return head


_cache: dict[Path, dict[str, Head]] = {}
_lock = threading.Lock()


def load_heads(path: Path = HEAD_PATH) -> dict[str, Head]:
    """The heads by mode (``lexical``, ``full``), read once per process."""
    heads = _cache.get(path)
    if heads is not None:
        return heads
    with _lock:
        if path not in _cache:
            if not path.is_file():
                raise ConfigError(f"grounding head file {path} is missing; run `python scripts/train_grounding.py`")
            raw = json.loads(path.read_text(encoding="utf-8"))
            _cache[path] = {mode: Head.from_json(h, f"{path}:{mode}") for mode, h in raw["heads"].items()}
        return _cache[path]
