"""The ``entailment`` check: a local entailment model (HHEM, MiniCheck, a DeBERTa-MNLI...) reads claim × passage.

Lexical grounding (``grounding``) cannot read relations past word overlap: who did what to whom, a paraphrase with
no shared words. A real entailment model can, at ~20 ms per pair on a CPU. This check runs any Hugging Face
*sequence-classification* model that is on disk (nothing is downloaded: ``model`` is a directory), through
``transformers`` (torch) or ``onnxruntime`` (a ``model.onnx`` exported next to the tokenizer):

- the answer is split into claims like ``grounding`` does; each claim is paired with its best context passages
  (the ``top_k`` sentence windows sharing the most words with it), and batched through the model;
- **the screen (cascade)**: the lexical grounding head scores each claim first; claims it already finds clearly
  supported (``>= screen_accept``) or clearly unsupported (``<= screen_reject``) keep that score, and only the
  claims in doubt cost a model call (``screen: false`` sends every claim);
- ``labels`` maps the model's output labels (its ``config.id2label``) to ``supported`` / ``unsupported``; left
  empty, names with *entail*, *support*, *consistent*, *faithful* read as supported and *contradict*, *neutral*,
  *not*, *halluc*, *inconsistent*, *unsupported* as not; a one-logit model (HHEM-style) is read as
  ``sigmoid(logit) = P(supported)``. A label set it cannot read fails at policy load, naming the fix;
- a claim's score is the best P(supported) over its passages; the answer's score is the lowest claim score
  (``aggregate: min``, any unsupported claim fails) or their mean.

No context, or an answer without a checkable claim, is "no evidence": score None with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.errors import ConfigError
from catalyst.records import CheckResult, Evidence

__all__ = ["Entailment", "read_labels"]

_SUPPORTED = ("entail", "support", "consistent", "faithful", "factual", "true")
_UNSUPPORTED = ("contradict", "neutral", "not", "halluc", "inconsistent", "unsupported", "false", "refute")


def read_labels(id2label: dict[int, str], mapping: dict[str, str]) -> list[int]:
    """Indices of the model's outputs that mean *supported* (the rest mean not); ConfigError when unreadable."""
    names = {int(i): str(n) for i, n in id2label.items()}
    if mapping:
        unknown = sorted(set(mapping) - set(names.values()))
        if unknown:
            raise ConfigError(f"entailment `labels` names {unknown}, but the model's labels are "
                              f"{sorted(names.values())}; map those instead")
        bad = {k: v for k, v in mapping.items() if v not in ("supported", "unsupported")}
        if bad:
            raise ConfigError(f"entailment `labels` values must be `supported` or `unsupported`, got {bad}")
        missing = sorted(set(names.values()) - set(mapping))
        if missing:
            raise ConfigError(f"entailment `labels` leaves the model's labels {missing} unmapped; map every label")
        pos = [i for i, n in names.items() if mapping[n] == "supported"]
    else:
        pos = []
        for i, n in names.items():
            low = n.lower().replace("-", "_")
            if any(w in low for w in _UNSUPPORTED):
                continue
            if any(w in low for w in _SUPPORTED):
                pos.append(i)
        unread = [n for n in names.values() if not any(w in n.lower() for w in _SUPPORTED + _UNSUPPORTED)]
        if unread or not pos or len(pos) == len(names):
            raise ConfigError(f"cannot tell which of the model's labels {sorted(names.values())} mean 'supported'; "
                              "set `labels:` in the policy, e.g. {LABEL_1: supported, LABEL_0: unsupported}")
    if not pos or len(pos) == len(names):
        raise ConfigError(f"entailment `labels` must mark some but not all of {sorted(names.values())} supported")
    return sorted(pos)


