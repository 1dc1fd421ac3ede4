"""``catalyst checks list|reference``: what checks are installed, and the generated checks reference.

The reference (``docs/checks.md``) is generated from the registry — each check's ``catches`` and
``cost`` class attributes, its docstring, and its pydantic fields (type, default, description) — so
it cannot drift from the code: a test regenerates it and compares. (The generator lives in
``catalyst.cli._reference``; importing it here would slow every ``--help``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]  # and, lazily, builtin_checks and reference_markdown


def __getattr__(name: str) -> Any:
    if name in ("builtin_checks", "reference_markdown", "HEADER"):
        from catalyst.cli import _reference

        return getattr(_reference, name)
    raise AttributeError(name)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="List installed checks and generate the checks reference.", no_args_is_help=True)
    app.add_typer(group, name="checks")

    @group.command("list")
    def list_cmd(json_out: bool = typer.Option(False, "--json", help="one JSON object per check")) -> None:
        """Installed checks: name, what each catches, its cost, and where it comes from."""
        import orjson

        from catalyst import registry
        from catalyst.cli._ui import console, plain_table

        rows = [{"check": name, "catches": cls.catches, "cost": cls.cost, "costly": cls.costly,
                 "from": registry.origin(name)} for name, cls in registry.all_checks().items()]
        if json_out:
            for r in rows:
                typer.echo(orjson.dumps(r).decode())
            return
        t = plain_table("checks", ["check", "catches", "cost", "costly", "from"])
        for r in rows:
            t.add_row(str(r["check"]), str(r["catches"]), str(r["cost"]), "yes" if r["costly"] else "", str(r["from"]))
        console.print(t)

    @group.command("reference")
    def reference_cmd(
        out: Path | None = typer.Option(None, "--out", "-o", help="write Markdown here (e.g. docs/checks.md)"),
    ) -> None:
        """Generate the checks reference (Markdown) from the registry."""
        from catalyst.cli._reference import builtin_checks, reference_markdown

        text = reference_markdown()
        if out is None:
            typer.echo(text, nl=False)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out} ({len(builtin_checks())} checks)")
