import json

import pytest

from catalyst.errors import PolicyError, UnknownCheckError
from catalyst.policy import Policy, load_policy, loads_policy, schema


def test_shipped_policies_load(repo):
    for f in sorted((repo / "policies").glob("*.yaml")):
        p = load_policy(f)
        assert p.version.startswith(p.name + "@") and len(p.version.split("@")[1]) == 7


def test_unknown_check_names_file_line_and_known_checks(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("name: a\nchecks:\n  - non_empty: {}\n  - lenght: {max_chars: 3}\n")
    with pytest.raises(UnknownCheckError) as e:
        load_policy(f)
    msg = str(e.value)
    assert f"unknown check `lenght` at {f}:4" in msg
    assert "did you mean `length`?" in msg
    assert "known: " in msg and "denylist" in msg and "non_empty" in msg


def test_bad_check_setting_points_at_its_line(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text("checks:\n  - length:\n      min_chars: 10\n      max_chars: 5\n")
    with pytest.raises(PolicyError, match=rf"max_chars.*below min_chars.* at {f}:4"):
        load_policy(f)


def test_invalid_regex_fails_at_load(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("checks:\n  - denylist:\n      patterns: ['(unclosed']\n")
    with pytest.raises(PolicyError, match=r"not a valid regular expression.* at .*c.yaml:3"):
        load_policy(f)


@pytest.mark.parametrize(("text", "needle", "line"), [
    ("checks:\n  - non_empty: {}\nthresholds: {accept: 0.2, block: 0.5}\n", "block must be <= accept", 3),
    ("checks:\n  - non_empty: {}\nthresholds: {accept: 1.5}\n", "less than or equal to 1", 3),
    ("checks: []\n", "at least 1 item", 1),
    ("checks:\n  - non_empty: {}\ncolour: red\n", "unknown key `colour`; allowed:", 3),
    ("checks:\n  - non_empty: {}\n    on_fail: explode\n", "on_fail", 3),
    ("checks:\n  - non_empty: {}\n  - non_empty: {}\n", "appears twice", 1),
    ("checks:\n  - non_empty: {}\n    length: {}\n", "names exactly one check", 2),
    ("checks: [non_empty\n", "not valid YAML", 2),
    ("- just a list\n", "a policy is a YAML mapping", None),
])
def test_policy_mistakes_are_clear(text, needle, line):
    with pytest.raises(PolicyError) as e:
        loads_policy(text, source="p.yaml")
    assert needle in str(e.value)
    if line is not None:
        assert str(e.value).endswith(f"p.yaml:{line}"), str(e.value)


def test_version_changes_with_behaviour_not_with_description():
    a = loads_policy("name: x\ndescription: one\nchecks:\n  - length: {max_chars: 10}\n")
    b = loads_policy("name: x\ndescription: two\nchecks:\n  - length: {max_chars: 10}\n")
    c = loads_policy("name: x\nchecks:\n  - length: {max_chars: 11}\n")
    # defaults written out or left implicit are the same behaviour
    d = loads_policy("name: x\nchecks:\n  - length: {max_chars: 10, min_chars: 1}\n")
    assert a.version == b.version == d.version
    assert a.version != c.version


def test_segment_overrides_compile_their_own_checks():
    p = load_policy("strict")
    eu = p.plan_for({"region": "EU"})
    us = p.plan_for({"region": "US"})
    length_eu = next(s.check for s in eu.steps if s.label == "length")
    length_us = next(s.check for s in us.steps if s.label == "length")
    assert (length_eu.max_chars, length_us.max_chars) == (2000, 4000)
    assert eu.thresholds.accept == 0.95


def test_segment_override_of_unused_check_is_refused():
    with pytest.raises(PolicyError, match="does not use"):
        loads_policy("checks: [non_empty]\nsegments:\n  - match: {region: EU}\n    checks: {length: {}}\n")


def test_policy_of_instances_equals_yaml():
    from catalyst_checks.basic import Length, NonEmpty

    in_code = Policy.of(NonEmpty(), Length(max_chars=200), name="x")
    in_yaml = loads_policy("name: x\nchecks:\n  - non_empty: {}\n  - length: {max_chars: 200}\n")
    assert in_code.version == in_yaml.version


def test_schema_is_json_and_lists_checks():
    s = schema()
    json.dumps(s)
    names = {next(iter(e["required"])) for e in s["properties"]["checks"]["items"]["anyOf"] if "required" in e}
    assert {"non_empty", "length", "denylist"} <= names
