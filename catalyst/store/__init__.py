"""The DuckDB log: every verdict, interaction, check result and review item."""

from catalyst.store._connect import migrate, open_db
from catalyst.store._store import Store

__all__ = ["Store", "migrate", "open_db"]
