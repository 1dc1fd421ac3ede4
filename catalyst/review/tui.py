"""The terminal reviewer (``catalyst review --db D``): a keyboard-driven Textual app over the review queue.

Left, the queue in priority order (severity, confidence, age; SLA breaches flagged). Right, the item the
reviewer holds: the question, the answer with the doubted spans highlighted, the context passages marked
supporting / contradicting, and every check's score and reason. Keys: ``a`` approve, ``r`` reject,
``c`` correct (edit the answer, Enter to save, Esc to cancel), ``e`` escalate, ``s`` skip (release and
take the next), ``g`` refresh, ``q`` quit. However the app ends (``q``, Ctrl-C, SIGTERM, an error) the held
item is released at once; only a SIGKILL leaves it held until its lease expires. Started without a terminal
(stdin or stdout redirected) it refuses with one error instead of waiting for keys. Every text is model or
user input: it is rendered as plain ``rich.Text`` (never markup) with hidden and direction characters shown
as ``\\u202e`` escapes.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from catalyst.errors import ConfigError
from catalyst.records import confidence_text
from catalyst.review._text import visible
from catalyst.review.item import ReviewItem
from catalyst.review.queue import Claim, ReviewError, ReviewQueue

#: characters of the answer shown; the rest is summarised (a 1 MB answer must not freeze the terminal)
SHOW_CHARS = 20_000
PASSAGE_CHARS = 2_000
STATUS_STYLE = {"supporting": "green", "contradicting": "red", "unreferenced": "dim"}


def answer_text(item: ReviewItem, limit: int = SHOW_CHARS) -> Text:
    """The answer as plain text with doubted spans highlighted (offsets of the stored string)."""
    out = item.output[:limit]
    text = Text()
    pos = 0
    for span in item.spans:
        if span.start >= len(out):
            break
        text.append(visible(out[pos:span.start]))
        text.append(visible(out[span.start:min(span.end, len(out))]), style="bold black on yellow")
        pos = min(span.end, len(out))
    text.append(visible(out[pos:]))
    if len(item.output) > limit:
        text.append(f"\n… {len(item.output) - limit:,} more characters not shown", style="italic dim")
    return text


def item_renderable(item: ReviewItem, claim: Claim | None) -> Group:
    row = item.row
    head = Text.assemble(("item ", "dim"), (visible(row.id), "bold"),
                         (f"   severity {row.severity}   confidence {confidence_text(row.confidence)}   "
                          f"age {row.age_hours:.1f} h", ""))
    if row.sla_breached:
        head.append("   SLA BREACHED", style="bold red")
    if claim is not None:
        head.append(f"   held by {claim.reviewer} until {claim.lease_expires:%H:%M:%S} UTC", style="dim")
    parts: list[Any] = [head, Text("\nQuestion", style="bold underline"), Text(visible(item.question or "—")),
                        Text("\nAnswer (doubted spans highlighted)", style="bold underline"), answer_text(item)]
    for s in item.spans:
        parts.append(Text(f"  [{s.start}:{s.end}] {', '.join(s.checks)}: " + visible("; ".join(s.reasons)),
                          style="yellow"))
    parts.append(Text("\nContext", style="bold underline"))
    if not item.context:
        parts.append(Text("(no context passages)", style="dim"))
    for p in item.context:
        line = Text(f"[{p.index}] {p.status}: ", style=STATUS_STYLE.get(p.status, ""))
        line.append(visible(p.text[:PASSAGE_CHARS]) + ("…" if len(p.text) > PASSAGE_CHARS else ""))
        for note in p.notes:
            line.append("\n    " + visible(note), style="dim")
        parts.append(line)
    table = Table("check", "score", "passed", "reason", title="Checks", expand=True, title_justify="left")
    for c in item.checks:
        score = "—" if c.score is None else f"{c.score:.2f}"
        table.add_row(Text(visible(c.name)), score, Text("yes" if c.passed else "NO",
                                                         style="green" if c.passed else "bold red"),
                      Text(visible("; ".join(c.reasons) or "")))
    parts += [Text(""), table]
    if row.reasons:
        parts.append(Text("\nWhy it is here: " + visible("; ".join(row.reasons)), style="italic"))
    return Group(*parts)


def require_terminal(stdin: Any = None, stdout: Any = None) -> None:
    """Refuse (one ``ConfigError``) when stdin or stdout is not a terminal: the app would wait for keys forever."""
    for name, stream in (("stdin", stdin or sys.stdin), ("stdout", stdout or sys.stdout)):
        try:
            ok = stream.isatty()
        except (AttributeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"the terminal reviewer needs an interactive terminal, but {name} is not one; run it "
                              "in a terminal, or use `catalyst review --list` (print the queue) or `--web`")


class ReviewApp(App[None]):
    """Review items one at a time; the held item is claimed with a lease and decided with one key."""

    TITLE = "Catalyst review"
    CSS = """
    #queue { width: 42%; }
    #detail { width: 58%; padding: 0 1; }
    #correction { dock: bottom; display: none; }
    #correction.editing { display: block; }
    #status { dock: bottom; height: 1; color: $warning; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("a", "decide('approve')", "approve"),
        Binding("r", "decide('reject')", "reject"),
        Binding("c", "correct", "correct"),
        Binding("e", "decide('escalate')", "escalate"),
        Binding("s", "skip", "skip"),
        Binding("g", "refresh", "refresh"),
        Binding("q", "quit", "quit"),
        Binding("escape", "cancel", "cancel", show=False),
    ]

    def __init__(self, queue: ReviewQueue, reviewer: str) -> None:
        super().__init__()
        self.queue = queue
        self.reviewer = reviewer
        self.claim: Claim | None = None
        self.item: ReviewItem | None = None
        self.skipped: set[str] = set()
        self.decided: list[tuple[str, str]] = []  # (item id, action), for the caller and tests

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail"):
                yield Static(id="item")
        yield Static("", id="status")
        yield Input(placeholder="corrected answer — Enter saves, Esc cancels", id="correction", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.add_columns("id", "sev", "conf", "age h", "SLA", "held by")
        self.sub_title = f"reviewer {self.reviewer}"
        table.focus()
        self.next_item()

    # -- state -----------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(message))

    def refresh_queue(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.clear()
        for r in self.queue.items(limit=200):
            table.add_row(Text(visible(r.id)), str(r.severity), confidence_text(r.confidence), f"{r.age_hours:.1f}",
                          Text("!", style="bold red") if r.sla_breached else "",
                          Text(visible(r.claimed_by or "")), key=r.id)

    def next_item(self) -> None:
        """Claim the next item (skipping those skipped this session) and show it."""
        self.claim, self.item = None, None
        try:
            for r in self.queue.items(limit=200, claimable_only=True):
                if r.id in self.skipped:
                    continue
                try:
                    self.claim = self.queue.claim(self.reviewer, item_id=r.id)
                    break
                except ReviewError:  # someone else took it in between: try the next
                    continue
            if self.claim is not None:
                self.item = self.queue.get(self.claim.item_id)
        except ReviewError as e:
            self.say(str(e))
        self.refresh_queue()
        detail = self.query_one("#item", Static)
        if self.item is None:
            detail.update(Text("Nothing to review. Press g to refresh, q to quit.", style="bold green"))
        else:
            detail.update(item_renderable(self.item, self.claim))

    # -- actions ---------------------------------------------------------------------------------
    def action_decide(self, action: str, output: str | None = None) -> None:
        if self.claim is None:
            self.say("no item held; press g to refresh")
            return
        item_id = self.claim.item_id
        try:
            self.queue.decide(item_id, reviewer=self.reviewer, action=action, output=output)
        except ReviewError as e:
            self.say(f"not saved: {e}")
            return
        self.decided.append((item_id, action))
        self.say(f"{action}: {item_id}")
        self.next_item()

    def action_correct(self) -> None:
        if self.item is None:
            self.say("no item held")
            return
        box = self.query_one("#correction", Input)
        box.value = self.item.output[:SHOW_CHARS]
        box.disabled = False
        box.add_class("editing")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        box = event.input
        box.remove_class("editing")
        box.disabled = True
        self.query_one("#queue", DataTable).focus()
        self.action_decide("correct", event.value)

    def action_cancel(self) -> None:
        box = self.query_one("#correction", Input)
        if box.has_class("editing"):
            box.remove_class("editing")
            box.disabled = True
            self.query_one("#queue", DataTable).focus()
            self.say("correction cancelled")

    def action_skip(self) -> None:
        if self.claim is not None:
            self.skipped.add(self.claim.item_id)
            try:
                self.queue.release(self.claim.item_id, self.reviewer)
            except ReviewError as e:
                self.say(str(e))
        self.next_item()

    def action_refresh(self) -> None:
        if self.claim is None:
            self.skipped.clear()
            self.next_item()
        else:
            self.refresh_queue()

    def release_held(self) -> None:
        """Give the held item back rather than leave it leased (safe to call twice)."""
        claim, self.claim = self.claim, None
        if claim is not None:
            with contextlib.suppress(ReviewError):
                self.queue.release(claim.item_id, self.reviewer)

    async def action_quit(self) -> None:
        self.release_held()
        self.exit()

    def on_unmount(self) -> None:
        self.release_held()

    def review(self) -> None:
        """Run in this terminal; the held item is released however the app ends (SIGTERM included)."""
        require_terminal()

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            self.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.release_held()
