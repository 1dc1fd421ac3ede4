"""``catalyst report``: the health of the log over a window — volume, decisions, latency, errors, model calls,
review backlog, overturns; with drift tests, label-free quality and slices."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        since: str = typer.Option("7d", "--since", help="window to report: 30m, 6h, 7d, 2w (ending now)"),
        by: str = typer.Option("day", "--by", help="time bucket: hour or day"),
        json_out: bool = typer.Option(False, "--json", help="print the report as JSON"),
        html_out: Path | None = typer.Option(None, "--html", help="write a self-contained HTML page with plots"),
        drift: bool | None = typer.Option(None, "--drift/--no-drift",
                                          help="drift tests against the previous window (default: on with --html)"),
        reference: str | None = typer.Option(None, "--reference",
                                             help="drift reference: a duration ending where the window starts "
                                                  "(default: as long as --since)"),
        sla_hours: float = typer.Option(24.0, "--sla-hours", help="review items older than this breach the SLA"),
        min_segment: int = typer.Option(200, "--min-segment", help="segments with fewer verdicts are not judged"),
        seed: int = typer.Option(0, "--seed", help="seed of the drift tests' resampling"),
    ) -> None:
        """Report on the verdict log: trends, latency, errors, review backlog, drift, estimated error, slices."""
        import orjson

        from catalyst.cli._ui import console
        from catalyst.monitor import build_report
        from catalyst.monitor.render import render_html, terminal
        from catalyst.store import open_db

        con = open_db(db, read_only=True)
        try:
            rep = build_report(con, since=since, by=by, sla_hours=sla_hours, db=db,
                               drift=drift if drift is not None else html_out is not None, reference=reference,
                               min_segment=min_segment, seed=seed, plots=html_out is not None or json_out)
        finally:
            con.close()
        if html_out is not None:
            html_out.write_text(render_html(rep), encoding="utf-8")
        if json_out:
            typer.echo(orjson.dumps(rep, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
            return
        for part in terminal(rep):
            console.print(part)
        if html_out is not None:
            console.print(f"wrote {html_out}")
