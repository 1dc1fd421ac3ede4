"""The JSONL record contract: an interaction in, a verdict out (see DESIGN.md).

These models are the one definition of the wire format; every part reads and writes them.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

Message = dict[str, Any]


def _segment_is_an_object(v: Any) -> Any:
    if not isinstance(v, dict):
        raise PydanticCustomError("segment_type", "must be an object like {\"region\": \"EU\"}, got {kind} {value}",
                                  {"kind": type(v).__name__, "value": orjson.dumps(v, default=str).decode()[:40]})
    return v


class Metadata(TypedDict, total=False):
    """Free-form keys, except ``segment``: an object (segment overrides and reports match on its keys)."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    segment: Annotated[dict[str, Any], BeforeValidator(_segment_is_an_object)]


if TYPE_CHECKING:  # to code it is a plain dict; pydantic validates it as Metadata
    MetadataField = dict[str, Any]
else:
    MetadataField = Metadata


class Decision(StrEnum):
    """What happens to an answer. Closed: no other outcome exists."""

    ACCEPT = "accept"
    REVIEW = "review"
    BLOCK = "block"
    RETRY = "retry"


#: Severity order used when several rules fire at once: the strictest wins.
SEVERITY: dict[Decision, int] = {
    Decision.ACCEPT: 0,
    Decision.RETRY: 1,
    Decision.REVIEW: 2,
    Decision.BLOCK: 3,
}


class Interaction(BaseModel):
    """One answer to validate. Only ``output`` is required; ``id`` is derived from content when absent."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    id: str = ""
    input: str | list[Message] | None = None
    output: str
    context: list[str] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list)
    logprobs: list[float] | None = None
    metadata: MetadataField = Field(default_factory=dict)
    label: Literal[0, 1] | None = None

    @field_validator("context", "samples", mode="before")
    @classmethod
    def _one_string_is_a_list(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        return v

    @model_validator(mode="after")
    def _derive_id(self) -> Interaction:
        if not self.id:
            self.id = content_id(self.input, self.output, self.context)
        return self

    @property
    def input_text(self) -> str:
        """The input as plain text (chat messages joined by role)."""
        if self.input is None:
            return ""
        if isinstance(self.input, str):
            return self.input
        parts = []
        for m in self.input:
            content = m.get("content", "")
            if isinstance(content, list):  # OpenAI content parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            parts.append(f"{m.get('role', 'user')}: {content}")
        return "\n".join(parts)

    @property
    def segment(self) -> dict[str, Any]:
        seg = self.metadata.get("segment")
        return seg if isinstance(seg, dict) else {}


def content_id(input: Any, output: str, context: list[str] | None) -> str:
    """A stable id from the content, so re-running the same file (``--resume``) finds the same ids."""
    blob = orjson.dumps([input, output, context or []], option=orjson.OPT_SORT_KEYS)
    return "h-" + hashlib.blake2b(blob, digest_size=8).hexdigest()


class Evidence(BaseModel):
    """Why a check scored as it did: a character span of the output (or input, or a context passage)."""

    model_config = ConfigDict(extra="forbid")

    start: int
    end: int
    reason: str
    field: Literal["output", "input", "context"] = "output"
    passage: int | None = None  # index into ``context`` when field == "context"
    text: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Evidence:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"span [{self.start}, {self.end}) is not a valid span")
        return self


class Replacement(BaseModel):
    """Text a check wants used instead of a field: the ``output`` delivered to the caller (e.g. with personal
    data redacted), or the ``input`` that is logged and sent on (a redacted question)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Literal["output", "input"]
    text: str


class CheckResult(BaseModel):
    """One check's result. ``score`` is a confidence in [0, 1]: higher means more trustworthy.

    What a check asks the framework to *do* is typed, never a ``details`` key: ``replacement`` (deliver or log
    other text) and ``retry_hint`` (what to tell the model when the answer is sent back). ``details`` is
    for people and reports only.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    passed: bool
    evidence: list[Evidence] = Field(default_factory=list)
    ms: float = 0.0
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    replacement: Replacement | None = None
    retry_hint: str | None = Field(default=None, min_length=1, max_length=4000)

    @classmethod
    def fast(cls, name: str, score: float, passed: bool, evidence: list[Evidence] | None = None) -> CheckResult:
        """Build without validation, for checks on the hot path that know their values are in range."""
        return _construct(cls, {"name": name, "score": score, "passed": passed, "evidence": evidence or [],
                                "ms": 0.0, "error": None, "details": {}, "replacement": None, "retry_hint": None})


#: ``scored``: at least one evidence check scored the answer and ``confidence`` is its probability of being
#: acceptable. ``none``: no evidence check could score it (no context, no samples, no model): ``confidence``
#: is None (JSON ``null``), never 1.0, and the policy's ``on_unverified`` decided.
EvidenceState = Literal["scored", "none"]


class Verdict(BaseModel):
    """The outcome for one interaction.

    ``confidence`` is the calibrated probability that the answer is acceptable, computed from evidence checks
    only; it is None exactly when ``evidence`` is ``"none"`` (the answer was not verified).
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    confidence: float | None = Field(ge=0.0, le=1.0)
    decision: Decision
    policy: str
    evidence: EvidenceState = "scored"
    checks: list[CheckResult] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    attempts: int = 1
    output: str | None = None  # set when the delivered text differs from the input (redacted, retried)
    segment: dict[str, Any] = Field(default_factory=dict)
    ms: float | None = None
    label: Literal[0, 1] | None = None  # the record's ground truth, carried so verdict lines can be evaluated

    @model_validator(mode="after")
    def _evidence_agrees(self) -> Verdict:
        if (self.confidence is None) != (self.evidence == "none"):
            raise ValueError("confidence is None exactly when evidence is `none` (not verified); got confidence "
                             f"{self.confidence!r} with evidence {self.evidence!r}")
        return self

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def verified(self) -> bool:
        """True when evidence checks scored the answer (``confidence`` is a probability)."""
        return self.evidence == "scored"

    def to_json(self) -> str:
        """One JSONL line (without the newline); an unverified verdict says ``"confidence": null``."""
        line = self.model_dump_json(exclude_none=True)
        if self.confidence is None:
            d = orjson.loads(line)
            line = orjson.dumps({"id": d.pop("id"), "confidence": None, **d}).decode()
        return line


def confidence_text(confidence: float | None, digits: int = 2) -> str:
    """How every display shows a confidence: the number, or ``not verified`` (never a number) without evidence."""
    return "not verified" if confidence is None else f"{confidence:.{digits}f}"


def _construct(cls: Any, values: dict[str, Any]) -> Any:
    """``model_construct`` without its per-call overhead, for trusted values on the hot path.

    ``values`` must hold every field. Equivalent to ``cls.model_construct(**values)`` for such input.
    """
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_set = object.__setattr__
