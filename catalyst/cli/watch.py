"""``catalyst watch``: evaluate the policy's alert rules against the log, once or on a schedule."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def watch(
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log"),
        policy: str = typer.Option("default", "--policy", help="policy whose `alerts:` rules (and notify) to use"),
        once: bool = typer.Option(False, "--once", help="evaluate once and exit (for cron)"),
        every: str = typer.Option("5m", "--every", help="interval between evaluations: 30s is too often; 1m, 5m, 1h"),
        sla_hours: float = typer.Option(24.0, "--sla-hours", help="review SLA for the sla_breaches metric"),
    ) -> None:
        """Check alert rules; fire and recover alerts through the policy's webhooks; log every firing."""
        import threading

        from catalyst.cli._ui import console
        from catalyst.errors import ConfigError
        from catalyst.monitor._sql import parse_duration
        from catalyst.monitor.alerts import alert_notifier, evaluate
        from catalyst.policy import load_policy
        from catalyst.store import open_db

        compiled = load_policy(policy)
        rules = compiled.policy.alerts
        if not rules:
            raise ConfigError(f"policy `{policy}` has no `alerts:` rules; add one, e.g. "
                              "`alerts: [{name: flags, metric: flag_rate, threshold: 0.3, window: 1h}]`")
        interval = parse_duration(every, what="--every").total_seconds()
        notifier = alert_notifier(compiled)
        stop = threading.Event()
        try:
            while True:
                con = open_db(db)
                try:
                    results = evaluate(con, rules, sla_hours=sla_hours, notifier=notifier)
                finally:
                    con.close()
                for r in results:
                    style = {"fired": "bold red", "recovered": "bold green"}.get(r.event or "",
                                                                                 "dim" if r.breach is None else "")
                    console.print(r.message, style=style or None, highlight=False)
                if once or stop.wait(interval):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if notifier is not None:
                notifier.close()
