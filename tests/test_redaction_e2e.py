"""What is written is what may be kept, end to end: the entry points' sink applies ``catalyst.redaction.log_redactor``.

Every planted value (``tests/_planted.py``) goes through ``Validator(store=)``, ``catalyst validate --out`` and a
policy webhook; the raw bytes of the DuckDB file, its WAL, the --out file and the webhook bodies hold none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _planted import POLICY_YAML, files_bytes, found_in, planted_record
from _webhook import Receiver

from catalyst import Store, Validator
from catalyst.policy import loads_policy


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def test_validator_with_a_store_and_a_webhook_keeps_no_planted_value(tmp_path: Path, receiver: Receiver) -> None:
    notify = f"review: {{notify: {{webhook: '{receiver.url}', events: [block, enqueue]}}}}\n"
    policy = loads_policy(POLICY_YAML + notify)
    db = tmp_path / "log.duckdb"
    with Validator(policy, store=Store(db)) as v:
        verdicts = v.validate_many([planted_record(i) for i in range(5)])
        assert {x.decision for x in verdicts} == {"block"}  # the secrets rule blocks; a block event is sent
        assert receiver.got.wait(20)
    assert found_in(files_bytes(db, wal(db))) == []
    assert receiver.bodies and found_in(b"".join(receiver.bodies)) == []
    with Store(db) as s:  # what was written is still usable: one row per record, structure kept
        rows = s.query("SELECT i.output, i.input FROM interactions i")
    assert len(rows) == 5 and all("db.internal:5432/billing" in r["output"] for r in rows)


def test_catalyst_validate_out_keeps_no_planted_value(tmp_path: Path) -> None:
    src, pol = tmp_path / "in.jsonl", tmp_path / "planted.yaml"
    src.write_text("".join(json.dumps(planted_record(i)) + "\n" for i in range(8)))
    pol.write_text(POLICY_YAML)
    db, out = tmp_path / "cli.duckdb", tmp_path / "out.jsonl"
    run = subprocess.run([sys.executable, "-m", "catalyst", "validate", str(src), "--policy", str(pol), "--db",
                          str(db), "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    assert len(out.read_text().splitlines()) == 8
    assert found_in(files_bytes(db, wal(db), out)) == [], "planted values in what `catalyst validate` wrote"
