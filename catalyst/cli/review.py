"""``catalyst review``: the review queue from the terminal (Textual), the web (``--web``), and scripts.

* ``catalyst review --db D [--reviewer NAME]``: the keyboard-driven terminal reviewer.
* ``catalyst review --db D --list``: the queue in priority order (SLA breaches flagged), no UI.
* ``catalyst review --db D --web [--host H --port P]``: the web reviewer (``catalyst.review.web``).
* ``catalyst review labels --db D``: labels from final decisions (what calibration reads).
* ``catalyst review resume --db D --policy P``: resume flows whose items were decided but still wait.
* ``catalyst review sla --db D [--policy P]``: report (and notify) items newly past the SLA, once each.
* ``catalyst review token ...``: sign-in tokens for the web reviewer.
"""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import typer
import typer.main
from typer._click import core as click  # typer vendors click
from typer.core import TyperGroup

from catalyst.errors import ConfigError

review_app = typer.Typer(help="Review doubtful answers: terminal UI, web UI, labels.", no_args_is_help=False,
                         invoke_without_command=True)

_DB = typer.Option("catalyst.duckdb", "--db", help="The DuckDB log holding the review queue.")


def _default_reviewer() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no login name (containers): fall back
        name = "reviewer"
    return re.sub(r"[^A-Za-z0-9_.@\-]", "-", name)[:64] or "reviewer"


def _need(db: Path) -> None:
    from catalyst.cli._paths import db_for_read

    db_for_read(str(db))


@review_app.callback()
def review(ctx: typer.Context,
           db: Path = _DB,
           reviewer: str = typer.Option(None, "--reviewer", help="Your name in the audit trail (default: login)."),
           web: bool = typer.Option(False, "--web", help="Serve the web reviewer instead of the terminal UI."),
           host: str = typer.Option("127.0.0.1", "--host", help="--web: interface to listen on."),
           port: int = typer.Option(8765, "--port", help="--web: port."),
           list_: bool = typer.Option(False, "--list", help="Print the queue and exit."),
           lease: float = typer.Option(900.0, "--lease-seconds", help="How long a claim lasts without a decision."),
           sla_hours: float = typer.Option(None, "--sla-hours",
                                           help="Open items older than this are flagged (default: the policy's, "
                                                "else 24)."),
           policy: str = typer.Option(None, "--policy", help="Policy whose review.sla_hours applies."),
           json_out: bool = typer.Option(False, "--json", help="--list: JSON lines instead of a table."),
           ) -> None:
    """Review the queued answers (terminal UI by default)."""
    if ctx.invoked_subcommand is not None:
        return
    _need(db)
    if sla_hours is None:
        from catalyst.validator import as_policy

        sla_hours = as_policy(policy).policy.review.sla_hours if policy else 24.0
    if web:
        from catalyst.review.web.cli import run_web

        run_web(db, host, port, lease_seconds=lease, sla_hours=sla_hours)
        return
    from catalyst.review.queue import ReviewQueue
    from catalyst.store import Store

    queue = ReviewQueue(Store(db, keep_open=False), lease_seconds=lease, sla_hours=sla_hours)
    if list_:
        _print_queue(queue, json_out)
        return
    from catalyst.review._text import check_reviewer

    try:
        from catalyst.review.tui import ReviewApp, require_terminal
    except ImportError as e:
        raise ConfigError(f"the terminal reviewer needs Textual ({e}); `pip install 'catalyst-guard[tui]'`, "
                          "or use `catalyst review --list` / `--web`") from None

    require_terminal()
    app = ReviewApp(queue, check_reviewer(reviewer or _default_reviewer()))
    app.review()
    typer.echo(f"{len(app.decided)} decision(s) saved", err=True)


def _print_queue(queue: object, json_out: bool = False) -> None:
    from rich.text import Text

    from catalyst.cli._ui import console, plain_table
    from catalyst.records import confidence_text
    from catalyst.review._text import visible

    rows = queue.items(limit=500)  # type: ignore[attr-defined]
    if json_out:
        import orjson

        for r in rows:
            typer.echo(orjson.dumps({"id": r.id, "status": r.status, "severity": r.severity,
                                     "confidence": r.confidence, "age_hours": round(r.age_hours, 3),
                                     "sla_breached": r.sla_breached, "held_by": r.claimed_by,
                                     "thread": r.thread_id}).decode())
        return
    counts = queue.counts()  # type: ignore[attr-defined]
    t = plain_table(" · ".join(f"{k} {v}" for k, v in counts.items()),
                    ["id", "status", "sev", "conf", "age h", "SLA", "held by", "thread"])
    for r in rows:
        t.add_row(Text(visible(r.id)), r.status, str(r.severity), confidence_text(r.confidence),
                  f"{r.age_hours:.1f}",
                  Text("BREACH", style="bold red") if r.sla_breached else "", Text(visible(r.claimed_by or "")),
                  Text(visible(r.thread_id or "")))
    console.print(t)


