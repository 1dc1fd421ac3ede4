"""``catalyst policy schema|check|show``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect and validate policies.", no_args_is_help=True)
    app.add_typer(group, name="policy")

    @group.command("schema")
    def schema_cmd(out: Path | None = typer.Option(None, "--out", "-o", help="write to a file")) -> None:
        """Print the JSON schema of policy files (with every registered check's settings)."""
        from catalyst.policy import schema

        text = json.dumps(schema(), indent=2)
        if out:
            out.write_text(text + "\n")
        else:
            typer.echo(text)

    @group.command("check")
    def check_cmd(files: list[Path] = typer.Argument(..., help="policy files")) -> None:
        """Validate policy files: load, compile every check; exit 2 with file:line and a fix on error."""
        from rich.table import Table

        from catalyst.cli._ui import console
        from catalyst.policy import load_policy

        for f in files:
            p = load_policy(f)
            t = Table(title=f"{f} ✓ {p.version}", title_justify="left")
            for col in ("check", "as", "weight", "on fail", "costly", "settings"):
                t.add_column(col)
            for step in p.default.steps:
                cfg = step.check.model_dump(exclude_defaults=True)
                t.add_row(step.check.name, step.label, f"{step.weight:g}",
                          step.on_fail.value if step.on_fail else "—", "yes" if step.costly else "no",
                          json.dumps(cfg)[:80])
            th = p.default.thresholds
            console.print(t)
            console.print(f"  accept ≥ {th.accept}, block < {th.block}, review between · "
                          f"aggregate {p.policy.aggregate} · {len(p.overrides)} segment override(s)")
