"""``schema``: the answer must be JSON matching a JSON Schema, or a pydantic model, given in the policy.

The schema itself is checked when the policy loads (``Draft202012Validator.check_schema`` or the
dialect its ``$schema`` names), and a pydantic model path (``"pkg.module:Model"``) is imported then,
so a broken schema or a typo'd model path fails at load, not at the first answer.

Evidence points at the failing JSON path (``$.items[2].price``) and, because the answer is re-scanned
with a small position-tracking JSON walker, at the character span of that value in the output.
``retry_hint`` carries the validation messages in a form meant for a re-ask.
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cached_property
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, ClassVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from catalyst.checks import Check, CheckContext
from catalyst.records import CheckResult, Evidence

Path = tuple[str | int, ...]

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```", re.DOTALL)
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_WS = " \t\r\n"
_MODEL_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


# -- where each value sits in the text --------------------------------------------------------------
def json_spans(text: str, start: int = 0) -> dict[Path, tuple[int, int]]:
    """Character span of every value in a *valid* JSON document, keyed by its path (``()`` = the root)."""
    spans: dict[Path, tuple[int, int]] = {}

    def ws(i: int) -> int:
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(i: int, path: Path, depth: int) -> int:
        i = ws(i)
        s = i
        ch = text[i]
        if depth > 200:
            raise ValueError("JSON nested too deeply")
        if ch == "{":
            i = ws(i + 1)
            if text[i] == "}":
                i += 1
            else:
                while True:
                    key, i = scanstring(text, ws(i) + 1)
                    i = ws(i) + 1  # the ':'
                    i = ws(value(i, (*path, key), depth + 1))
                    i += 1
                    if text[i - 1] == "}":
                        break
        elif ch == "[":
            i = ws(i + 1)
            if text[i] == "]":
                i += 1
            else:
                k = 0
                while True:
                    i = ws(value(i, (*path, k), depth + 1))
                    k += 1
                    i += 1
                    if text[i - 1] == "]":
                        break
        elif ch == '"':
            _, i = scanstring(text, i + 1)
        else:
            m = _SCALAR.match(text, i)
            if m is None:
                raise ValueError(f"unexpected character {ch!r} at {i}")
            i = m.end()
        spans[path] = (s, i)
        return i

    value(start, (), 0)
    return spans


def path_str(path: Path) -> str:
    """``("items", 2, "price")`` → ``$.items[2].price``."""
    out = "$"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if re.fullmatch(r"[A-Za-z_]\w*", p) else f"[{p!r}]")
    return out


def extract_json(text: str, strip_fences: bool) -> tuple[str, int]:
    """The JSON part of an answer and its offset: a fenced ```json block when asked, else the stripped text."""
    if strip_fences:
        m = _FENCE.search(text)
        if m:
            return m.group(1), m.start(1)
    lead = len(text) - len(text.lstrip())
    return text.strip(), lead


class Schema(Check):
    """The answer must be JSON (optionally inside a ```json fence) that matches a JSON Schema or a pydantic model.

    Score: 1.0 when it matches, 0.0 when it is not JSON or does not match.
    """

    name: ClassVar[str] = "schema"
    catches: ClassVar[str] = "answers that are not valid JSON or do not match the required structure"
    cost: ClassVar[str] = "< 0.1 ms per kB (json + jsonschema or pydantic)"

    json_schema: dict[str, Any] | None = Field(default=None, description="a JSON Schema the answer must match (inline)")
    model: str | None = Field(default=None, description='a pydantic model by import path, "package.module:Model"')
    strip_fences: bool = Field(default=True, description="accept JSON inside a ```json ... ``` fence in the answer")
    max_errors: int = Field(default=10, ge=1, description="validation errors reported at most")
    max_chars: int = Field(default=1_000_000, ge=100, description="longer answers fail without being parsed")

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        import jsonschema
        from jsonschema.exceptions import SchemaError

        try:
            jsonschema.validators.validator_for(v).check_schema(v)
        except SchemaError as e:
            where = path_str(tuple(e.absolute_path)) if e.absolute_path else "the schema root"
            raise ValueError(f"json_schema is not a valid JSON Schema at {where}: {e.message}") from None
        return v

    @field_validator("model")
    @classmethod
    def _importable(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not _MODEL_PATH.match(v):
            raise ValueError(f'model {v!r} must look like "package.module:Model"')
        _load_model(v)
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Schema:
        if (self.json_schema is None) == (self.model is None):
            raise ValueError('give exactly one of json_schema (inline JSON Schema) or model ("pkg.mod:Model")')
        return self

    @cached_property
    def _validator(self) -> Any:
        import jsonschema

        cls = jsonschema.validators.validator_for(self.json_schema)
        return cls(self.json_schema, format_checker=cls.FORMAT_CHECKER)

    def run(self, ctx: CheckContext) -> CheckResult:
        out = ctx.output or ""
        if len(out) > self.max_chars:
            return self._fail(
                [
                    Evidence(
                        start=self.max_chars,
                        end=len(out),
                        reason=f"answer is {len(out):,} characters, over max_chars={self.max_chars:,}",
                    )
                ],
                f"The answer is too long ({len(out):,} characters); return only the JSON object.",
            )
        doc, offset = extract_json(out, self.strip_fences)
        try:
            data = json.loads(doc)
        except (json.JSONDecodeError, RecursionError) as e:
            pos = offset + getattr(e, "pos", 0)
            msg = getattr(e, "msg", str(e))
            end = min(len(out), pos + 1) if out else 0
            return self._fail(
                [Evidence(start=min(pos, end), end=end, reason=f"not valid JSON: {msg}")],
                f"Your answer is not valid JSON ({msg} at character {pos}). Return only a JSON document.",
            )
        errors = self._errors(data, doc)
        if not errors:
            return self.result(1.0)
        try:
            spans = json_spans(doc)
        except (ValueError, IndexError):
            spans = {}
        ev = []
        lines = []
        for path, msg in errors[: self.max_errors]:
            a, b = _nearest(spans, path) or (0, len(doc))
            ev.append(
                Evidence(start=offset + a, end=offset + b, text=doc[a:b][:200], reason=f"{path_str(path)}: {msg}")
            )
            lines.append(f"- at {path_str(path)}: {msg}")
        hint = "Your JSON does not match the required schema. Fix these and return only the JSON:\n" + "\n".join(lines)
        return self._fail(ev, hint, errors=[{"path": path_str(p), "message": m} for p, m in errors[: self.max_errors]])

    def _fail(self, ev: list[Evidence], hint: str, **details: Any) -> CheckResult:
        return self.result(0.0, evidence=ev, passed=False, retry_hint=hint, **details)

    def _errors(self, data: Any, doc: str) -> list[tuple[Path, str]]:
        if self.json_schema is not None:
            errs = sorted(self._validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
            return [(tuple(e.absolute_path), e.message) for e in errs]
        model = _load_model(self.model or "")
        try:
            model.model_validate(data)
        except ValidationError as e:
            return [(tuple(err["loc"]), err["msg"]) for err in e.errors()]
        return []


def _nearest(spans: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int] | None:
    """The span of ``path``, or of its closest existing parent (a missing key points at its object)."""
    p = tuple(path)
    while True:
        if p in spans:
            return spans[p]
        if not p:
            return None
        p = p[:-1]


_models: dict[str, type[BaseModel]] = {}


def _load_model(path: str) -> type[BaseModel]:
    cls = _models.get(path)
    if cls is not None:
        return cls
    mod_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"model {path!r}: cannot import module {mod_name!r} ({e})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"model {path!r}: module {mod_name!r} has no attribute {attr!r}") from None
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise ValueError(f"model {path!r} is not a pydantic BaseModel subclass")
    _models[path] = obj
    return obj
