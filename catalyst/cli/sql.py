"""``catalyst sql "SELECT ..."``: query the log read-only and see a table."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def sql(
        query: str = typer.Argument(..., help="SQL to run on the log (tables: verdicts, interactions, "
                                              "check_results, review_items, labels, ...)"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        limit: int = typer.Option(50, "--limit", min=1, help="rows shown at most"),
        json_out: bool = typer.Option(False, "--json", help="print rows as JSON lines"),
        wait: float = typer.Option(2.0, "--wait", min=0.0, help="seconds to wait while another process holds the log"),
    ) -> None:
        """Query the verdict log (read-only) and print the rows as a table."""
        import duckdb
        import orjson

        from catalyst.cli._paths import db_for_read, locked
        from catalyst.cli._ui import console, plain_table
        from catalyst.errors import StoreLockedError, UserError
        from catalyst.store import open_db

        db_for_read(db)
        try:
            con = open_db(db, read_only=True, lock_timeout=wait)
        except StoreLockedError:
            raise locked(db, reading=True) from None
        try:
            cur = con.execute(query)
        except duckdb.Error as e:
            raise UserError(f"query failed: {e}") from None
        if cur.description is None:
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchmany(limit)
        more = cur.fetchone() is not None
        con.close()
        if json_out:
            for r in rows:
                typer.echo(orjson.dumps(dict(zip(cols, r, strict=True)), default=str).decode())
            return
        t = plain_table(f"{len(rows)} row(s)" + (f", first {limit} shown" if more else ""), cols)
        for r in rows:
            t.add_row(*["" if v is None else str(v) for v in r])
        console.print(t)
