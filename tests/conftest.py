"""Shared fixtures. Tests use real DuckDB files under tmp_path and real HTTP on 127.0.0.1 only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("CATALYST_THREADS", "1")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "log.duckdb"
