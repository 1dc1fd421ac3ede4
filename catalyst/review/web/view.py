"""What the item page shows: the queue's :class:`~catalyst.review.item.ReviewItem`, rendered safely.

The terminal and the web reviewer read the same ``ReviewItem`` (``ReviewQueue.get``), so both show the
same doubted spans and passage marks; this module only turns it into escaped, highlighted HTML pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalyst.review.item import ReviewItem
from catalyst.review.web.render import (
    DISPLAY_LIMIT,
    PASSAGE_LIMIT,
    Rendered,
    Span,
    clip,
    has_hidden_chars,
    highlight,
    plain_reason,
)

#: passage status (from ReviewItem) -> (css class, badge text); "unreferenced" depends on the answer
_STATUS = {"supporting": ("supporting", "supporting"), "contradicting": ("flagged", "contradicting / flagged")}


@dataclass
class CheckLine:
    name: str
    score: float | None
    passed: bool
    error: str | None
    reasons: list[str]


@dataclass
class PassageView:
    index: int
    html: Rendered
    css: str
    badge: str
    notes: list[str]
    hidden_chars: bool


@dataclass
class ItemView:
    item: ReviewItem
    question: Rendered
    answer: Rendered
    answer_hidden_chars: bool
    answer_len: int
    passages: list[PassageView]
    checks: list[CheckLine]
    doubted: int
    answer_text_for_edit: str | None

    @property
    def row(self) -> Any:
        return self.item.row


def item_view(item: ReviewItem, *, limit: int = DISPLAY_LIMIT) -> ItemView:
    """Escape and highlight everything the page shows; long texts are cut (the page says so)."""
    doubt = [Span(s.start, s.end, "doubt", "; ".join(r for r in s.reasons if r) + f" ({', '.join(s.checks)})")
             for s in item.spans]
    ctx_spans: list[list[Span]] = [[] for _ in item.context]
    for c in item.checks:
        for e in c.evidence:
            if not isinstance(e, dict) or e.get("field") != "context":
                continue
            p = e.get("passage")
            if isinstance(p, int) and 0 <= p < len(ctx_spans):
                s, t = e.get("start"), e.get("end")
                if isinstance(s, int) and isinstance(t, int):
                    kind = "support" if c.passed and not c.error else "flag"
                    ctx_spans[p].append(Span(s, t, kind, f"{c.name}: {e.get('reason', '')}"))
    passages = []
    for p, spans in zip(item.context, ctx_spans, strict=True):
        css, badge = _STATUS.get(p.status, ("missing", "no support found") if item.spans else ("plain", ""))
        passages.append(PassageView(p.index, highlight(p.text, spans, limit=PASSAGE_LIMIT), css, badge,
                                    [plain_reason(n) for n in p.notes[:5]], has_hidden_chars(p.text)))
    checks = sorted(item.checks, key=lambda c: (c.passed and not c.error, c.score if c.score is not None else -1))
    return ItemView(
        item=item,
        question=clip(item.question, PASSAGE_LIMIT),
        answer=highlight(item.output, doubt, limit=limit),
        answer_hidden_chars=has_hidden_chars(item.output),
        answer_len=len(item.output),
        passages=passages,
        checks=[CheckLine(c.name, c.score, c.passed, plain_reason(c.error) if c.error else None,
                          _reasons(c.reasons, c.details)) for c in checks],
        doubted=len(doubt),
        answer_text_for_edit=item.output if len(item.output) <= limit else None,
    )


def _reasons(reasons: list[str], details: dict[str, Any]) -> list[str]:
    out = [plain_reason(details[k]) for k in ("reason", "message", "explanation")
           if isinstance(details, dict) and isinstance(details.get(k), str)]
    out += [plain_reason(r) for r in reasons[:5] if r]
    if len(reasons) > 5:
        out.append(f"… and {len(reasons) - 5} more")
    return list(dict.fromkeys(out))
