"""``catalyst show ID``: one verdict with its check results, evidence, and the context passages marked."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def show(
        id: str = typer.Argument(..., help="interaction id (see `catalyst validate --out` or the log)"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Show the latest verdict for one interaction: answer and context passages with supported and
        unsupported spans marked, every check's score and reason."""
        import orjson

        from catalyst.cli._paths import db_for_read, locked
        from catalyst.cli._ui import console, verdict_panel
        from catalyst.errors import StoreLockedError, UserError
        from catalyst.store import Store

        db_for_read(db)
        try:
            v = Store(db, keep_open=False, lock_timeout=2.0).verdict(id)
        except StoreLockedError:
            raise locked(db, reading=True) from None
        if v is None:
            raise UserError(f"no verdict for id `{id}` in `{db}`; list some with "
                            f"`catalyst sql \"SELECT id, decision FROM verdicts ORDER BY created_at DESC LIMIT 10\" "
                            f"--db {db}`")
        if json_out:
            typer.echo(orjson.dumps(v, default=str, option=orjson.OPT_INDENT_2).decode())
            return
        for part in verdict_panel(v):
            console.print(part)
