"""notebooks/03_review_loop.ipynb runs top to bottom in a real kernel: validate, review, resume, labels."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[1] / "notebooks" / "03_review_loop.ipynb"


@pytest.mark.slow
def test_review_loop_notebook_executes(tmp_path):
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "waiting at ('review',)" in out
    assert "delivered to the caller: [('It was completed in 1889.', <Decision.ACCEPT: 'accept'>)]" in out
    assert "NotHolderError" in out and "InvalidTextError" in out and "U+202E" in out
    assert "w1 0 correct" in out and "decide:correct" in out
