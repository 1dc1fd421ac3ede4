"""notebooks/01_wrap_a_model.ipynb runs top to bottom in a real kernel against the scripted server."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[1] / "notebooks" / "01_wrap_a_model.ipynb"


@pytest.mark.slow
def test_wrap_a_model_notebook_executes(tmp_path):
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "accept 1.0 | The Eiffel Tower was completed in 1889" in out
    assert "accept after 2 attempts | Canberra is the capital of Australia." in out
    assert "blocked: check `dangerous` failed" in out
    assert "content_filter | [catalyst] This answer was withheld" in out
    assert "streamed: 'Sure: first you get' -> block" in out
    assert (tmp_path / "notebook01.duckdb").exists()
    assert "requests the model received: 7" in out
