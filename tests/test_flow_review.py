"""The flow waits for a person at LangGraph's interrupt() and resumes from another process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import duckdb

from catalyst import Decision, Store, Validator
from catalyst.review.durable import checkpointer

DOUBTFUL = {"id": "q-9", "input": "Is it safe?", "output": "As an AI language model, yes it is."}


def test_review_waits_then_resumes_in_another_process(db_path):
    v = Validator("default", store=Store(db_path, keep_open=False), checkpointer=checkpointer(db_path))
    pending = v.validate(DOUBTFUL, thread_id="t-1")
    assert pending.decision is Decision.REVIEW
    assert v.validate({"id": "ok-1", "output": "Yes."}, thread_id="t-2").decision is Decision.ACCEPT
    v.close()
    # a reviewer's process, later: same log, same checkpoints, corrects the answer
    script = textwrap.dedent(f"""
        import json
        from catalyst import Store, Validator
        from catalyst.review.durable import checkpointer
        v = Validator("default", store=Store({str(db_path)!r}, keep_open=False),
                      checkpointer=checkpointer({str(db_path)!r}))
        final = v.resume("t-1", {{"decision": "correct", "output": "It is safe when used as directed.",
                                  "reviewer": "ana", "reason": "boilerplate"}})
        v.close()
        print(final.model_dump_json())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    final = json.loads(out.stdout.strip().splitlines()[-1])
    assert final["decision"] == "accept"
    assert final["output"] == "It is safe when used as directed."
    assert any("ana: correct (boilerplate)" in r for r in final["reasons"])
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT decision, output FROM verdicts WHERE id = 'q-9' ORDER BY created_at").fetchall()
    con.close()
    assert rows == [("review", None), ("accept", "It is safe when used as directed.")]


def test_batch_mode_queues_reviews_without_waiting(db_path):
    v = Validator("default", store=Store(db_path))
    verdicts = v.validate_many([DOUBTFUL, {"output": "fine"}])
    v.close()
    assert [x.decision for x in verdicts] == [Decision.REVIEW, Decision.ACCEPT]
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT id, status FROM review_items").fetchall() == [("q-9", "pending")]
    con.close()
