"""What is written is what may be kept: mask personal data and secrets before a record or verdict is stored.

:func:`log_redactor` turns a compiled policy into a pure function ``(Interaction, Verdict) -> (Interaction,
Verdict)`` that the sink applies before anything reaches DuckDB, ``--out``, webhooks, reports or the review
UI's storage. What it masks is what the policy's own detectors look for: every check that implements
:class:`Detector` (the built-in ``pii`` and ``secrets`` do), plus any named in the policy's ``log.detectors``.
Each detector scans every text of the pair — the input (each chat message), output, context passages,
samples, string values of the metadata, the delivered output, reasons, evidence texts and reasons, check
details and errors — and the spans the detector checks reported on the field they scanned are masked too
(names found by ``pii``'s NER model in the output, say, which the pattern scan of the other texts cannot see).

A masked value keeps its length (``[CARD]*************`` for a 19-character card number), so evidence spans
still point at the right characters of the stored text; the value itself is never kept.

The function does no I/O; detectors load their regexes (and presidio's pattern recognizers) on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from catalyst.records import CheckResult, Evidence, Interaction, Verdict

if TYPE_CHECKING:
    from catalyst.policy import CompiledPolicy

__all__ = ["Detector", "Finding", "log_redactor", "mask_spans", "masked"]

Redactor = Callable[[Interaction, Verdict], tuple[Interaction, Verdict]]

#: Joins the texts of one pair into one scan; no detector pattern crosses it (spans that would are clipped).
_SEP = "\n\n\x1e\x1e\n\n"


@dataclass(frozen=True, slots=True)
class Finding:
    """A sensitive value at ``text[start:end]`` of kind ``kind`` (``CREDIT_CARD``, ``AWS Access Key``...)."""

    start: int
    end: int
    kind: str


@runtime_checkable
class Detector(Protocol):
    """A check whose findings the log must not keep: ``find_sensitive(text)`` lists their spans."""

    def find_sensitive(self, text: str) -> list[Finding]: ...


def masked(value: str, *, keep_last: int = 0) -> str:
    """``value``'s shape without the value: letters and digits become ``*`` (separators stay), except the last
    ``keep_last`` of them when the value has at least three times as many (``**** **** **** 1111``)."""
    alnum = sum(c.isalnum() for c in value)
    keep = keep_last if keep_last and alnum >= 3 * keep_last else 0
    out, seen = [], 0
    for c in value:
        if c.isalnum():
            seen += 1
            out.append(c if seen > alnum - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _tag(kind: str, length: int) -> str:
    """``[KIND]`` padded with ``*`` to ``length`` characters (cut when the value is shorter than its tag)."""
    tag = "[" + re.sub(r"[^A-Za-z0-9]+", "_", kind).strip("_").upper() + "]"
    return (tag + "*" * length)[:length] if length >= len(tag) else "*" * length


def mask_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, kind)`` span replaced by a same-length ``[KIND]***`` mask."""
    merged: list[list[Any]] = []
    for s, e, k in sorted((max(0, s), min(len(text), e), k) for s, e, k in spans):
        if e <= s:
            continue
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
            continue
        merged.append([s, e, k])
    if not merged:
        return text
    out, pos = [], 0
    for s, e, k in merged:
        out.append(text[pos:s])
        out.append(_tag(k, e - s))
        pos = e
    out.append(text[pos:])
    return "".join(out)


