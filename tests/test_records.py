import pytest

from catalyst.errors import RecordError
from catalyst.jsonl import ReadStats, parse_record, read_records
from catalyst.records import CheckResult, Decision, Evidence, Interaction, Verdict


def test_only_output_is_required_and_id_is_stable():
    a = Interaction(output="Paris.")
    b = Interaction(output="Paris.")
    assert a.id == b.id and a.id.startswith("h-")
    assert Interaction(output="Lyon.").id != a.id
    assert Interaction(id="q-1", output="x").id == "q-1"


def test_chat_messages_as_input_become_text():
    rec = Interaction(input=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
                      output="hello")
    assert rec.input_text == "system: be brief\nuser: hi"


def test_decision_is_closed():
    assert {d.value for d in Decision} == {"accept", "review", "block", "retry"}
    with pytest.raises(ValueError):
        Decision("maybe")


def test_scores_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError):
        CheckResult(name="x", score=1.5, passed=True)
    with pytest.raises(ValueError):
        Evidence(start=5, end=2, reason="backwards")


def test_verdict_json_line_matches_the_contract():
    v = Verdict(id="q-17", confidence=0.82, decision=Decision.ACCEPT, policy="rag-strict@3f9c2a1",
                checks=[CheckResult(name="grounding", score=0.91, passed=True, ms=4.1)])
    line = v.to_json()
    assert line.startswith('{"id":"q-17","confidence":0.82,"decision":"accept","policy":"rag-strict@3f9c2a1"')
    assert Verdict.model_validate_json(line) == v


@pytest.mark.parametrize(("raw", "field", "needle"), [
    ({"input": "q"}, "output", "missing required field"),
    ({"output": "a", "colour": "red"}, "colour", "unknown field"),
    ({"output": "a", "label": 2}, "label", "Input should be 0 or 1"),
    ({"output": "a", "context": [1, 2]}, "context.0", "valid string"),
    ({"output": 42}, "output", "valid string"),
])
def test_bad_records_name_line_and_field(raw, field, needle):
    with pytest.raises(RecordError) as e:
        parse_record(raw, line=7)
    assert e.value.line == 7
    assert e.value.field == field
    assert needle in str(e.value)
    assert str(e.value).startswith(f"line 7, field `{field}`")


def test_jsonl_reader_reports_non_utf8_and_bad_json_with_line_numbers(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"output": "ok"}\n\n{"output": "caf\xe9"}\n{not json}\n{"output": "fine"}\n')
    with pytest.raises(RecordError, match=r"line 3: not UTF-8"):
        list(read_records(p))
    stats = ReadStats()
    got = list(read_records(p, skip_bad=True, stats=stats))
    assert [r.output for r in got] == ["ok", "fine"]
    assert [r.line for r in stats.rejected] == [3, 4]
    assert stats.blank == 1
    assert "not valid JSON" in stats.rejected[1].error


def test_a_one_megabyte_output_is_read(tmp_path):
    p = tmp_path / "big.jsonl"
    big = "word " * 210_000
    p.write_text(f'{{"output": "{big}"}}\n')
    (rec,) = list(read_records(p))
    assert len(rec.output) == len(big)
