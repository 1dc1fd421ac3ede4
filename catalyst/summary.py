"""Running totals over verdicts (decisions, confidence, per-check time and failures).

The mean confidence is over verified answers only; answers no evidence check could score (``evidence: none``)
have no confidence and are counted apart, as "not verified".

Its own light module: worker processes count their batches with it and must not import the CLI.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from catalyst.records import Verdict

if TYPE_CHECKING:
    from rich.table import Table

DECISION_STYLE = {"accept": "green", "review": "yellow", "block": "red", "retry": "magenta"}


class Summary:
    """Running totals over verdicts, cheap enough for 100k records."""

    def __init__(self) -> None:
        self.decisions: Counter[str] = Counter()
        self.conf_sum = 0.0
        self.n = 0
        self.unverified = 0  # verdicts with evidence "none": no confidence, not in the mean
        self.check_ms: dict[str, float] = defaultdict(float)
        self.check_n: Counter[str] = Counter()
        self.check_fail: Counter[str] = Counter()
        self.errors = 0

    def merge(self, other: Summary) -> None:
        self.decisions.update(other.decisions)
        self.conf_sum += other.conf_sum
        self.n += other.n
        self.unverified += other.unverified
        for k, v in other.check_ms.items():
            self.check_ms[k] += v
        self.check_n.update(other.check_n)
        self.check_fail.update(other.check_fail)
        self.errors += other.errors

    def add(self, verdicts: Sequence[Verdict]) -> None:
        for v in verdicts:
            self.n += 1
            self.decisions[v.decision.value] += 1
            conf = v.confidence
            if conf is None:
                self.unverified += 1
            else:
                self.conf_sum += conf
            for c in v.checks:
                self.check_ms[c.name] += c.ms
                self.check_n[c.name] += 1
                if not c.passed:
                    self.check_fail[c.name] += 1
                if c.error:
                    self.errors += 1

    def to_dict(self) -> dict[str, object]:
        """The totals as plain data (``--json``)."""
        return {"verdicts": self.n, "decisions": {d: self.decisions.get(d, 0) for d in DECISION_STYLE},
                "mean_confidence": round(self.conf_sum / scored, 6) if (scored := self.n - self.unverified) else None,
                "verified": scored, "not_verified": self.unverified, "check_errors": self.errors,
                "checks": {name: {"runs": self.check_n[name], "failed": self.check_fail[name],
                                  "mean_ms": round(self.check_ms[name] / self.check_n[name], 4)}
                           for name in sorted(self.check_n)}}

    def tables(self, title: str = "Verdicts") -> list[Table]:
        from rich.table import Table

        t = Table(title=title, title_justify="left")
        t.add_column("decision", overflow="fold")
        t.add_column("count", justify="right", overflow="fold")
        t.add_column("share", justify="right", overflow="fold")
        for d in ("accept", "review", "block", "retry"):
            k = self.decisions.get(d, 0)
            t.add_row(f"[{DECISION_STYLE[d]}]{d}[/]", str(k), f"{k / max(1, self.n):.1%}")
        t.add_section()
        t.add_row("[bold]total", str(self.n), "")
        t.add_section()
        scored = self.n - self.unverified
        mean = f"{self.conf_sum / scored:.3f}" if scored else "–"
        t.add_row("verified", str(scored), f"mean confidence {mean}")
        t.add_row("[yellow]not verified[/]", str(self.unverified), f"{self.unverified / max(1, self.n):.1%}")
        c = Table(title="Checks (slowest first)", title_justify="left")
        for col, just in (("check", "left"), ("mean ms", "right"), ("failed", "right"), ("runs", "right")):
            c.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for name in sorted(self.check_n, key=lambda n: -self.check_ms[n] / self.check_n[n]):
            runs = self.check_n[name]
            fails = self.check_fail[name]
            c.add_row(name, f"{self.check_ms[name] / runs:.3f}", f"{fails} ({fails / runs:.0%})", str(runs))
        return [t, c]
