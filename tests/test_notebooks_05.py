"""notebooks/05_your_data.ipynb runs top to bottom: a CSV of the user's answers → a tuned, calibrated policy."""

from __future__ import annotations

import pytest
from _notebooks import run_notebook


@pytest.mark.slow
def test_your_data_notebook_executes(tmp_path):
    out, _ = run_notebook("05_your_data.ipynb", tmp_path, timeout=180)
    assert "220 rows; columns: ['ticket', 'question', 'answer', 'source_passage', 'task', 'reviewer_ok']" in out
    assert "default policy on your labels: AUROC" in out and "<- chosen" in out
    assert "wrote support.yaml → support@" in out and "precision of accepted" in out
