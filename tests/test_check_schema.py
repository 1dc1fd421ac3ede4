"""schema: JSON Schema or pydantic model; failing path + span; fences; retry hint; invalid schema at load."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.schema import Schema, json_spans, path_str


class Refund(BaseModel):
    order_id: str
    amount: float
    currency: str
    reason: str | None = None


INVOICE_SCHEMA = {
    "type": "object",
    "required": ["invoice", "lines", "total"],
    "properties": {
        "invoice": {"type": "string", "pattern": "^INV-[0-9]{5}$"},
        "lines": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["sku", "qty", "price"],
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1},
                           "price": {"type": "number"}}}},
        "total": {"type": "number"},
    },
    "additionalProperties": False,
}


def ctx(output: str) -> CheckContext:
    return CheckContext(record=Interaction(output=output))


def test_valid_fenced_answer_passes() -> None:
    out = ('Here is the invoice you asked for:\n\n```json\n{"invoice": "INV-20931", "lines": '
           '[{"sku": "KB-101", "qty": 2, "price": 49.5}], "total": 99.0}\n```\nLet me know if anything is off.')
    assert Schema(json_schema=INVOICE_SCHEMA).run(ctx(out)).passed
    r = Schema(json_schema=INVOICE_SCHEMA, strip_fences=False).run(ctx(out))
    assert not r.passed and "not valid JSON" in r.evidence[0].reason


def test_failing_path_and_span() -> None:
    out = '{"invoice": "INV-20931", "lines": [{"sku": "KB-101", "qty": 2, "price": 49.5}, ' \
          '{"sku": "MS-7", "qty": 0, "price": "twelve"}], "total": 99.0}'
    r = Schema(json_schema=INVOICE_SCHEMA).run(ctx(out))
    assert not r.passed and r.score == 0.0
    by_path = {e.reason.split(":")[0]: out[e.start:e.end] for e in r.evidence}
    assert by_path["$.lines[1].qty"] == "0"
    assert by_path["$.lines[1].price"] == '"twelve"'
    hint = r.retry_hint
    assert "$.lines[1].price" in hint and "'twelve' is not of type 'number'" in hint


def test_missing_key_points_at_its_object_and_fence_offsets() -> None:
    out = 'Sure!\n```json\n{"invoice": "INV-00042", "lines": [{"sku": "X1", "qty": 1}], "total": 5}\n```'
    r = Schema(json_schema=INVOICE_SCHEMA).run(ctx(out))
    (ev,) = r.evidence
    assert out[ev.start:ev.end] == '{"sku": "X1", "qty": 1}'
    assert "'price' is a required property" in ev.reason


def test_not_json_at_all() -> None:
    out = "I'm sorry, I can't produce an invoice for that order."
    r = Schema(json_schema=INVOICE_SCHEMA).run(ctx(out))
    assert not r.passed and "not valid JSON" in r.retry_hint
    truncated = '{"invoice": "INV-00042", "lines": ['
    r = Schema(json_schema=INVOICE_SCHEMA).run(ctx(truncated))
    assert not r.passed and r.evidence[0].start <= len(truncated)


def test_pydantic_model_by_import_path() -> None:
    check = Schema(model="tests.test_check_schema:Refund")
    assert check.run(ctx('{"order_id": "A-991", "amount": 19.99, "currency": "EUR"}')).passed
    out = '{"order_id": "A-991", "amount": "a lot"}'
    r = check.run(ctx(out))
    reasons = {e.reason.split(":")[0]: out[e.start:e.end] for e in r.evidence}
    assert reasons["$.amount"] == '"a lot"'
    assert reasons["$.currency"] == out  # missing field → its parent object, the root
    assert "currency" in r.retry_hint


def test_invalid_configuration_fails_at_construction() -> None:
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        Schema(json_schema={"type": "objekt"})
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        Schema(json_schema={"type": "object", "properties": {"a": {"minimum": "three"}}})
    with pytest.raises(ValidationError, match="has no attribute"):
        Schema(model="tests.test_check_schema:Refnud")
    with pytest.raises(ValidationError, match="cannot import module"):
        Schema(model="no_such_pkg.models:Refund")
    with pytest.raises(ValidationError, match="exactly one of"):
        Schema()
    with pytest.raises(ValidationError, match=r"package\.module:Model"):
        Schema(model="Refund")


def test_spans_helper_and_odd_text() -> None:
    doc = '{"a": [1, {"b": "ü😀"}], "c": null}'
    spans = json_spans(doc)
    assert doc[slice(*spans[("a", 1, "b")])] == '"ü😀"'
    assert path_str(("a", 1, "b")) == "$.a[1].b" and path_str(("x y",)) == "$['x y']"
    deep = "[" * 5000 + "]" * 5000
    r = Schema(json_schema={"type": "array"}).run(ctx(deep))
    assert r.score in (0.0, 1.0)  # deep nesting never crashes the check
    big = '{"k": "' + "x" * 1_100_000 + '"}'
    r = Schema(json_schema={"type": "object"}).run(ctx(big))
    assert not r.passed and "max_chars" in r.evidence[0].reason