class _Runner:
    """A loaded model: ``probs(premises, hypotheses) -> P(supported)`` per pair, in batches."""

    def __init__(self, path: Path, runtime: str, positive: list[int], single_logit: bool, max_length: int,
                 trust_remote_code: bool = False) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True,
                                                       trust_remote_code=trust_remote_code)
        self.positive, self.single, self.max_length = positive, single_logit, max_length
        self.lock = threading.Lock()
        onnx_file = path / "model.onnx"
        self.runtime = "onnx" if runtime == "onnx" or (runtime == "auto" and onnx_file.is_file()) else "transformers"
        if self.runtime == "onnx":
            import onnxruntime as ort

            if not onnx_file.is_file():
                raise ConfigError(f"entailment runtime `onnx` needs {onnx_file}; export the model or use "
                                  "`runtime: transformers`")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
            self.inputs = {i.name for i in self.session.get_inputs()}
        else:
            import torch
            from transformers import AutoModelForSequenceClassification

            self.model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=trust_remote_code)
            self.model.eval()
            self.torch = torch

    def probs(self, premises: list[str], hypotheses: list[str], batch_size: int) -> np.ndarray:
        out = []
        for s in range(0, len(premises), batch_size):
            enc = self.tokenizer(premises[s:s + batch_size], hypotheses[s:s + batch_size], truncation=True,
                                 max_length=self.max_length, padding=True,
                                 return_tensors="np" if self.runtime == "onnx" else "pt")
            with self.lock:
                if self.runtime == "onnx":
                    feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in self.inputs}
                    logits = np.asarray(self.session.run(None, feed)[0], dtype=np.float64)
                else:
                    with self.torch.inference_mode():
                        logits = self.model(**enc).logits.float().numpy().astype(np.float64)
            out.append(self._to_prob(logits))
        return np.concatenate(out) if out else np.empty(0)

    def _to_prob(self, logits: np.ndarray) -> np.ndarray:
        if self.single:
            return 1.0 / (1.0 + np.exp(-logits[:, 0]))
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p[:, self.positive].sum(axis=1)


_runners: dict[tuple[object, ...], _Runner] = {}
_runners_lock = threading.Lock()


