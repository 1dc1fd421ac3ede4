"""What every monitoring query shares: windows of time, the log's schema as it is, small statistics.

All monitoring reads the DuckDB log with SQL that aggregates inside DuckDB; Python only sees the
aggregates (a few rows per window, bucket, check or segment), never one row per verdict.

The log may come from an older or newer Catalyst: optional columns (``verdicts.evidence``,
``review_items.audit``) and tables (``model_calls``, ``labels``) are looked up in ``information_schema``
and the queries that need them degrade (a section says "not logged") instead of failing. ``confidence``
may be NULL (no evidence check could score): averages skip it and the share of such verdicts is reported.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from catalyst.errors import ConfigError, NoDataError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
BUCKETS = {"hour": 3600, "day": 86400}


def bucket(col: str, by: str) -> str:
    """SQL: the UTC hour/day a timestamp falls in (epoch arithmetic: ~20x faster than ICU's time_bucket)."""
    return f"to_timestamp(floor(epoch({col}) / {BUCKETS[by]}) * {BUCKETS[by]})"


def parse_duration(text: str, *, what: str = "--since") -> timedelta:
    """``30m``, ``6h``, ``7d``, ``2w`` → a timedelta; anything else is a one-line user error."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"{what} `{text}` is not a duration; write a number and a unit: 30m, 6h, 7d or 2w")
    seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds <= 0:
        raise ConfigError(f"{what} `{text}` must be longer than zero")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Window:
    """A half-open interval of time ``[start, end)``, in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, duration: str | timedelta, *, now: datetime | None = None) -> Window:
        d = parse_duration(duration) if isinstance(duration, str) else duration
        end = now or datetime.now(UTC)
        return cls(end - d, end)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def before(self) -> Window:
        """The window of the same length just before this one (the default drift reference)."""
        return Window(self.start - self.length, self.start)

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC"

    def params(self) -> list[datetime]:
        return [self.start, self.end]


class Schema:
    """Which tables and columns this log has (looked up once per connection)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'main'").fetchall()
        self.cols: dict[str, set[str]] = {}
        for t, c in rows:
            self.cols.setdefault(t, set()).add(c)

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self.cols:
            return False
        return column is None or column in self.cols[table]


def prepare(con: duckdb.DuckDBPyConnection) -> Schema:
    """UTC buckets on this connection, and the schema; raises a clear error for a log without verdicts."""
    con.execute("SET TimeZone = 'UTC'")
    with contextlib.suppress(duckdb.Error):  # in Jupyter, DuckDB refuses to touch it without ipywidgets
        con.execute("SET enable_progress_bar = false")
    schema = Schema(con)
    if not schema.has("verdicts"):
        raise NoDataError("this DuckDB file has no `verdicts` table: it is not a Catalyst log (or was never "
                          "written); run `catalyst validate --db FILE` first")
    return schema


def window_table(con: duckdb.DuckDBPyConnection, schema: Schema, window: Window) -> str:
    """A temp table of the window's *labelled* verdicts — each with its latest reviewer label and whether its
    review item was an audit sample — built once per connection and window, shared by every section that
    needs labels (overturn, audit, calibration, slices).

    Columns: verdict_id, id, created_at, decision, confidence, segment, policy, label, audit.
    """
    name = f"_mon_w_{int(window.start.timestamp() * 1e6)}_{int(window.end.timestamp() * 1e6)}"
    if con.execute("SELECT 1 FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]).fetchone():
        return name
    audit = ("(SELECT id FROM review_items WHERE audit)" if schema.has("review_items", "audit")
             else "(SELECT NULL::VARCHAR AS id)")
    if schema.has("labels"):
        # a label is decided after its verdict, so labels decided before the window cannot belong to it
        con.execute(f"""
            CREATE TEMP TABLE {name} AS
            SELECT v.verdict_id, v.id, v.created_at, v.decision, v.confidence, v.segment, v.policy, lab.label,
                   i.id IS NOT NULL AS audit
            FROM (SELECT arg_max(verdict_id, decided_at) AS verdict_id, arg_max(label, decided_at) AS label
                  FROM labels WHERE decided_at >= ? GROUP BY id) lab
                 JOIN verdicts v ON lab.verdict_id = v.verdict_id LEFT JOIN {audit} i ON i.id = v.id
            WHERE v.created_at >= ? AND v.created_at < ?""", [window.start, *window.params()])
    else:
        con.execute(f"""CREATE TEMP TABLE {name} AS SELECT verdict_id, id, created_at, decision, confidence,
                        segment, policy, NULL::TINYINT AS label, false AS audit FROM verdicts WHERE false""")
    return name


def log_span(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None, datetime | None]:
    n, lo, hi = con.execute("SELECT count(*), min(created_at), max(created_at) FROM verdicts").fetchone() or (0, None,
                                                                                                               None)
    return int(n), lo, hi


def require_rows(con: duckdb.DuckDBPyConnection, window: Window, db: str = "the log") -> int:
    """Verdicts in the window; a clear error for an empty log or an empty window (saying where data is)."""
    n_all, lo, hi = log_span(con)
    if n_all == 0:
        raise NoDataError(f"{db} holds no verdicts yet; validate some answers first (`catalyst validate "
                          f"answers.jsonl --db {db}`)")
    row = con.execute("SELECT count(*) FROM verdicts WHERE created_at >= ? AND created_at < ?",
                      window.params()).fetchone()
    n = int(row[0]) if row else 0
    if n == 0:
        raise NoDataError(f"no verdicts between {window.label()}; the log spans {lo:%Y-%m-%d %H:%M} → "
                          f"{hi:%Y-%m-%d %H:%M} UTC — widen --since")
    return n


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# -- small statistics on aggregates ------------------------------------------------------------------
Z95 = 1.959963984540054


def wilson(k: float, n: float, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for k successes in n trials (None when n = 0)."""
    if n <= 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def normal_sf(z: float) -> float:
    """Upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(k1: float, n1: float, k2: float, n2: float) -> tuple[float, float]:
    """Two-sided pooled z-test of k1/n1 against k2/n2: (z, p)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, 2 * normal_sf(abs(z))


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """BH-adjusted q-values (false-discovery rate), in input order."""
    m = len(pvalues)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = min(1.0, running)
    return q
