"""The entailment slot: a tiny random Hugging Face model built here proves the plumbing (no weights exist offline).

The model is random, so its scores mean nothing; the tests prove what is real: loading from a directory, the label
mapping, batching (a batch equals one-by-one), the lexical screen sending only claims in doubt, and the errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalyst import registry
from catalyst.checks import CheckContext
from catalyst.errors import ConfigError, PolicyError
from catalyst.records import Interaction

transformers = pytest.importorskip("transformers")
pytest.importorskip("torch")

_TEXT = ("the golden gate bridge opened in 1937 and spans strait san francisco it was built by joseph strauss paris "
         "is capital of france eiffel tower finished 1889 not never who what answer passage")
WORDS = _TEXT.split()
CONTEXT = ["The Golden Gate Bridge opened in 1937. It spans the Golden Gate strait in San Francisco.",
           "Joseph Strauss built it. Paris is the capital of France."]


def _save(tmp: Path, id2label: dict[int, str]) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    tmp.mkdir(parents=True, exist_ok=True)
    vocab = tmp / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), "."]) + "\n")
    tok = BertTokenizer(str(vocab), do_lower_case=True)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=128, num_labels=len(id2label),
                     id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return tmp


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(tmp_path_factory.mktemp("nli"), {0: "entailment", 1: "neutral", 2: "contradiction"})


def _ctx(output: str, context: list[str] | None = None) -> CheckContext:
    return CheckContext(Interaction(input="q", output=output, context=CONTEXT if context is None else context))


def test_runs_a_local_model_and_batches_like_one_by_one(nli_dir: Path) -> None:
    cls = registry.get("entailment")
    check = cls(model=str(nli_dir), screen=False, batch_size=2)
    assert cls.evidence is True and cls.costly is True
    answers = ["The bridge opened in 1937.", "Joseph Strauss built the bridge. Paris is the capital of France.",
               "The tower finished in 1889."]
    batch = check.run_batch([_ctx(a) for a in answers])
    one = [check.run(_ctx(a)) for a in answers]
    for b, o in zip(batch, one, strict=True):
        assert 0.0 <= b.score <= 1.0  # type: ignore[union-attr,operator]
        assert b.score == pytest.approx(o.score, abs=1e-5)  # type: ignore[union-attr]
    assert batch[1].details["claims"] == 2 and 2 <= batch[1].details["model_pairs"] <= 4  # type: ignore[union-attr]


def test_screen_sends_only_claims_in_doubt(nli_dir: Path) -> None:
    cls = registry.get("entailment")
    screened = cls(model=str(nli_dir), screen=True, screen_accept=0.0, screen_reject=0.0)
    r = screened.run(_ctx("The bridge opened in 1937. Joseph Strauss built it."))
    assert r.details["model_pairs"] == 0 and r.details["screened"] == 2
    every = cls(model=str(nli_dir), screen=False, top_k=1)
    assert every.run(_ctx("The bridge opened in 1937. Joseph Strauss built it.")).details["model_pairs"] == 2


def test_label_mapping_setting_and_one_logit_models(tmp_path: Path) -> None:
    cls = registry.get("entailment")
    plain = _save(tmp_path / "plain", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ConfigError, match="set `labels:`"):
        cls(model=str(plain))
    mapped = cls(model=str(plain), labels={"LABEL_1": "supported", "LABEL_0": "unsupported"})
    assert 0.0 <= mapped.run(_ctx("Paris is the capital of France.")).score <= 1.0  # type: ignore[operator]
    with pytest.raises(ConfigError, match="unmapped"):
        cls(model=str(plain), labels={"LABEL_1": "supported"})
    with pytest.raises(ConfigError, match="model's labels are"):
        cls(model=str(plain), labels={"yes": "supported", "LABEL_0": "unsupported"})
    hhem = _save(tmp_path / "hhem", {0: "score"})  # one logit: sigmoid = P(consistent), HHEM-style
    assert 0.0 <= cls(model=str(hhem)).run(_ctx("Paris is the capital of France.")).score <= 1.0  # type: ignore


def test_bad_paths_and_label_sets_fail_at_policy_load(tmp_path: Path) -> None:
    from catalyst.policy import load_policy

    odd = _save(tmp_path / "odd", {0: "cat", 1: "dog"})
    for model, match in ((tmp_path / "nope", "does not exist"), (odd, "cannot tell which")):
        p = tmp_path / "p.yaml"
        p.write_text(f"name: t\nchecks:\n  - entailment: {{model: '{model}'}}\n")
        with pytest.raises((ConfigError, PolicyError), match=match):
            load_policy(p)


def test_no_context_or_no_claim_is_no_evidence(nli_dir: Path) -> None:
    check = registry.get("entailment")(model=str(nli_dir))
    for r in (check.run(_ctx("The bridge opened in 1937.", [" ", ""])), check.run(_ctx("I don't know."))):
        assert r.score is None and r.passed and r.details["unscored"]


def test_onnx_runtime_matches_transformers(nli_dir: Path, tmp_path: Path) -> None:
    """The same tiny model exported to model.onnx next to its tokenizer scores the same through onnxruntime."""
    import shutil
    import warnings

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    pytest.importorskip("onnxruntime")
    onnx_dir = tmp_path / "onnx"
    shutil.copytree(nli_dir, onnx_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(nli_dir))
    model.eval()
    enc = AutoTokenizer.from_pretrained(str(nli_dir))(["the bridge opened"], ["it opened in 1937"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(enc[k] for k in names), str(onnx_dir / "model.onnx"), input_names=names,
                          output_names=["logits"], dynamic_axes={k: {0: "batch", 1: "tokens"} for k in names},
                          opset_version=17, dynamo=False)
    cls = registry.get("entailment")
    answers = ["The bridge opened in 1937. Joseph Strauss built it.", "Paris is the capital of France."]
    torch_scores = [r.score for r in cls(model=str(nli_dir), screen=False).run_batch([_ctx(a) for a in answers])]
    onnx_check = cls(model=str(onnx_dir), runtime="onnx", screen=False)
    onnx_scores = [r.score for r in onnx_check.run_batch([_ctx(a) for a in answers])]
    assert onnx_scores == pytest.approx(torch_scores, abs=1e-4)