@review_app.command("labels")
def labels(db: Path = _DB, all_: bool = typer.Option(False, "--all", help="Every label, not only the latest per id."),
           json_out: bool = typer.Option(False, "--json", help="JSON lines instead of a table.")) -> None:
    """Labels from final review decisions (approve → 1, reject/correct → 0), for calibration."""
    import orjson

    from catalyst.review.queue import ReviewQueue

    _need(db)
    rows = ReviewQueue(db).labels(latest=not all_)
    if json_out:
        for r in rows:
            typer.echo(orjson.dumps(r, default=str).decode())
        return
    from rich.text import Text

    from catalyst.cli._ui import console, plain_table
    from catalyst.review._text import visible

    t = plain_table(None, ["id", "label", "action", "reviewer", "confidence", "decided at", "corrected output"])
    for r in rows:
        t.add_row(Text(visible(r["id"])), str(r["label"]), r["action"], Text(visible(r["reviewer"])),
                  f"{r['confidence']:.2f}" if r["confidence"] is not None else "", f"{r['decided_at']:%Y-%m-%d %H:%M}",
                  Text(visible((r["corrected_output"] or "")[:80])))
    console.print(t)


@review_app.command("sla")
def sla(db: Path = _DB,
        sla_hours: float = typer.Option(None, "--sla-hours", help="Overrides the policy's review.sla_hours."),
        policy: str = typer.Option(None, "--policy", help="Policy whose review.sla_hours and review.notify apply."),
        ) -> None:
    """Report open items past the SLA once each (and notify, when the policy has a `review.notify` section)."""
    from catalyst.review.notify import Notifier
    from catalyst.review.queue import ReviewQueue
    from catalyst.validator import as_policy

    _need(db)
    compiled = as_policy(policy) if policy else None
    hours = sla_hours or (compiled.policy.review.sla_hours if compiled else 24.0)
    notifier = Notifier.from_policy(compiled) if compiled else None
    breaches = ReviewQueue(db, sla_hours=hours, notifier=notifier).sla_breaches(mark=True)
    for r in breaches:
        typer.echo(f"{r.id}\t{r.age_hours:.1f} h\t{r.status}")
    if notifier is not None:
        notifier.close()
        typer.echo(f"notifications: {notifier.stats}", err=True)
    typer.echo(f"{len(breaches)} item(s) newly past the {hours:g} h SLA", err=True)


@review_app.command("resume")
def resume(db: Path = _DB,
           policy: str = typer.Option(..., "--policy", help="The policy the waiting flows use.")) -> None:
    """Resume validation flows whose review items were decided (e.g. in the terminal UI) but still wait."""
    from catalyst.review.durable import checkpointer
    from catalyst.review.queue import ReviewQueue
    from catalyst.store import Store
    from catalyst.validator import Validator

    _need(db)
    store = Store(db, keep_open=False)
    verdicts = ReviewQueue(store).resume_decided(Validator(policy, store=store, checkpointer=checkpointer(db)))
    for v in verdicts:
        typer.echo(f"{v.id}\t{v.decision}")
    typer.echo(f"{len(verdicts)} flow(s) resumed", err=True)


class _LazyGroup(TyperGroup):
    """``catalyst review token ...``: its commands (and the review package under them) are imported only when
    used, so ``catalyst --help`` stays fast."""

    def _real(self) -> click.Command:
        try:
            from catalyst.review.web.cli import token_app
        except ImportError as e:
            raise ConfigError(f"`catalyst review token` needs the web extra ({e.name} is missing): "
                              "pip install 'catalyst-guard[web]'") from None
        return typer.main.get_group(token_app)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)  # type: ignore[attr-defined,no-any-return]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)  # type: ignore[attr-defined,no-any-return]


def register(app: typer.Typer) -> None:
    review_app.add_typer(typer.Typer(cls=_LazyGroup, no_args_is_help=True,
                                     help="Sign-in tokens for the web reviewer (`catalyst review --web`)."),
                         name="token")
    app.add_typer(review_app, name="review")