class _Texts:
    """Every text of one pair, scanned together: ``add`` a text (with spans known for it), then ``masked(i)``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.known: list[list[tuple[int, int, str]]] = []

    def add(self, text: str, known: Sequence[tuple[int, int, str]] = ()) -> int:
        self.texts.append(text)
        self.known.append(list(known))
        return len(self.texts) - 1

    def scan(self, detectors: Sequence[Detector]) -> list[str]:
        """The texts with every finding (and known span) masked."""
        if not self.texts:
            return []
        joined = _SEP.join(self.texts)
        starts, pos = [], 0
        for t in self.texts:
            starts.append(pos)
            pos += len(t) + len(_SEP)
        spans = [list(k) for k in self.known]
        if joined.strip():
            import bisect

            for det in detectors:
                for f in det.find_sensitive(joined):
                    # a finding may only cross a separator if a detector is careless: clip it to every text it covers
                    i = max(0, bisect.bisect_right(starts, f.start) - 1)
                    while i < len(self.texts) and starts[i] < f.end:
                        s, e = f.start - starts[i], f.end - starts[i]
                        if e > 0 and s < len(self.texts[i]):
                            spans[i].append((s, e, f.kind))
                        i += 1
        return [mask_spans(t, sp) for t, sp in zip(self.texts, spans, strict=True)]


def _input_parts(raw: Any) -> list[tuple[int, Any, int]]:
    """Offsets of each message's text inside ``Interaction.input_text``: ``(message index, part, offset)``."""
    out: list[tuple[int, Any, int]] = []
    pos = 0
    for i, m in enumerate(raw):
        content = m.get("content", "") if isinstance(m, dict) else ""
        role = m.get("role", "user") if isinstance(m, dict) else "user"
        pos += len(f"{role}: ")
        if isinstance(content, list):
            text = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        else:
            text = str(content)
        out.append((i, content, pos))
        pos += len(text) + 1
    return out


def _shift(spans: Sequence[tuple[int, int, str]], off: int, length: int) -> list[tuple[int, int, str]]:
    return [(s - off, e - off, k) for s, e, k in spans if e > off and s < off + length]


class _Plan:
    """The detectors of a policy, and the labels of the checks whose evidence spans are masked."""

    def __init__(self, detectors: list[Detector], labels: set[str]) -> None:
        self.detectors = detectors
        self.labels = labels

    def __call__(self, record: Interaction, verdict: Verdict) -> tuple[Interaction, Verdict]:
        known = self._known(verdict)
        texts = _Texts()
        # -- the record
        slots: dict[str, Any] = {}
        raw = record.input
        if isinstance(raw, str):
            slots["input"] = texts.add(raw, known.get(("input", None), []))
        elif isinstance(raw, list):
            in_known = known.get(("input", None), [])
            offsets = {i: off for i, _, off in _input_parts(raw)}
            parts: list[tuple[int, list[tuple[tuple[Any, ...], int]]]] = []
            for i, msg in enumerate(raw):
                leaves = []
                for path, text in _strings(msg, ()):
                    if path == ("role",):
                        continue
                    spans = _shift(in_known, offsets[i], len(text)) if path == ("content",) else []
                    leaves.append((path, texts.add(text, spans)))  # content, its parts, tool-call arguments...
                parts.append((i, leaves))
            slots["input"] = parts
        slots["output"] = texts.add(record.output, known.get(("output", None), []))
        slots["context"] = [texts.add(p, known.get(("context", i), [])) for i, p in enumerate(record.context)]
        slots["samples"] = [texts.add(s) for s in record.samples]
        meta_paths = list(_strings(record.metadata, ()))
        slots["metadata"] = [(path, texts.add(s)) for path, s in meta_paths]
        # -- the verdict
        delivered = None
        if verdict.output is not None:
            same = verdict.output == record.output
            delivered = texts.add(verdict.output, known.get(("output", None), []) if same else [])
        reasons = [texts.add(r) for r in verdict.reasons]
        segment = [(path, texts.add(v)) for path, v in _strings(verdict.segment, ())]
        checks = []
        for c in verdict.checks:
            ev = [(texts.add(e.text) if e.text else None, texts.add(e.reason)) for e in c.evidence]
            details = [(path, texts.add(s)) for path, s in _strings(c.details, ())]
            extra = {k: texts.add(v) for k, v in (("error", c.error), ("retry_hint", c.retry_hint)) if v}
            if c.replacement is not None:
                extra["replacement"] = texts.add(c.replacement.text)
            checks.append((ev, details, extra))
        out = texts.scan(self.detectors)

        # -- rebuild
        new_input: Any = raw
        if isinstance(raw, str):
            new_input = out[slots["input"]]
        elif isinstance(raw, list):
            new_input = list(raw)
            for i, leaves in slots["input"]:
                if leaves:
                    new_input[i] = _replace_strings(raw[i], {path: out[k] for path, k in leaves})
        metadata = record.metadata
        if meta_paths:
            metadata = _replace_strings(record.metadata, {path: out[k] for path, k in slots["metadata"]})
        new_record = record.model_copy(update={
            "input": new_input, "output": out[slots["output"]], "context": [out[k] for k in slots["context"]],
            "samples": [out[k] for k in slots["samples"]], "metadata": metadata})
        new_checks: list[CheckResult] = []
        for c, (ev, details, extra) in zip(verdict.checks, checks, strict=True):
            evidence = [e.model_copy(update={"text": out[t] if t is not None else e.text, "reason": out[r]})
                        for e, (t, r) in zip(c.evidence, ev, strict=True)]
            update: dict[str, Any] = {"evidence": evidence}
            if details:
                update["details"] = _replace_strings(c.details, {path: out[k] for path, k in details})
            for key in ("error", "retry_hint"):
                if key in extra:
                    update[key] = out[extra[key]]
            if c.replacement is not None and "replacement" in extra:
                update["replacement"] = c.replacement.model_copy(update={"text": out[extra["replacement"]]})
            new_checks.append(c.model_copy(update=update))
        new_verdict = verdict.model_copy(update={
            "output": out[delivered] if delivered is not None else None,
            "reasons": [out[k] for k in reasons], "checks": new_checks,
            "segment": _replace_strings(verdict.segment, {path: out[k] for path, k in segment}) if segment
            else verdict.segment})
        return new_record, new_verdict

    def _known(self, verdict: Verdict) -> dict[tuple[str, int | None], list[tuple[int, int, str]]]:
        """Spans the detector checks reported, per (field, passage): masked even if a rescan would miss them."""
        known: dict[tuple[str, int | None], list[tuple[int, int, str]]] = {}
        for c in verdict.checks:
            if c.name not in self.labels:
                continue
            for e in c.evidence:
                if e.reason.startswith("not scanned") or e.end <= e.start:
                    continue
                known.setdefault((e.field, e.passage), []).append((e.start, e.end, _kind_of(e)))
        return known


