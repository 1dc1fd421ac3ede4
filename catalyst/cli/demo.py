"""``catalyst demo``: the main job on embedded defaults — bundled data, default policy, a DuckDB log."""

from __future__ import annotations

from pathlib import Path

import typer


def demo_data() -> Path:
    from importlib.resources import files

    return Path(str(files("catalyst") / "data" / "demo.jsonl"))


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        db: str = typer.Option("catalyst.duckdb", "--db", help="DuckDB log to create or extend"),
        policy: str = typer.Option("default", "--policy", "-p", help="policy file or shipped name"),
        out: Path = typer.Option(Path("catalyst-out/demo-verdicts.jsonl"), "--out", help="verdicts as JSONL"),
        json_out: bool = typer.Option(False, "--json", help="print the results against the labels as JSON lines"),
    ) -> None:
        """Validate 300 bundled HaluEval answers (with context and labels), log them, queue reviews."""
        from catalyst.cli._paths import db_for_write
        from catalyst.cli._ui import console, err, plain_table
        from catalyst.cli.validate import run_validate
        from catalyst.store import Store

        db_for_write(db)  # before the banner: a bad --db is one error line, not a half-started demo
        if json_out:
            console = err  # stdout holds only the JSON
        data = demo_data()
        out.parent.mkdir(parents=True, exist_ok=True)
        console.rule("[bold]Catalyst demo")
        console.print(f"data    {data} (HaluEval sample, MIT; right and hallucinated answers, labelled)")
        console.print(f"policy  {policy}\nlog     {db}\n")
        res = run_validate(data, policy, db, out, skip_bad=False, resume=False, batch_size=500, rerun=True,
                           quiet=json_out)
        store = Store(db, keep_open=False)
        rows = store.query("""
            WITH last AS (SELECT v.id, v.decision, v.confidence, i.label, v.policy FROM verdicts v
                          JOIN interactions i USING (verdict_id) WHERE v.policy = ?)
            SELECT label, count(*) AS n, avg(confidence) AS conf,
                   count(*) FILTER (decision = 'accept') AS accept,
                   count(*) FILTER (decision = 'review') AS review,
                   count(*) FILTER (decision = 'block') AS block
            FROM last GROUP BY label ORDER BY label DESC""", [res["policy"]])
        if json_out:
            import orjson

            for r in rows:
                typer.echo(orjson.dumps(r, default=str).decode())
            return
        t = plain_table("Against the labels (1 = right answer, 0 = hallucinated)",
                        ["label", "records", "mean confidence", "accept", "review", "block"],
                        right=("label", "records", "mean confidence", "accept", "review", "block"))
        for r in rows:
            conf = "—" if r["conf"] is None else f"{r['conf']:.3f}"
            t.add_row(str(r["label"]), str(r["n"]), conf, str(r["accept"]), str(r["review"]), str(r["block"]))
        console.print(t)
        queued = store.query("SELECT count(*) AS n FROM review_items WHERE status = 'pending'")[0]["n"]
        example = store.query("SELECT id FROM review_items ORDER BY severity DESC, confidence LIMIT 1")
        console.print(f"[bold]{queued}[/] items wait in the review queue · verdicts also in {out}")
        console.rule("next")
        ex = example[0]["id"] if example else "<id>"
        console.print(f"  catalyst show {ex} --db {db}      # one verdict with its evidence")
        console.print(f"  catalyst review --db {db}              # work through the review queue")
        console.print(f"  catalyst eval {data} --policy {policy}   # metrics against the labels")
        console.print(f"  catalyst sql \"SELECT decision, count(*) FROM verdicts GROUP BY 1\" --db {db}")
