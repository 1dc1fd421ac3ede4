"""notebooks/01_wrap_a_model.ipynb runs top to bottom in a real kernel against the scripted server."""

from __future__ import annotations

import pytest
from _notebooks import run_notebook


@pytest.mark.slow
def test_wrap_a_model_notebook_executes(tmp_path):
    out, _ = run_notebook("01_wrap_a_model.ipynb", tmp_path, timeout=60)
    assert "accept 0.76 | The Eiffel Tower was completed in 1889" in out
    assert "accept after 2 attempts | Canberra is the capital of Australia. | evidence: none" in out
    assert "blocked: blocked by dangerous: denied: 'napalm'" in out
    assert "content_filter | [catalyst] This answer was withheld" in out
    assert "streamed: 'Sure: first you get' -> block" in out
    assert (tmp_path / "notebook01.duckdb").exists()
    assert "requests the model received: 7" in out
