"""``catalyst eval``, ``catalyst calibrate``, ``catalyst tune``: measure, calibrate, and set thresholds.

Scores come from the data when it carries them (``checks`` per line: replayed under the policy without
re-running checks), or from validating raw labelled records with the policy. Answers no evidence check scored
(``evidence: none``) have no confidence: ``eval`` reports them apart, ``calibrate`` and ``tune`` fit on the
verified ones and say how many they left out. Each command prints tables (never cut when piped) or, with
``--json``, one JSON document on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from catalyst.cli._ui import console, err
from catalyst.errors import ConfigError, UserError

if TYPE_CHECKING:  # heavy imports stay inside the functions: `catalyst --help` must start fast
    import numpy as np
    from rich.table import Table

__all__ = ["register", "scores_for"]


def scores_for(data: Any, policy: Any, *, calibrated: bool = True) -> tuple[Any, np.ndarray, np.ndarray, str]:
    """(data, confidence, decision, how) for a policy: replayed from check scores, validated, or as logged."""
    from catalyst.evaluation import rescore

    labels = [st.label for st in policy.default.steps]
    if any(lab in data.check_names for lab in labels):
        conf, dec = rescore(data, policy, calibrator="policy" if calibrated else None)
        return data, conf, dec, "check scores in the data, aggregated by the policy"
    if data.has_raw_only:
        raise ConfigError("records carry no scores; validate them (scored_from_records) first")
    return data, data.confidence, data.decision, "the `confidence` logged in the data (policy checks absent)"


def _show(*renderables: Any) -> None:
    """Print tables whole: on a terminal at its width; piped or redirected, never cut (``accep…``) to 80."""
    from rich.console import Console
    from rich.table import Table
    if console.is_terminal:
        console.print(*renderables)
        return
    wide = Console(file=sys.stdout, width=1000, color_system=None, soft_wrap=False)
    for r in renderables:
        need = wide.measure(r).maximum if isinstance(r, Table) else 1000
        Console(file=sys.stdout, width=max(80, need), color_system=None).print(r)


def _emit_json(obj: Any) -> None:
    import orjson
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")


def _validated(path: Path, policy: Any) -> Any:
    """Raw labelled records (no scores), validated now with the policy, as scored columns."""
    import orjson

    from catalyst.evaluation import scored_from_records

    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    with err.status(f"validating {len(records)} records with {policy.version}"):
        return scored_from_records(records, policy)


def _load(path: Path, policy: Any) -> tuple[Any, np.ndarray, np.ndarray, str]:
    from catalyst.evaluation import load_jsonl

    data = load_jsonl(path)
    if data.has_raw_only:
        data = _validated(path, policy)
        return data, data.confidence, data.decision, "validated now with the policy"
    return scores_for(data, policy)


def _headline(report: dict[str, Any], title: str) -> Table:
    from rich.table import Table
    o = report["overall"]
    base = report["baseline"]["length"]
    t = Table(title=title, title_justify="left")
    t.add_column("metric")
    t.add_column("confidence", justify="right")
    t.add_column("length alone", justify="right")
    b = (lambda k: f"{base[k]:.3f}") if base else (lambda k: "–")
    st = report["settings"]
    rows = [("AUROC", f"{o['auroc']:.3f}", b("auroc")), ("AUPRC (errors)", f"{o['auprc_error']:.3f}", "–"),
            ("accuracy @ 80% coverage", f"{o['accuracy_at_80']:.3f}", b("accuracy_at_80")),
            ("AURC (lower better)", f"{o['aurc']:.3f}", b("aurc")), ("Brier", f"{o['brier']:.3f}", "–"),
            (f"ECE ({st['n_bins']} {st['binning']} bins)", f"{o['ece']:.3f}", "–"),
            ("accuracy, accept all", f"{o['accuracy']:.3f}", "–")]
    rt = o["review_for_target"]
    rows.append((f"review rate for error ≤ {rt['target_error']:.0%}",
                 f"{rt['review_rate']:.1%}" + (f" (accept ≥ {rt['threshold']:.3f})" if rt["achievable"] else
                                                " (not reachable)"), "–"))
    dec = report.get("decisions")
    if dec:
        rows.append(("accept / review / block", f"{dec['accept_rate']:.1%} / {dec['review_rate']:.1%} / "
                     f"{dec['block_rate']:.1%}", "–"))
        if dec["precision_accepted"] is not None:
            rows.append(("precision of accepted", f"{dec['precision_accepted']:.3f}", "–"))
    un = report.get("unverified")
    if un and un["n"]:
        acc = "–" if un["accuracy"] is None else f"{un['accuracy']:.3f}"
        ud = un["decisions"] or {}
        rows.append(("not verified (evidence: none)", f"{un['n']} ({un['share']:.1%}), accuracy {acc}",
                     "not in the confidence metrics"))
        rows.append(("  their accept / review / block", f"{ud.get('accept_rate', 0):.1%} / "
                     f"{ud.get('review_rate', 0):.1%} / {ud.get('block_rate', 0):.1%}", "–"))
    for r in rows:
        t.add_row(*r)
    return t


def _print_report(report: dict[str, Any]) -> None:
    from rich.table import Table
    n_ver, n_lab = report.get("n_verified", report["n_labelled"]), report["n_labelled"]
    counted = f"{n_lab} labelled records" + (f", {n_ver} verified" if n_ver != n_lab else "")
    _show(_headline(report, f"{report.get('policy', '')} — {counted}"))
    if report["checks"]:
        t = Table(title="per check", title_justify="left")
        for c in ("check", "AUROC", "scored"):
            t.add_column(c)
        for k, v in report["checks"].items():
            t.add_row(k, f"{v['auroc']:.3f}" if "auroc" in v else v.get("note", "–"), f"{v['coverage']:.0%}")
        _show(t)
    for key, seg in report["segments"].items():
        t = Table(title=f"segment {key}", title_justify="left")
        for c in ("value", "n", "accuracy", "AUROC", "ECE", "flag"):
            t.add_column(c)
        for r in seg["values"]:
            flag = ""
            if r.get("flagged"):
                flag = ("[bold red]most different[/] " if r.get("most_different") else "[red]differs[/] ") + \
                    f"{r['worst_metric']} {r['delta'][r['worst_metric']]:+.3f}"
            elif r.get("most_different"):
                gap = f"{r['worst_metric']} {r['delta'][r['worst_metric']]:+.3f}"
                flag = f"[dim]largest gap ({gap}), within tolerance[/]"
            elif r.get("status") == "too_small":
                flag = "[dim]too small to compare[/]"
            elif r.get("status") == "single_class":
                flag = "[dim]one class only[/]"
            vals = [f"{r[k]:.3f}" if r.get(k) is not None else "–" for k in ("accuracy", "auroc", "ece")]
            t.add_row(str(r["value"]), str(r["n"]), *vals, flag)
        _show(t)


def run_eval(data_path: Path, policy_ref: str, out: Path | None, *, as_json: bool = False,
             **options: Any) -> dict[str, Any]:
    import orjson

    from catalyst.evaluation import evaluate
    from catalyst.evaluation.html import render_html
    from catalyst.policy import load_policy

    policy = load_policy(policy_ref)
    data, conf, dec, how = _load(data_path, policy)
    data.decision = dec
    report = evaluate(data, conf, **options)
    report["policy"] = policy.version
    report["scores_from"] = how
    report["data"] = str(data_path)
    if as_json:
        _emit_json(report)
    else:
        _print_report(report)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        (out / "report.html").write_text(render_html(report, title=f"Catalyst evaluation: {policy.version}"),
                                         encoding="utf-8")
        (err if as_json else console).print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    return report


def _cal_table(cal: Any) -> Table:
    from rich.table import Table
    t = Table(title=f"calibration by {cal.metrics.get('folds', '?')}-fold cross-validation "
                    f"({cal.n_labels} labels)", title_justify="left")
    for c in ("method", "Brier", "log loss", "ECE", ""):
        t.add_column(c)
    for m, v in cal.metrics.get("cv", {}).items():
        t.add_row(m, f"{v['brier']:.4f}", f"{v['log_loss']:.4f}", f"{v['ece']:.4f}",
                  "[bold green]chosen[/]" if m == cal.method else ("reference" if m == "identity" else ""))
    return t


def _calibration_data(policy: Any, db: str | None, data_path: Path | None) -> Any:
    """Labelled scored rows: from ``--data`` (raw records are validated first, as ``eval`` does) or the log."""
    from catalyst.evaluation import load_jsonl, load_store
    from catalyst.store import Store

    if data_path is not None:
        data = load_jsonl(data_path)
        data.labelled()  # no label anywhere: say so before validating anything
        if data.has_raw_only:
            data = _validated(data_path, policy)
    else:
        assert db is not None
        with Store(db) as st, st.connect() as con:
            data = load_store(con, policy=policy.name)
    return data.labelled()


def run_calibrate(policy_ref: str, db: str | None, data_path: Path | None, method: str, write: Path | None,
                  rollback: bool = False, *, as_json: bool = False) -> Any:
    import numpy as np
    import orjson

    from catalyst import calibration
    from catalyst.calibration import store as cal_store
    from catalyst.policy import load_policy
    from catalyst.store import Store

    policy = load_policy(policy_ref)
    say = err if as_json else console
    if rollback:
        if not db:
            raise ConfigError("--rollback needs --db (the log that keeps calibrator versions)")
        with Store(db) as st, st.connect() as con:
            cal = cal_store.rollback(con, policy.name)
        say.print(f"active calibrator for `{policy.name}` is now {cal.id} ({cal.method})")
    else:
        if data_path is None and db is None:
            raise ConfigError("give --db LOG (labels from the log) or --data FILE (labelled JSONL: verdicts with "
                              "scores, or raw records, which are validated first)")
        data = _calibration_data(policy, db, data_path)
        _, conf, _, how = scores_for(data, policy, calibrated=False)
        # a calibrator maps evidence to a probability: it is fitted on the answers evidence checks scored
        verified = np.isfinite(conf)
        skipped = int((~verified).sum())
        if not verified.any():
            raise ConfigError(f"none of the {len(data)} labelled records was verified (evidence: none): the "
                              f"policy's evidence checks ({', '.join(sorted(policy.default.evidence)) or 'none'}) "
                              "have no scores there; give records with context, or add an evidence check")
        data, conf = data.take(verified), conf[verified]
        labels = sorted(policy.default.evidence)
        cols = {lab: data.score(lab) for lab in labels if lab in data.check_names}
        if method == "auto":
            cal = calibration.choose(data.label, conf, cols)
        else:
            cal = calibration.fit(method, data.label, conf, cols)
            cal.metrics["chosen"] = method
        cal.policy = policy.name
        cal.metrics["scores_from"] = how
        cal.metrics["unverified_left_out"] = skipped
        if skipped:
            err.print(f"[yellow]{skipped} labelled records were not verified (evidence: none) and are left out: "
                      "on_unverified decides those, not the calibrator[/]")
        if db:
            with Store(db) as st, st.connect() as con:
                cal = cal_store.save(con, cal, policy=policy.name)
            say.print(f"stored calibrator [bold]{cal.id}[/] in {db} (parent: {cal.parent_id or 'none'})")
        else:
            import hashlib
            from datetime import UTC, datetime

            cal.id = "cal-" + hashlib.blake2b(orjson.dumps([cal.method, cal.params, datetime.now(UTC).isoformat()]),
                                              digest_size=6).hexdigest()
            err.print("[yellow]not stored in a log (no --db): the policy file carries it, but there is no "
                      "version history to roll back to[/]")
        if not as_json:
            _show(_cal_table(cal) if "cv" in cal.metrics else f"fitted {cal.method}: {cal.metrics['train']}")
    if write is not None:
        from catalyst.evaluation import write_policy

        write_policy(policy, {"calibration": cal.to_policy()}, write,
                     f"calibration {cal.id} ({cal.method}, {cal.n_labels} labels) by `catalyst calibrate`")
        say.print(f"wrote policy {write} using calibrator {cal.id}")
    if as_json:
        _emit_json(cal.to_dict())
    return cal


def run_tune(policy_ref: str, data_path: Path, target_precision: float | None, review_budget: float | None,
             block_max_correct: float, write: Path | None, *, as_json: bool = False) -> dict[str, Any]:
    import numpy as np
    from rich.table import Table

    from catalyst.evaluation import load_jsonl
    from catalyst.evaluation.tuning import Thresholds as Th
    from catalyst.evaluation.tuning import hash_split, outcome, tradeoff_warnings, tune
    from catalyst.policy import load_policy

    policy = load_policy(policy_ref)
    data = load_jsonl(data_path)
    if data.has_raw_only:
        data, conf, _, _ = _load(data_path, policy)
    else:
        _, conf, _, _ = scores_for(data, policy)
    lab = data.label >= 0
    data = data.labelled()
    conf = conf[lab]
    verified = np.isfinite(conf)  # thresholds act on a confidence; unverified answers follow on_unverified
    n_unverified = int((~verified).sum())
    if not verified.any():
        raise ConfigError(f"none of the {len(data)} labelled records was verified (evidence: none); thresholds "
                          "have nothing to act on (on_unverified decides them all)")
    data, conf = data.take(verified), conf[verified]
    y = data.label
    goal: dict[str, Any] = {"target_precision": target_precision, "review_budget": review_budget,
                            "block_max_correct": block_max_correct}
    th = tune(y, conf, **goal)
    test = hash_split(data.ids)
    est = th_half = None
    if test.sum() >= 20 and (~test).sum() >= 20 and len(set(y[~test].tolist())) == 2:
        th_half = tune(y[~test], conf[~test], **goal)
        est = outcome(y[test], conf[test], th_half)
    cur = policy.default.thresholds
    now = outcome(y, conf, Th(cur.accept, cur.block))
    new = outcome(y, conf, th)
    warnings = tradeoff_warnings(goal, now, new, est)
    if not th.achievable:
        warnings.insert(0, f"no threshold reaches precision {target_precision}: everything not blocked would go "
                           "to review")
    asked = f"precision ≥ {target_precision}" if target_precision is not None else f"review ≤ {review_budget:.0%}"
    tradeoff = (f"asked {asked}; got accept ≥ {th.accept:.3f}, block < {th.block:.3f}: accept {new.accept_rate:.1%}"
                f", review {new.review_rate:.1%}, block {new.block_rate:.1%}, precision of accepted "
                + ("–" if new.precision_accepted is None else f"{new.precision_accepted:.3f}")
                + (f" (held-out {est.precision_accepted:.3f})" if est and est.precision_accepted is not None else ""))
    result = {"thresholds": th.to_dict(), "current": now.to_dict(), "tuned": new.to_dict(),
              "held_out": est.to_dict() if est else None, "goal": goal, "tradeoff": tradeoff,
              "warnings": warnings, "n_labelled": int(lab.sum()), "n_unverified": n_unverified}
    if as_json:
        _emit_json(result)
    else:
        t = Table(title=f"expected outcome on {len(y)} labelled records ({policy.version})", title_justify="left",
                  caption="held-out: thresholds tuned on one half (split by id hash), measured on the other half",
                  caption_justify="left")
        for c in ("", "accept ≥", "block <", "accept", "review", "block", "prec. accepted", "correct blocked"):
            t.add_column(c, justify="right", no_wrap=True)

        def row(name: str, a: float, b: float, o: Any) -> None:
            p = "–" if o.precision_accepted is None else f"{o.precision_accepted:.3f}"
            cb = "–" if o.correct_blocked is None else f"{o.correct_blocked:.3f}"
            t.add_row(name, f"{a:.3f}", f"{b:.3f}", f"{o.accept_rate:.1%}", f"{o.review_rate:.1%}",
                      f"{o.block_rate:.1%}", p, cb)

        row("current", cur.accept, cur.block, now)
        row("tuned", th.accept, th.block, new)
        if est is not None and th_half is not None:
            row("held-out", th_half.accept, th_half.block, est)
        _show(t)
        console.print(f"trade-off: {tradeoff}", soft_wrap=True)
    for w in warnings:
        err.print(f"[yellow]warning: {w}[/]", soft_wrap=True)
    if n_unverified:
        err.print(f"[yellow]{n_unverified} labelled records were not verified (evidence: none): on_unverified "
                  f"decides them, not these thresholds[/]", soft_wrap=True)
    if write is not None:
        from catalyst.evaluation import write_policy

        write_policy(policy, {"thresholds": th.for_policy()}, write,
                     "thresholds tuned by `catalyst tune` for "
                     + (f"precision {target_precision}" if target_precision else f"review budget {review_budget}"))
        (err if as_json else console).print(f"wrote policy {write}")
    return result


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        data: Path = typer.Argument(..., help="labelled JSONL: verdicts with `checks` and `label`, or raw records"),
        policy: str = typer.Option(..., "--policy", "-p", help="policy file or shipped name"),
        out: Path | None = typer.Option(None, "--out", "-o", help="directory for report.json and report.html"),
        binning: str = typer.Option("width", "--binning", help="ECE bins: width (equal-width) or mass (equal-count)"),
        bins: int = typer.Option(10, "--bins", min=2, max=100, help="ECE bins"),
        target_error: float = typer.Option(0.05, "--target-error", min=0.0, max=0.99,
                                           help="error of accepted answers the review rate must keep under"),
        min_segment: int = typer.Option(30, "--min-segment", min=1, help="segments smaller are 'too small'"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON instead of tables"),
    ) -> None:
        """Measure confidence on labelled answers: AUROC, calibration, risk-coverage, checks, segments."""
        if binning not in ("width", "mass"):
            raise ConfigError(f"--binning must be `width` or `mass`, got `{binning}`")
        run_eval(data, policy, out, as_json=as_json, binning=binning, n_bins=bins, target_error=target_error,
                 min_segment=min_segment)

    @app.command()
    def calibrate(
        policy: str = typer.Option(..., "--policy", "-p", help="policy whose aggregate is calibrated"),
        db: str | None = typer.Option(None, "--db", help="DuckDB log: labels from it, and versions stored in it"),
        data: Path | None = typer.Option(None, "--data", help="labelled JSONL instead of the log's labels: "
                                         "verdicts with scores, or raw records (validated first)"),
        method: str = typer.Option("auto", "--method", help="auto (cross-validated), isotonic, platt, logistic"),
        write: Path | None = typer.Option(None, "--write", help="write a new policy file that uses the calibrator"),
        rollback: bool = typer.Option(False, "--rollback", help="re-activate the previous calibrator (needs --db)"),
        as_json: bool = typer.Option(False, "--json", help="print the calibrator (and its metrics) as JSON"),
    ) -> None:
        """Fit a calibrator from labels, store it versioned in the log, and reference it from a new policy."""
        if method not in ("auto", "isotonic", "platt", "logistic"):
            raise ConfigError(f"--method must be auto, isotonic, platt or logistic, got `{method}`")
        run_calibrate(policy, db, data, method, write, rollback, as_json=as_json)

    @app.command()
    def tune(
        policy: str = typer.Option(..., "--policy", "-p", help="policy to tune"),
        data: Path = typer.Option(..., "--data", help="labelled JSONL (verdicts with checks, or raw records)"),
        target_precision: float | None = typer.Option(None, "--target-precision", help="e.g. 0.95"),
        review_budget: float | None = typer.Option(None, "--review-budget", help="e.g. 0.10 = at most 10%"),
        block_max_correct: float = typer.Option(0.05, "--block-max-correct",
                                                help="most share of correct answers a block may hit"),
        write: Path | None = typer.Option(None, "--write", help="write a new policy file with the thresholds"),
        as_json: bool = typer.Option(False, "--json", help="print thresholds, outcomes and warnings as JSON"),
    ) -> None:
        """Pick accept/block thresholds for a precision target or a review budget; print the outcome first."""
        run_tune(policy, data, target_precision, review_budget, block_max_correct, write, as_json=as_json)


_ = UserError  # the CLI's main() prints UserError subclasses raised above as one line
