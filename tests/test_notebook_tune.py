"""notebooks/02_tune_a_policy.ipynb runs top to bottom (nbclient, real kernel) and shows the loop closing."""

from __future__ import annotations

import pytest
from _notebooks import run_notebook


@pytest.mark.slow
def test_tune_notebook_executes(tmp_path):
    outputs, cells = run_notebook("02_tune_a_policy.ipynb", tmp_path, timeout=180)
    assert "chosen" in outputs and "precision of accepted" in outputs
    images = sum("image/png" in o.get("data", {}) for o in cells)
    assert images >= 2  # the shift histogram and the side-by-side comparison
