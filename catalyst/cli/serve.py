"""``catalyst serve --upstream URL``: the validating OpenAI-compatible proxy (see :mod:`catalyst.proxy`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        upstream: str = typer.Option(..., "--upstream", "-u",
                                     help="the OpenAI-compatible endpoint to validate, e.g. http://127.0.0.1:8000/v1"),
        policy: str = typer.Option("default", "--policy", "-p", help="policy file or shipped name"),
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log; this process owns it while it runs"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
        port: int = typer.Option(8080, "--port", help="port to listen on"),
        flush_interval: float = typer.Option(1.0, "--flush-interval", min=0.0,
                                             help="seconds between log writes; a crash loses at most this much"),
        timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="seconds per upstream attempt"),
        max_retries: int = typer.Option(2, "--max-retries", min=0,
                                        help="upstream retries on 408/409/429/5xx (not 501/505), timeouts and "
                                             "dropped connections (catalyst.llm's retry rule)"),
        stream_checks: str = typer.Option("", "--stream-checks",
                                          help="comma-separated checks (block rules) run on stream chunks to cut "
                                               "a stream off, e.g. denylist,secrets"),
        retry: bool = typer.Option(True, "--retry/--no-retry", help="re-ask upstream on `retry` decisions"),
        evidence: bool = typer.Option(False, "--evidence", help="include evidence spans in the `catalyst` field"),
        max_body_bytes: int = typer.Option(4 << 20, "--max-body-bytes", min=1024,
                                           help="largest request body accepted (bytes); a larger one gets a 413 "
                                                "before it is read or sent upstream"),
    ) -> None:
        """Validate every answer of an OpenAI-compatible endpoint: point your app's base_url here."""
        try:
            import uvicorn

            from catalyst.proxy import ProxyConfig, create_app
        except ImportError as e:
            from catalyst.errors import ConfigError

            raise ConfigError(f"`catalyst serve` needs the serve extra ({e.name} is missing): "
                              "pip install 'catalyst-guard[serve]'") from None
        from catalyst.cli._ui import console

        cfg = ProxyConfig(upstream=upstream, policy=policy, db=db, flush_interval=flush_interval, timeout=timeout,
                          max_retries=max_retries, retry=retry, evidence=evidence, max_body_bytes=max_body_bytes,
                          stream_checks=[s.strip() for s in stream_checks.split(",") if s.strip()])
        app_ = create_app(cfg)  # fails now (bad policy, bad URL, locked log), before listening
        app_.state.proxy.open_log()
        console.print(f"catalyst proxy  http://{host}:{port}/v1  →  {upstream}   policy "
                      f"{app_.state.proxy.guard.policy.version}   log {db} (flushed every {flush_interval:g}s)")
        uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)
