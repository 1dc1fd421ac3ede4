"""``catalyst policy schema|check``."""

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
        from catalyst.cli._paths import writable_file
        from catalyst.policy import schema

        text = json.dumps(schema(), indent=2)
        if out:
            writable_file(out, "--out").write_text(text + "\n")
        else:
            typer.echo(text)

    @group.command("check")
    def check_cmd(
        files: list[Path] = typer.Argument(..., help="policy files (or shipped names)"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object per file instead of tables"),
    ) -> None:
        """Validate policy files: report EVERY problem of each (file:line and the fix); exit 2 if any."""
        from catalyst.cli._errors import one_line
        from catalyst.cli._ui import console, plain_table
        from catalyst.errors import PolicyError
        from catalyst.policy._problems import policy_problems

        failed = 0
        for f in files:
            compiled, problems = policy_problems(f)
            if json_out:
                doc: dict[str, object] = {"file": str(f), "ok": not problems,
                                          "problems": [{"where": getattr(p, "where", None), "message": one_line(str(p))}
                                                       for p in problems]}
                if compiled is not None:
                    doc |= {"version": compiled.version, "checks": [
                        {"check": s.check.name, "as": s.label, "weight": s.weight,
                         "on_fail": s.on_fail.value if s.on_fail else None, "costly": s.costly,
                         "settings": s.check.model_dump(mode="json", exclude_defaults=True)}
                        for s in compiled.default.steps]}
                typer.echo(json.dumps(doc))
            elif problems:
                for p in problems:
                    typer.echo(f"error: {one_line(str(p))}", err=True)
            else:
                assert compiled is not None
                t = plain_table(f"{f} ✓ {compiled.version}", ["check", "as", "weight", "on fail", "costly", "settings"])
                for step in compiled.default.steps:
                    cfg = step.check.model_dump(mode="json", exclude_defaults=True)
                    t.add_row(step.check.name, step.label, f"{step.weight:g}",
                              step.on_fail.value if step.on_fail else "—", "yes" if step.costly else "no",
                              json.dumps(cfg))
                th = compiled.default.thresholds
                console.print(t)
                console.print(f"  accept ≥ {th.accept}, block < {th.block}, review between · "
                              f"aggregate {compiled.policy.aggregate} · {len(compiled.overrides)} segment override(s)"
                              + (f" · plugins {', '.join(compiled.policy.plugins)}" if compiled.policy.plugins else ""))
            failed += bool(problems)
        if failed:
            if not json_out:
                typer.echo(f"{failed} of {len(files)} polic{'y' if len(files) == 1 else 'ies'} invalid", err=True)
            raise typer.Exit(PolicyError.exit_code)