def _kind_of(e: Evidence) -> str:
    m = re.match(r"\s*([A-Za-z][\w .\-]{0,40}?)\s*[(:]", e.reason)
    return m.group(1) if m else "REDACTED"


def _strings(value: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Every string leaf of a JSON-like value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _replace_strings(value: Any, new: dict[tuple[Any, ...], str], path: tuple[Any, ...] = ()) -> Any:
    if isinstance(value, str):
        return new.get(path, value)
    if isinstance(value, dict):
        return {k: _replace_strings(v, new, (*path, k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_strings(v, new, (*path, i)) for i, v in enumerate(value)]
    return value


def _identity(record: Interaction, verdict: Verdict) -> tuple[Interaction, Verdict]:
    return record, verdict


def log_redactor(policy: CompiledPolicy) -> Redactor:
    """The redaction the sink applies to every ``(record, verdict)`` before writing it anywhere.

    Pure: no I/O, no global state; returns new objects and leaves its arguments unchanged. With
    ``log: {redact: false}`` it returns its arguments as they are.
    """
    spec = getattr(policy.policy, "log", None)
    if spec is not None and not spec.redact:
        return _identity
    detectors: list[Detector] = []
    labels: set[str] = set()
    seen: set[int] = set()
    plans = [policy.default, *(p for _, p in policy.overrides)]
    for plan in plans:
        for step in plan.steps:
            if isinstance(step.check, Detector):
                labels.add(step.label)
                if id(step.check) not in seen and not any(step.check == d for d in detectors):
                    seen.add(id(step.check))
                    detectors.append(step.check)
    if spec is not None and spec.detectors:
        from catalyst import registry

        for name in spec.detectors:
            check = registry.get(name)()
            if not isinstance(check, Detector):
                from catalyst.errors import PolicyError

                raise PolicyError(f"log.detectors: check `{name}` cannot find sensitive values (it has no "
                                  "find_sensitive); use pii or secrets")
            detectors.append(check)
    if not detectors:
        return _identity
    return _Plan(detectors, labels)
