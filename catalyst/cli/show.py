"""``catalyst show ID``: one verdict with its check results and evidence."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def show(
        id: str = typer.Argument(..., help="interaction id (see `catalyst validate --out` or the log)"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Show the latest verdict for one interaction, with evidence highlighted."""
        import orjson

        from catalyst.cli._ui import console, verdict_panel
        from catalyst.errors import UserError
        from catalyst.store import Store

        v = Store(db, keep_open=False).verdict(id)
        if v is None:
            raise UserError(f"no verdict for id `{id}` in `{db}`; list some with "
                            f"`duckdb {db} \"SELECT id, decision FROM verdicts LIMIT 10\"`")
        if json_out:
            typer.echo(orjson.dumps(v, default=str, option=orjson.OPT_INDENT_2).decode())
            return
        for part in verdict_panel(v):
            console.print(part)
