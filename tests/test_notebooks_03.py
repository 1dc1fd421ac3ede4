"""notebooks/03_review_loop.ipynb runs top to bottom in a real kernel: validate, review, resume, labels."""

from __future__ import annotations

import pytest
from _notebooks import run_notebook


@pytest.mark.slow
def test_review_loop_notebook_executes(tmp_path):
    out, _ = run_notebook("03_review_loop.ipynb", tmp_path, timeout=60)
    assert "waiting at ('review',)" in out
    assert "delivered to the caller: [('It was completed in 1889.', <Decision.ACCEPT: 'accept'>)]" in out
    assert "NotHolderError" in out and "InvalidTextError" in out and "U+202E" in out
    assert "w1 0 correct" in out and "decide:correct" in out
