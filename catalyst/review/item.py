"""One review item in full, for a reviewer: what was asked, what the model said, what the context says,
and *why* Catalyst doubted it (every check's score and reason, the doubted spans of the answer, the
passages that support it or that evidence points at).

Texts here are untrusted model or user input: front ends must escape them (HTML) or render them as
plain text (terminal); :func:`catalyst.review._text.visible` shows hidden and reordering characters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from catalyst.records import Interaction

if TYPE_CHECKING:
    from catalyst.review.queue import QueueRow, ReviewQueue

#: a check scoring below this counts as doubting the answer even when it passed
DOUBT_SCORE = 0.5


@dataclass(slots=True)
class Span:
    """A doubted span of the answer: ``output[start:end]``, with the checks and reasons behind it."""

    start: int
    end: int
    checks: list[str]
    reasons: list[str]


@dataclass(slots=True)
class Passage:
    """One context passage; ``status`` is ``supporting`` (evidence from a passing check points at it),
    ``contradicting`` (from a failing one) or ``unreferenced``."""

    index: int
    text: str
    status: str = "unreferenced"
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CheckView:
    name: str
    score: float | None
    passed: bool
    error: str | None
    reasons: list[str]
    details: dict[str, Any]
    evidence: list[dict[str, Any]]


@dataclass(slots=True)
class ReviewItem:
    row: QueueRow
    question: str
    output: str
    context: list[Passage]
    checks: list[CheckView]
    spans: list[Span]
    metadata: dict[str, Any]

    @property
    def id(self) -> str:
        return self.row.id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, s.end)):
        if out and s.start <= out[-1].end:
            last = out[-1]
            last.end = max(last.end, s.end)
            last.checks = list(dict.fromkeys(last.checks + s.checks))
            last.reasons = list(dict.fromkeys(last.reasons + s.reasons))
        else:
            out.append(Span(s.start, s.end, list(s.checks), list(s.reasons)))
    return out


def build_item(row: QueueRow, interaction: dict[str, Any] | None, check_rows: list[dict[str, Any]]) -> ReviewItem:
    inter = interaction or {}
    raw_input = orjson.loads(inter["input"]) if inter.get("input") else None
    output = inter.get("output") or ""
    context = orjson.loads(inter["context"]) if inter.get("context") else []
    try:
        question = Interaction(input=raw_input, output=output).input_text
    except Exception:  # a malformed stored input still shows, as JSON
        question = orjson.dumps(raw_input).decode() if raw_input is not None else ""
    passages = [Passage(i, str(t)) for i, t in enumerate(context)]
    checks: list[CheckView] = []
    spans: list[Span] = []
    for c in check_rows:
        ev = orjson.loads(c["evidence"]) if c.get("evidence") else []
        details = orjson.loads(c["details"]) if c.get("details") else {}
        doubted = (not c["passed"]) or c["error"] is not None or (c["score"] is not None and c["score"] < DOUBT_SCORE)
        reasons = [e.get("reason", "") for e in ev if e.get("reason")]
        if c["error"]:
            reasons.insert(0, f"check broke: {c['error']}")
        checks.append(CheckView(c["name"], c["score"], c["passed"], c["error"], reasons, details, ev))
        for e in ev:
            where = e.get("field", "output")
            if where == "output" and doubted:
                start = max(0, min(int(e.get("start", 0)), len(output)))
                end = max(start, min(int(e.get("end", start)), len(output)))
                spans.append(Span(start, end, [c["name"]], [e.get("reason", "")]))
            elif where == "context" and e.get("passage") is not None and 0 <= e["passage"] < len(passages):
                p = passages[e["passage"]]
                p.notes.append(f"{c['name']}: {e.get('reason', '')}")
                if not c["passed"]:
                    p.status = "contradicting"
                elif p.status == "unreferenced":
                    p.status = "supporting"
    return ReviewItem(row=row, question=question, output=output, context=passages, checks=checks,
                      spans=_merge(spans), metadata=orjson.loads(inter["metadata"]) if inter.get("metadata") else {})


def load_item(queue: ReviewQueue, item_id: str) -> ReviewItem:
    from catalyst.review.queue import _ITEM_COLS, ItemNotFoundError

    with queue.store.connect(read_only=True) as con:
        cur = con.execute(f"SELECT {', '.join(_ITEM_COLS)} FROM review_items WHERE id = ?", [item_id])
        r = cur.fetchone()
        if r is None:
            raise ItemNotFoundError(f"no review item `{item_id}`")
        row = dict(zip(_ITEM_COLS, r, strict=True))
        cur = con.execute("SELECT * FROM interactions WHERE verdict_id = ?", [row["verdict_id"]])
        cols = [d[0] for d in cur.description]
        inter = cur.fetchone()
        cur = con.execute("SELECT * FROM check_results WHERE verdict_id = ? ORDER BY name", [row["verdict_id"]])
        ccols = [d[0] for d in cur.description]
        checks = [dict(zip(ccols, x, strict=True)) for x in cur.fetchall()]
    return build_item(queue._queue_row(row, queue.clock()), dict(zip(cols, inter, strict=True)) if inter else None,
                      checks)
