"""Run a notebook from notebooks/ top to bottom in a real kernel; tests assert on what it printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, workdir: Path, *, timeout: int = 60) -> tuple[str, list[dict[str, Any]]]:
    """Execute ``notebooks/<name>`` in ``workdir``; fail on any error output. Returns (printed text, outputs)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    return "".join(o.get("text", "") for o in outputs), outputs
