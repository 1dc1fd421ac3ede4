"""The ``catalyst`` command line.

Every module in this package that defines ``register(app: typer.Typer)`` adds its commands; this file
never names them, so command groups (validate, review, eval, serve...) live in their own modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from catalyst.errors import UserError

app = typer.Typer(
    name="catalyst",
    help="Make model outputs trustworthy: validate answers, review the doubtful ones, learn from the reviews.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _load_commands() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_load_commands()


def main() -> None:
    """Entry point: user mistakes print one clear line and exit 2, never a traceback."""
    from rich.console import Console

    try:
        app()
    except UserError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, markup=True)
        sys.exit(2)
