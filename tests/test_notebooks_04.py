"""notebooks/04_monitoring.ipynb runs top to bottom in a real kernel: a simulated month with a drift and a
degrading segment, the report and dashboard showing both, an alert firing and recovering, a canary promoted
and rolled back."""

from __future__ import annotations

import pytest
from _notebooks import run_notebook


@pytest.mark.slow
def test_monitoring_notebook_executes(tmp_path):
    out, _ = run_notebook("04_monitoring.ipynb", tmp_path, timeout=300)
    assert "30000 verdicts logged" in out
    assert "'confidence'" in out.split("drifted:")[1].split("\n")[0]
    assert "drifted in a quiet week: []" in out
    assert "most different segment: region=APAC" in out
    assert "new metadata values: ['m-2']" in out
    assert "dashboard: 4 charts; APAC listed: True" in out
    assert "ALERT flag-rate" in out and "RECOVERED flag-rate" in out
    assert "webhook received: ['alert', 'recovered']" in out
    assert "promoted: challenger@" in out and "rolled back; live: None" in out
