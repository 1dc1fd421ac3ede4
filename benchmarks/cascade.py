"""How many model calls the cascade saves: costly checks only in the review band vs. every check on every answer.

Same run, same data (the 300 bundled demo records: HaluEval QA/dialogue/summarization with context),
same checks, same scripted OpenAI-compatible server on loopback (``catalyst.testing``). Two policies
that differ only in *when* the model-using checks run:

- **cascade**: cheap local checks (non_empty, length, grounding) on every answer; the costly ones
  (consistency with 5 samples, verbalized confidence, LLM judge) only when the cheap ones leave the
  answer inside the review band;
- **every check**: the same checks with ``costly: false``, so all run on every answer.

Model calls are counted twice, independently: by the server (requests received) and by the client
layer (attempts). The server's replies are scripted (valid judge JSON, a number for verbalized, text
for samples): this measures call volume and time, not the costly checks' accuracy.

Run: ``python benchmarks/cascade.py`` (writes its section of BENCHMARKS.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, markdown_table, show, write_section

import catalyst
from catalyst.cli.demo import demo_data
from catalyst.jsonl import read_records
from catalyst.llm import LLM, LLMConfig
from catalyst.policy import loads_policy
from catalyst.testing import ScriptedRequest, ScriptedServer

POLICY = """
name: cascade-{variant}
checks:
  - non_empty: {{}}
    on_fail: block
  - length: {{min_chars: 1, max_chars: 8000}}
    on_fail: review
  - grounding: {{}}
    weight: 2
  - consistency: {{num_samples: 5, use_record_samples: false}}{costly}
  - verbalized: {{}}{costly}
  - judge: {{}}{costly}
thresholds: {{accept: {accept}, block: {block}}}
"""
BANDS = {"default": (0.8, 0.3), "narrow": (0.7, 0.4)}


def script(req: ScriptedRequest) -> str:
    """A stand-in model: judge JSON for the judge, a number for verbalized, an answer for sampling."""
    body = req.json
    prompt = req.prompt
    if body.get("response_format") or "fact-checker" in prompt:
        return '{"claims": []}'
    if "You grade answers" in prompt:
        return "70"
    return "A sampled answer to: " + req.last_user_message[:80]


def run(variant: str, records: list[Any], srv: ScriptedServer, band: str = "default") -> dict[str, Any]:
    costly = "" if variant == "cascade" else "\n    costly: false"
    accept, block = BANDS[band]
    policy = loads_policy(POLICY.format(variant=f"{variant}-{band}", costly=costly, accept=accept, block=block))
    llm = LLM(LLMConfig(base_url=srv.url, model="scripted", timeout=10, max_retries=1, budget_calls=16))
    validator = catalyst.Validator(policy, services={"llm": llm})
    srv.reset()
    t0 = time.perf_counter()
    verdicts = validator.validate_many(records, batch_size=100)
    secs = time.perf_counter() - t0
    costly_names = {s.label for s in policy.default.costly} | {"consistency", "verbalized", "judge"}
    escalated = sum(1 for v in verdicts if any(c.name in costly_names for c in v.checks))
    decisions = {d: sum(1 for v in verdicts if v.decision.value == d) for d in ("accept", "review", "block")}
    out = {"variant": variant, "band": band, "verdicts": len(verdicts), "server_calls": len(srv.requests),
           "client_calls": llm.total.calls, "tokens": llm.total.tokens, "escalated": escalated,
           "secs": secs, "decisions": decisions, "by_id": {v.id: v.decision.value for v in verdicts}}
    llm.close()
    return out


def main() -> None:
    records = list(read_records(demo_data()))
    with ScriptedServer(script) as srv:
        run("cascade", records[:10], srv)  # warm-up: loads the embedding model once, outside the timings
        every = run("every", records, srv)
        cascade = run("cascade", records, srv)
        narrow = run("cascade", records, srv, band="narrow")
        assert not srv.errors, srv.errors
    n = len(records)
    same = sum(1 for k, d in cascade["by_id"].items() if every["by_id"].get(k) == d)
    cols = ["run", "review band", "verdicts", "escalated", "model calls (server)", "calls / verdict",
            "tokens / verdict", "wall s", "accept / review / block"]
    rows = []
    for r in (every, cascade, narrow):
        d = r["decisions"]
        accept, block = BANDS[r["band"]]
        rows.append([("every check on every answer" if r["variant"] == "every" else "cascade (costly only in band)"),
                     f"[{block}, {accept})", r["verdicts"], f"{r['escalated']} ({r['escalated'] / n:.0%})",
                     r["server_calls"],
                     f"{r['server_calls'] / n:.2f}", f"{r['tokens'] / n:.0f}", f"{r['secs']:.1f}",
                     f"{d['accept']} / {d['review']} / {d['block']}"])
    saved = 1 - cascade["server_calls"] / max(1, every["server_calls"])
    saved_narrow = 1 - narrow["server_calls"] / max(1, every["server_calls"])
    show("Model calls with and without the cascade", cols, rows)
    print(f"cascade saves {saved:.0%} of model calls; server and client counts agree: "
          f"{every['server_calls'] == every['client_calls'] and cascade['server_calls'] == cascade['client_calls']}")
    body = f"""## Cascade: model calls per verdict (`benchmarks/cascade.py`)

{n} demo records (`catalyst/data/demo.jsonl`), scripted OpenAI-compatible server on loopback, {machine()}.
Cheap checks: non_empty, length, grounding. Costly (model-using): consistency (5 samples in one `n=5` call),
verbalized, judge — 3 calls per escalated answer.

{markdown_table(cols, rows)}

**The cascade saves {saved:.0%} of model calls** ({every['server_calls']} → {cascade['server_calls']}) on this
data with the default band [0.3, 0.8): only answers the cheap checks leave in the review band are escalated,
and on HaluEval most answers are genuinely doubtful for a lexical/embedding grounding check. A narrower band
[0.4, 0.7) saves {saved_narrow:.0%} ({narrow['server_calls']} calls) — the band width is the cost dial.
Calls were counted by the server and by the client layer (they agree:
{every['server_calls'] == every['client_calls'] and cascade['server_calls'] == cascade['client_calls']}).
Decisions agree on
{same}/{n} answers; the scripted model's replies are placeholders, so this measures call volume and time, not
what the costly checks would change with a real model.
"""
    write_section("cascade", body)


if __name__ == "__main__":
    main()
