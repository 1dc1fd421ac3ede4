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

app = typer.Typer(
    name="catalyst",
    help="Make model outputs trustworthy: validate answers, review the doubtful ones, learn from the reviews.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, Any] = {"debug": False}


@app.callback()
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


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_load_commands()

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


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure prints one ``error:`` line (cause and fix) and exits non-zero."""
    from catalyst.cli._errors import handle

    args = hoist_root_options(list(sys.argv[1:] if argv is None else argv))
    _state["debug"] = "--debug" in args or os.environ.get("CATALYST_DEBUG", "") not in ("", "0")
    try:
        rv = app(args, prog_name="catalyst", standalone_mode=False)
    except BaseException as e:  # the one place every failure becomes one line
        sys.exit(handle(e, args, debug=_state["debug"]))
    sys.exit(rv if isinstance(rv, int) else 0)
