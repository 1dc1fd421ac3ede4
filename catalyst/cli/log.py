"""``catalyst log serve`` / ``catalyst log status``: own the DuckDB log and serve it to every other process."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer

log_app = typer.Typer(help="The shared log: one process owns the DuckDB file, every other goes through it.",
                      no_args_is_help=True)

_DB = typer.Option("catalyst.duckdb", "--db", help="DuckDB log")


def serve_log(db: str, *, host: str = "127.0.0.1", port: int = 0, ready: Any = None,
              stop: threading.Event | None = None, on_write: Any = None) -> None:
    """Hold ``db`` and serve it until ``stop`` is set (or SIGINT/SIGTERM in the main thread)."""
    from catalyst.errors import UserError
    from catalyst.store._connect import open_db
    from catalyst.store._remote import RemoteConnection
    from catalyst.store._server import OwnerServer

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    con = open_db(db)
    if isinstance(con, RemoteConnection):
        owner = con.owner_pid
        con.close()
        raise UserError(f"`{db}` already has an owner (process {owner}, see `{db}.owner`); every process goes "
                        "through it — stop it first to serve from here")
    server = OwnerServer(con, db, host=host, port=port, on_write=on_write).start()
    h, p = server.address
    if ready is not None:
        ready(h, p)
    typer.echo(f"catalyst log owner  {db}  on {h}:{p}  (pid in {db}.owner; Ctrl-C to stop)", err=True)
    try:
        stop.wait()
    finally:
        server.stop()
        con.close()


@log_app.command("serve")
def serve(db: str = _DB,
          host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: other machines too; "
                                                                "they need CATALYST_LOG_OWNER and the token)"),
          port: int = typer.Option(0, "--port", min=0, help="port (0: any free one, written to <db>.owner)")) -> None:
    """Own the log and serve it: validate runs, reviewers, admin commands and queries go through this process."""
    serve_log(db, host=host, port=port)


@log_app.command("status")
def status(db: str = _DB) -> None:
    """Who owns the log now: pid, address, whether it answers."""
    from catalyst.store._remote import connect_owner, pid_alive, read_owner

    info = read_owner(db)
    if info is None:
        typer.echo(f"{db}: no owner (the next process that holds it read-write becomes the owner)")
        return
    con = connect_owner(db, read_only=True)
    if con is None:
        state = "stale (process gone; file removed)" if not pid_alive(info.get("pid")) else "NOT ANSWERING"
        typer.echo(f"{db}: owner pid {info.get('pid')} at {info.get('host')}:{info.get('port')} — {state}")
        return
    con.close()
    typer.echo(f"{db}: owner pid {info.get('pid')} at {info.get('host')}:{info.get('port')} — answering "
               f"(since {info.get('started_at', '?')})")


@log_app.command("ingest")
def ingest_cmd(directory: str = typer.Argument(..., help="directory of Parquet segments (catalyst.store.segments)"),
               db: str = _DB, keep: bool = typer.Option(False, "--keep", help="leave segments in place once logged")
               ) -> None:
    """Log the verdict segments other machines wrote to shared storage, each exactly once."""
    from catalyst.store import Store
    from catalyst.store.segments import ingest

    with Store(db, keep_open=False) as store:
        res = ingest(store, directory, keep=keep)
    typer.echo(f"{res.logged} segment(s) logged ({res.verdicts:,} verdicts), {res.already} already in the log, "
               f"{len(res.bad)} unreadable")
    for b in res.bad:
        typer.echo(f"set aside in {directory}/.bad/: {b}", err=True)
    if res.bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
