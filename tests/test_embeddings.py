"""The shared embedder: both backends, normalisation, the content-hash cache, threads, the ONNX export."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from catalyst import embeddings
from catalyst.embeddings import DIM, ONNX_INT8_PATH, get_embedder, resolve_backend
from catalyst.errors import ConfigError

SENTENCES = [
    "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    "Gustave Eiffel's company designed and built the tower.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Der Eiffelturm steht in Paris und wurde 1889 fertiggestellt.",
    "エッフェル塔はパリにあります 🗼",
    "",
]


def test_shipped_onnx_model_is_the_auto_backend() -> None:
    assert ONNX_INT8_PATH.is_file() and 15e6 < ONNX_INT8_PATH.stat().st_size < 40e6
    assert resolve_backend("auto") == "onnx-int8"
    assert get_embedder("auto") is get_embedder("onnx-int8")  # one instance per process


def test_rows_are_unit_float32_and_meaningful() -> None:
    v = get_embedder("onnx-int8").encode(SENTENCES)
    assert v.shape == (len(SENTENCES), DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    sims = v @ v.T
    # same fact in German is closer than an unrelated English sentence
    assert sims[0, 3] > sims[0, 2] + 0.2
    assert sims[0, 1] > sims[0, 2]


def test_cache_serves_repeats_and_batches_equal_singles() -> None:
    emb = get_embedder("onnx-int8")
    emb.clear_cache()
    batch = emb.encode(SENTENCES + SENTENCES[:2])  # duplicates inside one call are embedded once
    assert emb.misses == len(SENTENCES)
    hits = emb.hits
    again = emb.encode(SENTENCES[:3])
    assert emb.hits == hits + 3
    np.testing.assert_array_equal(again, batch[:3])
    singles = np.stack([emb.encode([s], cache=False)[0] for s in SENTENCES])
    np.testing.assert_allclose(singles, batch[: len(SENTENCES)], atol=1e-6)
    assert emb.cached(SENTENCES[0]) is not None and emb.cached("never seen before, surely") is None


def test_concurrent_use_from_threads_matches_serial() -> None:
    emb = get_embedder("onnx-int8")
    texts = [f"Passage {i}: the warranty covers the compressor for {i} years." for i in range(40)]
    serial = emb.encode(texts, cache=False)
    emb.clear_cache()
    out: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        out[k] = emb.encode(texts[k::4])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_allclose(out[k], serial[k::4], atol=1e-6)


def test_bad_arguments_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="onnx-int8"):
        get_embedder("tensorflow")
    with pytest.raises(TypeError, match="list of strings"):
        get_embedder().encode("one string")  # type: ignore[arg-type]
    assert get_embedder().encode([]).shape == (0, DIM)
    monkeypatch.setenv("CATALYST_THREADS", "two")
    with pytest.raises(ConfigError, match="CATALYST_THREADS"):
        embeddings.threads()
    monkeypatch.setenv("CATALYST_THREADS", "2")
    assert embeddings.threads() == 2
    monkeypatch.delenv("CATALYST_THREADS")
    assert embeddings.threads() is None


def test_missing_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"catalyst\.embeddings export"):
        embeddings._OnnxEmbedder(tmp_path / "absent.onnx")


@pytest.mark.slow
def test_torch_backend_agrees_with_int8() -> None:
    t = get_embedder("torch").encode(SENTENCES[:5])
    o = get_embedder("onnx-int8").encode(SENTENCES[:5])
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-4)
    cos = (t * o).sum(axis=1)
    assert cos.min() > 0.95, cos


@pytest.mark.slow
def test_export_builds_a_loadable_int8_model(tmp_path: Path) -> None:
    # needs the `models` extra (onnx), which scripts/setup.sh installs
    out = embeddings.export_onnx(tmp_path / "m.onnx")
    assert 15e6 < out.stat().st_size < 40e6
    fresh = embeddings._OnnxEmbedder(out).encode(SENTENCES[:3])
    shipped = get_embedder("onnx-int8").encode(SENTENCES[:3])
    assert (fresh * shipped).sum(axis=1).min() > 0.99
