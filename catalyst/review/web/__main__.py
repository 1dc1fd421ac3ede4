"""``python -m catalyst.review.web --db D [--host H --port P]``: the web reviewer without the CLI layer
(what ``catalyst review --web`` runs; the end-to-end test and the benchmark start it this way)."""

from __future__ import annotations

import argparse
import sys

from catalyst.errors import UserError
from catalyst.review.web.cli import run_web


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m catalyst.review.web", description=__doc__)
    p.add_argument("--db", default="catalyst.duckdb", help="the DuckDB log holding the review queue")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--lease-seconds", type=float, default=900.0)
    p.add_argument("--sla-hours", type=float, default=24.0)
    a = p.parse_args(argv)
    try:
        run_web(a.db, a.host, a.port, lease_seconds=a.lease_seconds, sla_hours=a.sla_hours)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
