"""Reliability (security part): what the log keeps, injection screening per family, fuzz cases run.

1. Planted values. Records holding every kind of value ``pii`` and ``secrets`` know (``tests/_planted.py``: cards,
   SSN, e-mail, phone, IBAN, IP, AWS keys and secret, a private-key block, passwords, a connection string,
   GitHub/OpenAI/Slack/Stripe/Hugging Face/Google tokens, a JWT) in the input, output, context, samples and
   metadata, validated with a policy using ``pii: {action: redact}`` and ``secrets``; then the raw bytes of what
   was written are searched for each value (also JSON-escaped): the DuckDB file and its ``.wal``, the ``--out``
   JSONL and a webhook body received on 127.0.0.1. Rows: the redactor applied before the write (what the sink
   does), the same without it (the control), and the entry points as wired on this branch (``Validator(store=)``
   and ``catalyst validate --out``).
2. Injection screening: the default ``injection`` check on the held-out set, per family, as input and as passage
   (details and baselines: ``benchmarks/injection_quality.py``).
3. Fuzzing: ``tests/test_fuzz.py`` with ``CATALYST_FUZZ_EXAMPLES`` examples per test; hypothesis' own counts.

    python benchmarks/reliability.py [--fuzz-examples 300]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _planted import PLANTED, POLICY_YAML, files_bytes, found_in, planted_policy, planted_record  # noqa: E402
from _report import machine, markdown_table, show, write_section  # noqa: E402
from _webhook import Receiver  # noqa: E402

N_RECORDS = 20


def _written(tmp: Path, pairs: list[Any], name: str) -> dict[str, list[str]]:
    """Write pairs to a DuckDB file, a JSONL file and a webhook; the planted kinds found in each."""
    from catalyst import Store
    from catalyst.review.notify import JsonWebhook, Notifier

    db = tmp / f"{name}.duckdb"
    store = Store(db)
    store.add(pairs)
    store.flush()
    wal_open = files_bytes(db.with_name(db.name + ".wal"))
    store.close()
    out = tmp / f"{name}.jsonl"
    out.write_text("".join(v.to_json() + "\n" for _, v in pairs))
    rx = Receiver()
    notifier = Notifier([JsonWebhook(rx.url)], events=["block", "enqueue"])
    for r, v in pairs:
        notifier.on_verdict(r, v)
    notifier.flush(timeout=20)
    notifier.close()
    rx.close()
    return {"DuckDB file + .wal": found_in(files_bytes(db, db.with_name(db.name + ".wal")) + wal_open),
            "--out JSONL": found_in(out.read_bytes()), "webhook bodies": found_in(b"".join(rx.bodies))}


def planted(tmp: Path) -> list[list[str]]:
    from catalyst import Store, Validator
    from catalyst.records import Interaction
    from catalyst.redaction import log_redactor

    policy = planted_policy()
    validator = Validator(policy)
    records = [Interaction(**planted_record(i)) for i in range(N_RECORDS)]
    pairs = [(r, validator.validate(r)) for r in records]
    redact = log_redactor(policy)
    rows = []
    for label, ps in (("redactor before the write (the sink's hook)", [redact(r, v) for r, v in pairs]),
                      ("control: no redaction", pairs)):
        for where, kinds in _written(tmp, ps, label.split()[0].strip(":")).items():
            rows.append([label, where, f"{len(kinds)} of {len(PLANTED)}", ", ".join(kinds) or "-"])
    # the entry points as this branch wires them
    db = tmp / "validator.duckdb"
    with Validator(policy, store=Store(db)) as v:
        v.validate_many(records)
    kinds = found_in(files_bytes(db, db.with_name(db.name + ".wal")))
    rows.append(["`Validator(store=)` as wired here", "DuckDB file + .wal", f"{len(kinds)} of {len(PLANTED)}",
                 ", ".join(kinds) or "-"])
    src, pol = tmp / "in.jsonl", tmp / "planted.yaml"
    src.write_text("".join(json.dumps(planted_record(100 + i)) + "\n" for i in range(N_RECORDS)))
    pol.write_text(POLICY_YAML)
    cdb, out = tmp / "cli.duckdb", tmp / "cli-out.jsonl"
    run = subprocess.run([sys.executable, "-m", "catalyst", "validate", str(src), "--policy", str(pol), "--db",
                          str(cdb), "--out", str(out)], capture_output=True, text=True, cwd=tmp, timeout=600)
    if run.returncode != 0:
        rows.append(["`catalyst validate --out` as wired here", "(run failed)", "n/a", run.stderr.strip()[-200:]])
    else:
        for where, blob in (("DuckDB file + .wal", files_bytes(cdb, cdb.with_name(cdb.name + ".wal"))),
                            ("--out JSONL", files_bytes(out))):
            kinds = found_in(blob)
            rows.append(["`catalyst validate --out` as wired here", where, f"{len(kinds)} of {len(PLANTED)}",
                         ", ".join(kinds) or "-"])
    return rows


def injection() -> tuple[list[str], list[list[str]]]:
    from injection_quality import HELDOUT, check_fn, load, per_family

    from catalyst_checks.injection import Injection

    held = load(HELDOUT)
    texts = [r["text"] for r in held]
    inp = per_family(held, check_fn(Injection())(texts))
    pas = per_family(held, check_fn(Injection(field="context"))(texts))
    fams = [k for k in inp if k != "benign look-alikes"]

    def pct(k: int, n: int) -> str:
        return f"{k}/{n} ({100 * k / n:.0f} %)"

    rows = [[f, pct(*inp[f]), pct(*pas[f])] for f in fams]
    tot = [(sum(d[f][0] for f in fams), sum(d[f][1] for f in fams)) for d in (inp, pas)]
    rows.append(["**recall, all families**", pct(*tot[0]), pct(*tot[1])])
    rows.append(["**false-positive rate** (benign look-alikes)", pct(*inp["benign look-alikes"]),
                 pct(*pas["benign look-alikes"])])
    return ["held-out family (recall)", "as input", "as passage"], rows


_STATS = re.compile(r"(\d+) passing examples?, (\d+) failing examples?, (\d+) invalid examples?")


def fuzz(examples: int) -> tuple[list[list[str]], str]:
    env = {**os.environ, "CATALYST_FUZZ_EXAMPLES": str(examples)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py",
                          "--hypothesis-show-statistics"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=3600)
    counts: dict[str, list[int]] = {}
    current = None
    for line in run.stdout.splitlines():
        m = re.match(r"tests/test_fuzz\.py::(\w+)", line.strip())
        if m:
            current = m.group(1)
            counts.setdefault(current, [0, 0, 0])
            continue
        s = _STATS.search(line)
        if s and current:  # one line per phase (explicit, generate, shrink): summed
            for i in range(3):
                counts[current][i] += int(s.group(i + 1))
    rows = [[name, *map(str, c)] for name, c in counts.items()]
    for name in re.findall(r"FAILED tests/test_fuzz\.py::(\w+)", run.stdout):
        rows = [r for r in rows if r[0] != name]
        rows.append([name, "-", "FAILED (falsifying example in the pytest output)", "-"])
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-200:]
    return rows, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzz-examples", type=int, default=300)
    args = ap.parse_args()
    start = machine()
    with tempfile.TemporaryDirectory() as d:
        prow = planted(Path(d))
    pcols = ["path", "written to", "planted kinds found", "which"]
    show("planted sensitive values found in stored bytes", pcols, prow)
    icols, irow = injection()
    show("injection, held-out set, default check", icols, irow)
    frows, fsummary = fuzz(args.fuzz_examples)
    fcols = ["fuzz test (tests/test_fuzz.py)", "passing examples", "failing examples", "invalid examples"]
    show(f"fuzzing: {fsummary}", fcols, frows)
    total = sum(int(r[1]) + int(r[2]) for r in frows if r[1].isdigit())
    body = "\n\n".join([
        "## Reliability: what the log keeps, injection screening, fuzzing (`benchmarks/reliability.py`)",
        f"{start}. Goal for planted values: 0 found in anything written.",
        f"**Planted values** ({N_RECORDS} records × {len(PLANTED)} kinds, in input, output, context, samples and "
        "metadata; policy `pii: {mode: patterns, action: redact}` + `secrets`); the raw bytes are searched for each "
        "value:",
        markdown_table(pcols, prow),
        "**Injection screening**, default `injection` check on the held-out set (117 attacks in 13 families, 56 "
        "benign look-alikes; goal recall ≥ 80 % at a false-positive rate ≤ 5 %):",
        markdown_table(icols, irow),
        f"**Fuzzing** (hypothesis, {args.fuzz_examples} examples per test asked; {total} cases run; pytest: "
        f"`{fsummary}`). Failing examples are findings, listed by the test run:",
        markdown_table(fcols, frows),
        "Reproduce: `python benchmarks/reliability.py --fuzz-examples 300`.",
    ])
    write_section("reliability_security", body)


if __name__ == "__main__":
    main()
