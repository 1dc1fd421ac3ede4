"""Grounding quality on HaluEval's held-out test split, next to the baselines that leak.

    python benchmarks/grounding_quality.py                 # lexical on the whole test split, full on a subsample
    python benchmarks/grounding_quality.py --full-n 300    # smaller full-mode subsample (faster)

For each task (qa, dialogue, summarization) on the test split of ``scripts/train_grounding.py``
(blake2b hash of the item, ~20%, never trained on), both answers of every item are scored by:

- ``grounding lexical`` / ``grounding full``: the shipped check, balanced accuracy at its default threshold 0.5
  (nothing tuned on the test set); on dialogue also with ``domain: dialogue`` (the head trained on chat replies);
- ``length``, ``words/sentence`` and ``answer-context cosine``: single-number baselines. Their AUROC is
  taken in the better of the two orientations and their balanced accuracy at the best threshold *on the test
  set itself* — optimistic for the baselines, so beating them is not an artefact of tuning.

Rows are reported on all items and on the *length-matched* subset (right and hallucinated answers within
20% of each other's length), where length cannot separate them. The full mode runs on a subsample: every
length-matched item plus the first others up to ``--full-n`` items per task (n is printed).
The HaluEval paper's ChatGPT-as-judge accuracy is shown beside (QA 62.6%, dialogue 72.4%, summ. 58.5%).

A second table bounds what grounding *without world knowledge* can do: how often the right answer itself
contains content (content words; named things = runs of capitalised words) found in neither the context nor the
input, and the balanced accuracy of the best rule on "unsupported content" (threshold and orientation picked on
the test labels, so an upper bound for such rules).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import machine, write_section  # noqa: E402
from train_grounding import TASKS, Item, load_split  # noqa: E402

CHATGPT_JUDGE = {"qa": 0.626, "dialogue": 0.724, "summarization": 0.585}
SECTION = "grounding_quality"
_WORDS = re.compile(r"\w+")


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve of score ``s`` for label 1 (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else float("nan")


def balanced_acc(y: np.ndarray, pred: np.ndarray) -> float:
    pos, neg = y == 1, y == 0
    return float((pred[pos].mean() + (~pred[neg]).mean()) / 2)


def best_balanced_acc(y: np.ndarray, s: np.ndarray) -> float:
    """Oracle balanced accuracy: the best threshold and orientation chosen on these very labels."""
    best = 0.5
    for t in np.unique(s):
        for pred in (s >= t, s < t):
            best = max(best, balanced_acc(y, pred))
    return best


def length_matched(it: Item) -> bool:
    a, b = len(it.right), len(it.hallucinated)
    return abs(a - b) <= 0.2 * max(a, b, 1)


def words_per_sentence(text: str) -> float:
    from catalyst_checks.grounding.text import sentences

    return len(_WORDS.findall(text)) / max(1, len(sentences(text)))


def plain_cosine(items: list[Item]) -> np.ndarray:
    """cos(answer, context): the context embedded as ~1000-character chunks whose mean is re-normalised."""
    from catalyst.embeddings import get_embedder

    emb = get_embedder("auto")
    out = []
    for it in items:
        chunks = [c[i:i + 1000] for c in it.context for i in range(0, len(c), 1000)]
        cv = emb.encode(chunks).mean(axis=0)
        cv /= np.linalg.norm(cv) or 1.0
        av = emb.encode([it.right, it.hallucinated])
        out += [float(av[0] @ cv), float(av[1] @ cv)]
    return np.array(out)


def check_scores(items: list[Item], mode: str, domain: str = "general") -> tuple[np.ndarray, float]:
    """Scores of the shipped check on both answers of each item, and the median ms per answer. An answer the check
    finds no evidence for (score None: a refusal, no checkable claim) counts as 0.5, undecided."""
    from catalyst.checks import CheckContext
    from catalyst.records import Interaction
    from catalyst_checks.grounding import Grounding

    check = Grounding(mode=mode, domain=domain)  # type: ignore[arg-type]
    if mode == "full":  # every full row starts cold: an earlier row's cached sentences would flatter its ms
        from catalyst.embeddings import get_embedder

        get_embedder(check.backend).clear_cache()
    scores, times = [], []
    for it in items:
        for answer in (it.right, it.hallucinated):
            ctx = CheckContext(Interaction(input=it.input or None, output=answer, context=it.context))
            t0 = time.perf_counter()
            r = check.run(ctx)
            times.append((time.perf_counter() - t0) * 1e3)
            scores.append(0.5 if r.score is None else r.score)  # no evidence (a refusal, no claim): undecided
    return np.array(scores, dtype=np.float64), float(np.median(times))


def labels(items: list[Item]) -> np.ndarray:
    return np.array([1, 0] * len(items))


def evaluate(task: str, full_n: int, *, full: bool = True) -> list[dict[str, object]]:
    """Rows for one task. Full mode runs on the first ``full_n`` test items (its "all" row) plus up to
    ``full_n`` length-matched test items (its "length-matched" row)."""
    test = load_split(task, "test")
    matched = [length_matched(it) for it in test]
    first = test[:full_n] if full else []
    extra = [it for it, m in zip(test[full_n:], matched[full_n:], strict=True) if m] if full else []
    n_matched_first = sum(matched[:full_n]) if full else 0
    sample = first + extra[: max(0, full_n - n_matched_first)]
    in_first = np.repeat(np.arange(len(sample)) < len(first), 2)
    s_matched = np.repeat(np.array([length_matched(it) for it in sample], dtype=bool), 2)

    y = labels(test)
    t_all = np.ones(len(y), dtype=bool)
    t_matched = np.repeat(np.array(matched, dtype=bool), 2)
    lengths = np.array([len(a) for it in test for a in (it.right, it.hallucinated)], dtype=np.float64)
    wps = np.array([words_per_sentence(a) for it in test for a in (it.right, it.hallucinated)])
    lex, lex_ms = check_scores(test, "lexical")

    rows: list[dict[str, object]] = []

    def add(name: str, yy: np.ndarray, s: np.ndarray, masks: tuple[np.ndarray, np.ndarray], *, fixed: bool,
            ms: float | None = None) -> None:
        for subset, m in zip(("all", "length-matched"), masks, strict=True):
            ys, ss = yy[m], s[m]
            a = auroc(ys, ss)
            if fixed:
                bacc = balanced_acc(ys, ss >= 0.5)
            else:
                a = max(a, 1 - a)
                bacc = best_balanced_acc(ys, ss)
            rows.append({"task": task, "subset": subset, "detector": name, "n": int(m.sum()), "auroc": a,
                         "bacc": bacc, "ms": ms, "tuned": not fixed})

    add("grounding lexical", y, lex, (t_all, t_matched), fixed=True, ms=lex_ms)
    if task == "dialogue":
        dlex, dlex_ms = check_scores(test, "lexical", "dialogue")
        add("grounding lexical, domain=dialogue", y, dlex, (t_all, t_matched), fixed=True, ms=dlex_ms)
    if sample:
        full_scores, full_ms = check_scores(sample, "full")
        add("grounding full", labels(sample), full_scores, (in_first, s_matched), fixed=True, ms=full_ms)
        if task == "dialogue":
            dfull, dfull_ms = check_scores(sample, "full", "dialogue")
            add("grounding full, domain=dialogue", labels(sample), dfull, (in_first, s_matched), fixed=True,
                ms=dfull_ms)
    add("length (baseline)", y, -lengths, (t_all, t_matched), fixed=False)
    add("words/sentence (baseline)", y, -wps, (t_all, t_matched), fixed=False)
    if sample:
        add("answer-context cosine (baseline)", labels(sample), plain_cosine(sample), (in_first, s_matched),
            fixed=False)
    return rows


def unsupported_content(items: list[Item]) -> dict[str, np.ndarray]:
    """Per answer (right, hallucinated, ...): content words and named things found in neither context nor input.

    Uses the check's own text analysis (content-word stems, ``entity_mentions``), and counts the whole input (the
    question or conversation so far) as support, the most generous reading a grounding check can take.
    """
    from catalyst_checks.grounding.features import context_index
    from catalyst_checks.grounding.text import analyse, entity_mentions

    out: dict[str, list[float]] = {k: [] for k in ("words", "word_share", "names", "name_share")}
    for it in items:
        given = set(context_index(it.context).vocab)
        if it.input:
            given |= set(analyse(it.input).tokens)
        for answer in (it.right, it.hallucinated):
            content = analyse(answer).content
            words = [w for w in content if w not in given]
            mentions = entity_mentions(answer)
            names = [m for m in mentions if any(w not in given for w in m)]
            out["words"].append(len(words))
            out["word_share"].append(len(words) / max(1, len(content)))
            out["names"].append(len(names))
            out["name_share"].append(len(names) / max(1, len(mentions)))
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


CEILING_RULES = {
    "any unsupported named thing": lambda u: (u["names"] > 0).astype(float),
    "any unsupported content word": lambda u: (u["words"] > 0).astype(float),
    "share of unsupported content words": lambda u: u["word_share"],
    "share of unsupported named things": lambda u: u["name_share"],
    "count of unsupported named things": lambda u: u["names"],
    "count of unsupported content words": lambda u: u["words"],
}


def ceiling(task: str) -> list[dict[str, object]]:
    """How far "the answer says something the context and input do not" can separate right from hallucinated."""
    test = load_split(task, "test")
    u = unsupported_content(test)
    y = labels(test)
    right, hall = y == 1, y == 0
    matched = np.repeat(np.array([length_matched(it) for it in test], dtype=bool), 2)
    rows = []
    for subset, m in (("all", np.ones(len(y), dtype=bool)), ("length-matched", matched)):
        best = {name: best_balanced_acc(y[m], rule(u)[m]) for name, rule in CEILING_RULES.items()}
        top = max(best, key=lambda k: best[k])
        r_names, h_names = u["names"][m & right] > 0, u["names"][m & hall] > 0
        rows.append({
            "task": task, "subset": subset, "n": int(m.sum()) // 2,
            "right_word": float((u["words"][m & right] > 0).mean()),
            "hall_word": float((u["words"][m & hall] > 0).mean()),
            "right_name": float(r_names.mean()), "hall_name": float(h_names.mean()),
            "any_name_bacc": best["any unsupported named thing"], "best_bacc": best[top], "best_rule": top,
            "decidable": float((~r_names & h_names).mean()), "inverted": float((r_names & ~h_names).mean()),
        })
    return rows


def render_ceiling(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "### What grounding without world knowledge can reach",
        "",
        "Share of *right* and *hallucinated* answers containing a content word, or a named thing (a run of "
        "capitalised words), that neither the context nor the input (question / conversation so far) contains; "
        "balanced accuracy of flagging \"any unsupported named thing\", and of the best of six unsupported-content "
        "rules (any / share / count of unsupported words or named things) with orientation and threshold picked "
        "on the test labels (an upper bound for such rules; counts also carry length on `all`). *Decidable* pairs: "
        "the right answer has no unsupported named thing and the hallucinated one has; *inverted*: the reverse.",
        "",
        "| task | subset | items | right: unsupp. word | halluc.: unsupp. word | right: unsupp. name | "
        "halluc.: unsupp. name | bal. acc. any-name rule | best rule bal. acc. (oracle) | best rule | "
        "decidable pairs | inverted pairs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    get = {(r["task"], r["subset"]): r for r in rows}
    d, dm = get.get(("dialogue", "all")), get.get(("dialogue", "length-matched"))
    if d and dm:
        lines[4:4] = [
            f"Dialogue: {d['right_name']:.1%} of the *right* (human-written) responses name something that neither "
            f"the knowledge nor the conversation contains ({d['right_word']:.1%} have an unsupported content word), "
            f"against {d['hall_name']:.1%} of the hallucinated ones. Only {d['decidable']:.1%} of pairs are decidable "
            f"on named things ({d['inverted']:.1%} inverted, the rest tied), so flagging unsupported named things "
            f"reaches {d['any_name_bacc']:.1%} balanced accuracy and the best unsupported-content rule, with an "
            f"oracle threshold, {d['best_bacc']:.1%} ({dm['best_bacc']:.1%} length-matched). ChatGPT's "
            f"{CHATGPT_JUDGE['dialogue']:.1%} needs knowing whether an unsupported name is *true* (world knowledge), "
            "which no check grounded in the given context can see.",
            "",
        ]
    for r in rows:
        lines.append(f"| {r['task']} | {r['subset']} | {r['n']} | {r['right_word']:.1%} | {r['hall_word']:.1%} | "
                     f"{r['right_name']:.1%} | {r['hall_name']:.1%} | {r['any_name_bacc']:.1%} | "
                     f"{r['best_bacc']:.1%} | {r['best_rule']} | {r['decidable']:.1%} | {r['inverted']:.1%} |")
    return lines


def verdicts(rows: list[dict[str, object]]) -> list[str]:
    """One line per task and mode: the goals (beat length / words-per-sentence when length-matched, beat ChatGPT)."""
    out = []
    for task in dict.fromkeys(str(r["task"]) for r in rows):
        get = {(r["detector"], r["subset"]): r for r in rows if r["task"] == task}
        base_len = get[("length (baseline)", "length-matched")]["auroc"]
        base_wps = get[("words/sentence (baseline)", "length-matched")]["auroc"]
        for mode in ("grounding lexical", "grounding full", "grounding lexical, domain=dialogue",
                     "grounding full, domain=dialogue"):
            lm, al = get.get((mode, "length-matched")), get.get((mode, "all"))
            if lm is None or al is None:
                continue
            out.append(
                f"- {task}, {mode}: length-matched AUROC {lm['auroc']:.3f} vs length {base_len:.3f} "
                f"({'beats' if lm['auroc'] > base_len else 'does not beat'}) and words/sentence {base_wps:.3f} "
                f"({'beats' if lm['auroc'] > base_wps else 'does not beat'}); balanced accuracy {al['bacc']:.1%} vs "
                f"ChatGPT judge {CHATGPT_JUDGE[task]:.1%} "
                f"({'beats' if al['bacc'] > CHATGPT_JUDGE[task] else 'below'}).")
    return out


def render(rows: list[dict[str, object]], ceil: list[dict[str, object]]) -> str:
    """The BENCHMARKS.md section (markdown)."""
    lines = [
        "## Grounding quality (HaluEval test split)",
        "",
        f"`{' '.join(['python benchmarks/grounding_quality.py', *sys.argv[1:]])}` — test split = blake2b(item) "
        "% 100 < 20, never trained on. "
        "n = answers (two per item). The check's balanced accuracy is at its default threshold 0.5; baselines "
        "(marked *) get their best orientation and an oracle threshold picked on the test labels. Length-matched = "
        "right and hallucinated answers within 20% of each other's length. ChatGPT judge = HaluEval paper. "
        "Full mode and the cosine baseline run on a subsample (embedding every document sentence is slow here): "
        "their `all` row is the first `--full-n` test items, their length-matched row up to `--full-n` "
        "length-matched items. Lexical mode, length and words/sentence use the whole test split. On dialogue the "
        "check also runs with `domain: dialogue` (its head trained on chat replies only; a policy setting).",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    lines += [*verdicts(rows), "",
              "| task | subset | detector | n | AUROC | balanced acc. | ChatGPT judge acc. | median ms |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = f"{r['detector']}{' *' if r['tuned'] else ''}"
        judge = f"{CHATGPT_JUDGE[str(r['task'])]:.1%}" if str(r["detector"]).startswith("grounding") else ""
        ms = f"{r['ms']:.1f}" if r["ms"] is not None else ""
        lines.append(f"| {r['task']} | {r['subset']} | {name} | {r['n']} | {r['auroc']:.3f} | {r['bacc']:.1%} | "
                     f"{judge} | {ms} |")
    if ceil:
        lines += ["", *render_ceiling(ceil)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full-n", type=int, default=500, help="items per task scored in full mode")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--lexical-only", action="store_true", help="skip the full mode and the cosine baseline")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = p.parse_args(argv)

    rows: list[dict[str, object]] = []
    ceil: list[dict[str, object]] = []
    for task in args.tasks:
        t0 = time.perf_counter()
        rows += evaluate(task, args.full_n, full=not args.lexical_only)
        ceil += ceiling(task)
        print(f"{task}: {time.perf_counter() - t0:.0f}s", flush=True)
    table = Table(title="Grounding quality, HaluEval test split (* = baseline with oracle orientation/threshold)")
    for col in ("task", "subset", "detector", "n", "AUROC", "bal. acc.", "ChatGPT judge", "ms"):
        table.add_column(col, justify="right" if col in ("n", "AUROC", "bal. acc.", "ms") else "left")
    for r in rows:
        judge = f"{CHATGPT_JUDGE[str(r['task'])]:.1%}" if str(r["detector"]).startswith("grounding") else ""
        table.add_row(str(r["task"]), str(r["subset"]), f"{r['detector']}{' *' if r['tuned'] else ''}", str(r["n"]),
                      f"{r['auroc']:.3f}", f"{r['bacc']:.1%}", judge,
                      f"{r['ms']:.1f}" if r["ms"] is not None else "")
    Console(width=200).print(table)
    ct = Table(title="Unsupported content in right vs hallucinated answers (what grounding alone can see)")
    for col in ("task", "subset", "items", "right: word", "halluc.: word", "right: name", "halluc.: name",
                "any-name rule", "best rule (oracle)", "decidable", "inverted"):
        ct.add_column(col, justify="left" if col in ("task", "subset") else "right")
    for r in ceil:
        ct.add_row(str(r["task"]), str(r["subset"]), str(r["n"]), *(f"{r[k]:.1%}" for k in (
            "right_word", "hall_word", "right_name", "hall_name", "any_name_bacc", "best_bacc", "decidable",
            "inverted")))
    Console(width=200).print(ct)
    if not args.no_write:
        write_section(SECTION, render(rows, ceil))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
