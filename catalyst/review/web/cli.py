"""Command-line pieces of the web reviewer, mounted by ``catalyst/cli/review.py``.

* ``token_app``: ``catalyst review token add NAME [--role reviewer|admin] [--replace]``, ``token list``,
  ``token revoke NAME`` — accounts for the web reviewer (the token is printed once; only its hash is kept).
* ``run_web(db, host, port, ...)``: what ``catalyst review --web`` calls.
"""

from __future__ import annotations

from pathlib import Path

import typer

from catalyst.errors import ConfigError

token_app = typer.Typer(help="Sign-in tokens for the web reviewer (`catalyst review --web`).", no_args_is_help=True)

_DB = typer.Option("catalyst.duckdb", "--db", help="The DuckDB log holding the review queue.")


def _con(db: Path):  # type: ignore[no-untyped-def]
    from catalyst.store import Store

    if str(db) != ":memory:" and not Path(db).exists():
        raise ConfigError(f"no Catalyst log at `{db}`; pass --db (the file `catalyst validate` writes)")
    return Store(db, keep_open=False).connect()


@token_app.command("add")
def token_add(name: str = typer.Argument(..., help="Reviewer name, as it will appear in the audit trail."),
              role: str = typer.Option("reviewer", "--role", help="reviewer (claim, decide) or admin (also audit, "
                                                                  "reassign)."),
              replace: bool = typer.Option(False, "--replace", help="Issue a new token for an existing reviewer."),
              db: Path = _DB) -> None:
    """Create a reviewer and print their sign-in token (shown only this once)."""
    from catalyst.review.web import auth

    with _con(db) as con:
        token = auth.add_user(con, name, role, replace=replace)
    typer.echo(token)
    typer.echo(f"# token for {name} ({role}); give it to them privately — it is not stored and cannot be shown "
               "again", err=True)


@token_app.command("list")
def token_list(db: Path = _DB) -> None:
    """Reviewers with a token (names and roles; tokens are never shown)."""
    from catalyst.review.web import auth

    with _con(db) as con:
        users = auth.list_users(con)
    for u in users:
        state = f"revoked {u['revoked_at']:%Y-%m-%d}" if u["revoked_at"] else "active"
        typer.echo(f"{u['name']}\t{u['role']}\t{state}")


@token_app.command("revoke")
def token_revoke(name: str, db: Path = _DB) -> None:
    """Disable a reviewer's token and end their sessions (their past decisions keep their name)."""
    from catalyst.review.web import auth

    with _con(db) as con:
        auth.revoke_user(con, name)
    typer.echo(f"revoked {name}")


def run_web(db: str | Path, host: str = "127.0.0.1", port: int = 8765, *, lease_seconds: float = 900.0,
            sla_hours: float = 24.0) -> None:
    """``catalyst review --web``: serve the web reviewer until Ctrl-C."""
    from catalyst.review.web import serve

    if str(db) != ":memory:" and not Path(db).exists():
        raise ConfigError(f"no Catalyst log at `{db}`; pass --db (the file `catalyst validate` writes)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host}: tokens and cookies travel in clear text unless a TLS proxy is in "
                   "front (then set cookie_secure)", err=True)
    typer.echo(f"Catalyst web reviewer on http://{host}:{port}/  (db {db}; Ctrl-C to stop). "
               "Create a token with: catalyst review token add NAME --role admin", err=True)
    serve(db, host, port, lease_seconds=lease_seconds, sla_hours=sla_hours)