class Entailment(Check):
    """Claims of the answer entailed by the context, according to a local entailment model (the cascade's judge)."""

    name: ClassVar[str] = "entailment"
    costly: ClassVar[bool] = True
    evidence: ClassVar[bool] = True
    catches: ClassVar[str] = ("claims the context does not entail, read by a real entailment model: swapped roles, "
                              "reversed relations, paraphrases lexical grounding cannot judge")
    cost: ClassVar[str] = "one model forward pass per claim x passage pair left in doubt (~20 ms each on a CPU)"

    model: str = Field(description="directory of a Hugging Face sequence-classification model (config.json, weights "
                       "and tokenizer; or model.onnx + tokenizer for onnxruntime). Nothing is downloaded")
    runtime: Literal["auto", "transformers", "onnx"] = Field(
        default="auto", description="`onnx` when the directory has model.onnx (auto), else transformers/torch")
    labels: dict[str, Literal["supported", "unsupported"]] = Field(
        default_factory=dict, description="the model's labels (config.id2label) -> supported/unsupported; empty: "
        "read from the label names (entailment/contradiction/neutral, consistent/hallucinated...)")
    batch_size: int = Field(default=16, ge=1, le=1024, description="claim x passage pairs per forward pass")
    max_length: int = Field(default=256, ge=16, le=4096, description="tokens per pair (longer pairs are truncated)")
    top_k: int = Field(default=2, ge=1, le=16, description="context passages (sentence windows) per claim")
    window: int = Field(default=1, ge=0, le=5, description="neighbouring sentences on each side of a passage hit")
    aggregate: Literal["min", "mean"] = Field(default="min", description="claim scores -> the answer's score")
    screen: bool = Field(default=True, description="let the lexical grounding head settle the clear claims first")
    screen_accept: float = Field(default=0.9, ge=0.0, le=1.0, description="lexical claim score taken as supported")
    screen_reject: float = Field(default=0.05, ge=0.0, le=1.0, description="lexical claim score taken as not")
    trust_remote_code: bool = Field(
        default=False, description="run the model directory's own Python code (models with a custom head, like "
        "HHEM-2.1-open); only for directories you trust")
    max_claims: int = Field(default=32, ge=1, le=512, description="claims per answer sent to the model at most")

    def model_post_init(self, context: Any, /) -> None:
        self._spec()  # a missing directory or an unreadable label set fails at policy load

    def _spec(self) -> tuple[Path, list[int], bool]:
        path = Path(self.model).expanduser()
        if not (path / "config.json").is_file():
            why = "does not exist" if not path.exists() else "has no config.json"
            raise ConfigError(f"entailment model `{self.model}` {why}: point `model:` at a directory saved with "
                              "save_pretrained (config.json, weights, tokenizer); nothing is downloaded")
        try:
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(str(path), local_files_only=True,
                                             trust_remote_code=self.trust_remote_code)
        except (OSError, ValueError) as e:
            raise ConfigError(f"entailment model `{self.model}`: cannot read its config ({e})") from None
        id2label = {int(k): str(v) for k, v in (cfg.id2label or {}).items()}
        if int(getattr(cfg, "num_labels", len(id2label))) == 1:
            return path, [0], True
        return path, read_labels(id2label, dict(self.labels)), False

    def _runner(self) -> _Runner:
        key = (str(Path(self.model).expanduser().resolve()), self.runtime, tuple(sorted(self.labels.items())),
               self.max_length, self.trust_remote_code)
        with _runners_lock:
            r = _runners.get(key)
            if r is None:
                path, pos, single = self._spec()
                r = _runners[key] = _Runner(path, self.runtime, pos, single, self.max_length, self.trust_remote_code)
            return r

    def run(self, ctx: CheckContext) -> CheckResult:
        return self.run_batch([ctx])[0]  # type: ignore[return-value]

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        """Every in-doubt pair of every answer of the batch goes through the model together."""
        from catalyst_checks.grounding import Grounding
        from catalyst_checks.grounding.check import unscorable
        from catalyst_checks.grounding.head import load_heads

        screen = Grounding()
        head = load_heads()["lexical"]
        plans: list[tuple[list[Any], np.ndarray, list[list[int]]] | str] = []
        premises: list[str] = []
        hyps: list[str] = []
        for c in ctxs:
            if not any(p and p.strip() for p in c.context):
                plans.append("no context given: nothing to entail the answer from")
                continue
            index, claims, rows = screen.featurize(c.output, c.context, c.input)
            claims = claims[: self.max_claims]
            why = unscorable(c.output, c.context, claims, language=False)  # a multilingual model may read it
            if why is not None:
                plans.append(why)
                continue
            lex = head.prob(np.concatenate([rows, rows], axis=1))[: len(claims)]
            scores = np.full(len(claims), np.nan)
            pair_ids: list[list[int]] = []
            for i, cl in enumerate(claims):
                if self.screen and (lex[i] >= self.screen_accept or lex[i] <= self.screen_reject):
                    scores[i] = lex[i]
                    pair_ids.append([])
                    continue
                ids = []
                for j in (cl.candidates[: self.top_k] or [0]):
                    premises.append(_window(index, j, self.window))
                    hyps.append(cl.span.text)
                    ids.append(len(premises) - 1)
                pair_ids.append(ids)
            plans.append((claims, scores, pair_ids))
        probs = self._runner().probs(premises, hyps, self.batch_size) if premises else np.empty(0)
        return [self._result(p, probs) for p in plans]

    def _result(self, plan: tuple[list[Any], np.ndarray, list[list[int]]] | str, probs: np.ndarray) -> CheckResult:
        if isinstance(plan, str):
            return self.unscored(plan)
        claims, scores, pair_ids = plan
        sent = 0
        for i, ids in enumerate(pair_ids):
            if ids:
                scores[i] = float(probs[ids].max())
                sent += 1
        score = float(scores.min() if self.aggregate == "min" else scores.mean())
        ev = [Evidence(start=c.span.start, end=c.span.end, text=c.span.text[:300],
                       reason=f"claim {i + 1} not entailed by the context (P(supported) {s:.2f})")
              for i, (c, s) in enumerate(zip(claims, scores, strict=True)) if s < self.threshold]
        return self.result(score, evidence=ev, claims=len(claims), model_pairs=sum(len(x) for x in pair_ids),
                           screened=len(claims) - sent, claim_scores=[round(float(s), 4) for s in scores])


def _window(index: Any, j: int, width: int) -> str:
    """Context sentence ``j`` with ``width`` neighbours each side from the same passage."""
    sents = index.sentences
    p = sents[j].passage
    lo, hi = j, j
    while lo > 0 and j - lo < width and sents[lo - 1].passage == p:
        lo -= 1
    while hi < len(sents) - 1 and hi - j < width and sents[hi + 1].passage == p:
        hi += 1
    return " ".join(s.span.text for s in sents[lo:hi + 1])
