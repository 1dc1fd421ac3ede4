"""Policy versions on real traffic: ``catalyst replay``, ``compare``, ``canary``, ``promote``, ``rollback``."""

from __future__ import annotations

from typing import Any

import typer


def _show_compare(rep: dict[str, Any]) -> None:
    from rich.table import Table

    from catalyst.cli._ui import console

    console.print(f"run [bold]{rep['run_id']}[/] ({rep['mode']}): {rep['policy']} against {rep['baseline_policy']} "
                  f"on {rep['n']:,} answers ({rep['errors']:,} challenger errors)", highlight=False)
    console.print(f"agreement {rep['agreement']:.1%}; flag rate {rep['baseline_flag_rate']:.1%} → "
                  f"{rep['challenger_flag_rate']:.1%} ({rep['newly_flagged']:,} newly flagged, {rep['unflagged']:,} "
                  f"no longer flagged)", highlight=False)
    t = Table("baseline", "challenger", "answers", title="decisions", title_justify="left")
    for r in rep["confusion"]:
        t.add_row(r["baseline_decision"], r["decision"], f"{r['n']:,}")
    console.print(t)
    if rep["labelled"]:
        t = Table("labels", "n", "accepted error: baseline", "challenger", title="on labelled items",
                  title_justify="left")
        for kind, r in rep["labelled"].items():
            t.add_row(kind, f"{r['n']:,}", "—" if r["baseline_accepted_error"] is None
                      else f"{r['baseline_accepted_error']:.1%}", "—" if r["challenger_accepted_error"] is None
                      else f"{r['challenger_accepted_error']:.1%}")
        console.print(t)
    if rep["differences"]:
        from catalyst.records import confidence_text

        t = Table("id", "baseline", "challenger", title="largest differences", title_justify="left")
        for d in rep["differences"][:10]:
            t.add_row(d["id"], f"{d['baseline_decision']} ({confidence_text(d['baseline_confidence'])})",
                      f"{d['decision']} ({confidence_text(d['confidence'])})")
        console.print(t)
    style = "bold green" if rep["promote"] else "bold yellow"
    console.print(f"promotion: {'YES' if rep['promote'] else 'NO'} — {rep['recommendation']}", style=style,
                  highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def replay(
        policy: str = typer.Option(..., "--policy", help="challenger policy to re-score the logged traffic with"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        since: str = typer.Option("7d", "--since", help="logged traffic of this window: 6h, 7d, 2w"),
        limit: int | None = typer.Option(None, "--limit", min=1, help="at most this many interactions"),
        json_out: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
    ) -> None:
        """Re-score logged interactions with another policy offline, then compare it with what was decided."""
        import orjson

        from catalyst.cli._ui import console
        from catalyst.monitor._sql import Window
        from catalyst.monitor.compare import compare_run
        from catalyst.monitor.versions import replay as run
        from catalyst.store import open_db

        con = open_db(db)
        try:
            summary = run(con, policy, Window.last(since), limit=limit)
            rep = compare_run(con, summary["run_id"])
        finally:
            con.close()
        if json_out:
            typer.echo(orjson.dumps(rep, default=str, option=orjson.OPT_INDENT_2).decode())
            return
        console.print(f"replayed {summary['replayed']:,} interactions with {summary['policy']}", highlight=False)
        _show_compare(rep)

    @app.command()
    def compare(
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        run: str | None = typer.Option(None, "--run", help="replay/shadow run id (default: the latest)"),
        stable: str | None = typer.Option(None, "--stable", help="canary: stable policy version (name@hash)"),
        challenger: str | None = typer.Option(None, "--challenger", help="canary: challenger version (name@hash)"),
        since: str = typer.Option("7d", "--since", help="canary: window to compare"),
        max_flag_increase: float = typer.Option(0.02, "--max-flag-increase",
                                                help="guardrail: extra flag rate the challenger may add"),
        json_out: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Compare a challenger with the baseline: agreement, differences, labelled metrics, promotion test."""
        import orjson

        from catalyst.cli._ui import console
        from catalyst.errors import ConfigError
        from catalyst.monitor._sql import Window
        from catalyst.monitor.compare import compare_canary, compare_run
        from catalyst.store import open_db

        con = open_db(db, read_only=True)
        try:
            if stable or challenger:
                if not (stable and challenger):
                    raise ConfigError("a canary comparison needs both --stable and --challenger versions")
                rep = compare_canary(con, stable, challenger, Window.last(since), max_flag_increase=max_flag_increase)
            else:
                rep = compare_run(con, run, max_flag_increase=max_flag_increase)
        finally:
            con.close()
        if json_out or stable:
            if not json_out:
                console.print_json(orjson.dumps(rep, default=str).decode())
                return
            typer.echo(orjson.dumps(rep, default=str, option=orjson.OPT_INDENT_2).decode())
            return
        _show_compare(rep)

    @app.command()
    def canary(
        policy: str = typer.Option(..., "--policy", help="challenger policy (path or name)"),
        share: float = typer.Option(0.05, "--share", min=0.0, max=1.0, help="share of ids routed to it"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        actor: str | None = typer.Option(None, "--by", help="who"),
    ) -> None:
        """Start or step a canary: record the challenger and its share in the log (read by Canary.from_log)."""
        from catalyst.cli._ui import console
        from catalyst.monitor.versions import load_challenger, record
        from catalyst.store import open_db

        version = load_challenger(policy).policy.version
        con = open_db(db)
        try:
            record(con, "canary", version, source=policy, share=share, actor=actor)
        finally:
            con.close()
        console.print(f"canary: {version} gets {share:.0%} of ids", highlight=False)

    @app.command()
    def promote(
        policy: str = typer.Option(..., "--policy", help="policy to make live (path, name, or name@hash)"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        actor: str | None = typer.Option(None, "--by", help="who promotes"),
        note: str | None = typer.Option(None, "--note", help="why (e.g. the compare result)"),
    ) -> None:
        """Record a policy version as live (ends any canary); `catalyst rollback` undoes it."""
        from catalyst.cli._ui import console
        from catalyst.monitor.versions import promote as run
        from catalyst.store import open_db

        con = open_db(db)
        try:
            version = run(con, policy, actor=actor, note=note)
        finally:
            con.close()
        console.print(f"promoted {version}", highlight=False)

    @app.command()
    def rollback(
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        actor: str | None = typer.Option(None, "--by", help="who rolls back"),
        note: str | None = typer.Option(None, "--note", help="why"),
    ) -> None:
        """Undo the last promotion; the version promoted before it is live again."""
        from catalyst.cli._ui import console
        from catalyst.monitor.versions import rollback as run
        from catalyst.store import open_db

        con = open_db(db)
        try:
            live = run(con, actor=actor, note=note)
        finally:
            con.close()
        console.print(f"rolled back; live now: {live or 'no promoted version (the default you deploy)'}",
                      highlight=False)
