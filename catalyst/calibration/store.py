"""Calibrators in the DuckDB log (table ``calibrators``, migration m020): save, load, activate, roll back.

Every fit is kept. Saving a calibrator for a policy makes it the active one and records the previously
active one as its ``parent_id``; :func:`rollback` re-activates the parent. Functions take an open DuckDB
connection (``Store.connect()`` gives one) so they run inside the caller's transaction and lock discipline.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from catalyst.calibration.model import Calibrator
from catalyst.errors import ConfigError

__all__ = ["active", "history", "load", "rollback", "save"]

_COLS = "id, created_at, policy, method, params, n_labels, metrics, parent_id, active"


def _row(r: tuple[Any, ...]) -> Calibrator:
    cal = Calibrator(method=r[3], params=orjson.loads(r[4]), id=r[0], n_labels=int(r[5]),
                     metrics=orjson.loads(r[6]) if r[6] else {}, parent_id=r[7],
                     created_at=r[1].isoformat() if hasattr(r[1], "isoformat") else str(r[1]), policy=r[2])
    return cal


def _require_table(con: duckdb.DuckDBPyConnection) -> None:
    ok = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'calibrators'").fetchone()
    if not ok or not ok[0]:
        raise ConfigError("this log has no `calibrators` table; open it with catalyst.Store (which applies "
                          "migrations) before saving calibrators")


def _policy_name(policy: str | None) -> str | None:
    return policy.split("@", 1)[0] if policy else None


def save(con: duckdb.DuckDBPyConnection, cal: Calibrator, *, policy: str | None = None,
         activate: bool = True) -> Calibrator:
    """Store ``cal`` (assigning ``id``/``created_at``); when ``activate``, it becomes the policy's active one."""
    _require_table(con)
    name = _policy_name(policy or cal.policy)
    now = datetime.now(UTC)
    blob = orjson.dumps([cal.method, cal.params, name, now.isoformat()], option=orjson.OPT_SORT_KEYS)
    cal.id = cal.id or "cal-" + hashlib.blake2b(blob, digest_size=6).hexdigest()
    cal.created_at = now.isoformat()
    cal.policy = name
    prev = active(con, name)
    if cal.parent_id is None and prev is not None:
        cal.parent_id = prev.id
    con.execute("BEGIN")
    try:
        if activate:
            con.execute("UPDATE calibrators SET active = false WHERE active AND policy IS NOT DISTINCT FROM ?",
                        [name])
        con.execute(f"INSERT INTO calibrators ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            cal.id, now, name, cal.method, orjson.dumps(cal.params).decode(), cal.n_labels,
            orjson.dumps(cal.metrics, option=orjson.OPT_SERIALIZE_NUMPY).decode(), cal.parent_id, activate])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return cal


def load(con: duckdb.DuckDBPyConnection, cal_id: str) -> Calibrator:
    _require_table(con)
    r = con.execute(f"SELECT {_COLS} FROM calibrators WHERE id = ?", [cal_id]).fetchone()
    if r is None:
        known = [x[0] for x in con.execute("SELECT id FROM calibrators ORDER BY created_at DESC LIMIT 5").fetchall()]
        raise ConfigError(f"no calibrator `{cal_id}` in the log; recent: {', '.join(known) or 'none'}")
    return _row(r)


def active(con: duckdb.DuckDBPyConnection, policy: str | None) -> Calibrator | None:
    """The active calibrator for a policy name (``name`` or ``name@version``), or None."""
    _require_table(con)
    r = con.execute(f"SELECT {_COLS} FROM calibrators WHERE active AND policy IS NOT DISTINCT FROM ? "
                    "ORDER BY created_at DESC LIMIT 1", [_policy_name(policy)]).fetchone()
    return _row(r) if r else None


def history(con: duckdb.DuckDBPyConnection, policy: str | None = None) -> list[dict[str, Any]]:
    """Every calibrator (of one policy name, if given), newest first, as dicts with ``active``."""
    _require_table(con)
    where, params = ("WHERE policy = ?", [_policy_name(policy)]) if policy else ("", [])
    rows = con.execute(f"SELECT {_COLS} FROM calibrators {where} ORDER BY created_at DESC", params).fetchall()
    return [{**_row(r).to_dict(), "active": bool(r[8])} for r in rows]


def rollback(con: duckdb.DuckDBPyConnection, policy: str | None) -> Calibrator:
    """Deactivate the policy's active calibrator and re-activate its parent; returns the parent."""
    cur = active(con, policy)
    if cur is None:
        raise ConfigError(f"policy `{policy}` has no active calibrator to roll back")
    if cur.parent_id is None:
        raise ConfigError(f"calibrator `{cur.id}` has no parent: it is the first one for `{policy}`")
    parent = load(con, cur.parent_id)
    con.execute("BEGIN")
    try:
        con.execute("UPDATE calibrators SET active = false WHERE id = ?", [cur.id])
        con.execute("UPDATE calibrators SET active = true WHERE id = ?", [parent.id])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return parent
