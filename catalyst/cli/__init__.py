"""The ``catalyst`` command line.

Every module in this package that defines ``register(app: typer.Typer)`` adds its commands; this file
never names them, so command groups (validate, review, eval, serve...) live in their own modules. A command
module imports nothing heavy at its top (numpy, duckdb, pydantic models, the store...): ``--help`` imports
every module, and must stay fast; ``tests/test_cli_help.py`` keeps it so.

Every failure ends as one ``error:`` line on stderr naming the cause and the fix: exit 2 for what the user can
fix (:class:`~catalyst.errors.UserError`, bad options, a path that cannot be used, a log held by another
process), 1 for failures while running, 130 on Ctrl-C. ``--debug`` (or ``CATALYST_DEBUG=1``) shows the
traceback as well.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import typer

_app = typer.Typer(
    name="catalyst",
    help="Make model outputs trustworthy: validate answers, review the doubtful ones, learn from the reviews.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, Any] = {"debug": False}


@_app.callback()
def _root(
    imports: list[str] = typer.Option(
        [], "--import", metavar="MODULE|FILE.py",
        help="import a module of your own checks (`@catalyst.check`) first; repeatable, and accepted after any "
             "command too (`catalyst validate in.jsonl --import mychecks`)"),
    debug: bool = typer.Option(False, "--debug", help="on failure, print the traceback too (or CATALYST_DEBUG=1)"),
) -> None:
    """Make model outputs trustworthy: validate answers, review the doubtful ones, learn from the reviews."""
    _state["debug"] = _state["debug"] or debug
    if imports:
        from catalyst import registry
        from catalyst.errors import PluginError

        for spec in imports:
            try:
                registry.import_plugin(spec)
            except PluginError as e:
                raise PluginError(f"--import {spec}: {e}") from None


_loaded: set[str] = set()


def _register(name: str) -> None:
    if name not in _loaded:
        _loaded.add(name)
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(_app)


def _commands() -> set[str]:
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in _app.registered_commands}
    return names | {g.name or "" for g in _app.registered_groups}


def _plain_help(app: typer.Typer) -> typer.Typer:
    """Help as plain text (click's formatter), for every group: it reads well in pipes and narrow terminals,
    and spares every ``--help`` the import of Rich's Markdown and traceback machinery (about 40% of it)."""
    app.rich_markup_mode = None
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _plain_help(group.typer_instance)
    return app


def _load_commands(wanted: str | None = None) -> typer.Typer:
    """Register the commands. For ``catalyst CMD ...`` the module named CMD is tried first and alone (so
    ``catalyst validate --help`` imports only what validate needs); every module otherwise."""
    modules = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    if wanted in modules:
        _register(wanted)
        if wanted in _commands():
            return _plain_help(_app)
    for name in modules:
        _register(name)
    return _plain_help(_app)


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole CLI (tests, docs): every command registered
        return _load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: root options that may also be written after the command; they are moved in front of it
_HOISTED = ("--import", "--debug")


def hoist_root_options(args: list[str]) -> list[str]:
    """``catalyst validate x --import m`` → ``catalyst --import m validate x`` (stops at ``--``)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        if a == "--debug":
            front.append(a)
        elif a == "--import" and i + 1 < len(args):
            front += [a, args[i + 1]]
            i += 1
        elif a.startswith("--import="):
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def _first_command(args: list[str]) -> str | None:
    i = 0
    while i < len(args):
        if args[i] == "--import":
            i += 2
            continue
        if not args[i].startswith("-"):
            return args[i]
        i += 1
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure prints one ``error:`` line (cause and fix) and exits non-zero."""
    from catalyst.cli._errors import handle

    args = hoist_root_options(list(sys.argv[1:] if argv is None else argv))
    _state["debug"] = "--debug" in args or os.environ.get("CATALYST_DEBUG", "") not in ("", "0")
    try:
        app = _load_commands(_first_command(args))
        rv = app(args, prog_name="catalyst", standalone_mode=False)
    except BaseException as e:  # the one place every failure becomes one line
        sys.exit(handle(e, args, debug=_state["debug"]))
    sys.exit(rv if isinstance(rv, int) else 0)
