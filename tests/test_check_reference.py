"""The generated checks reference stays in sync; the CLI lists checks; policies configure the checks from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalyst.cli import app
from catalyst.cli.checks import builtin_checks, reference_markdown
from catalyst.errors import PolicyError
from catalyst.policy import loads_policy

REPO = Path(__file__).resolve().parents[1]
MINE = ["pii", "secrets", "toxicity", "schema", "topic", "injection", "leakage", "input_integrity"]


def test_docs_checks_md_is_in_sync_with_the_registry() -> None:
    committed = (REPO / "docs" / "checks.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), (
        "docs/checks.md is stale: run `catalyst checks reference --out docs/checks.md` and commit it")


def test_reference_documents_every_setting() -> None:
    text = reference_markdown()
    for name, cls in builtin_checks().items():
        assert f"## {name}\n" in text
        for field, info in cls.model_fields.items():
            assert f"| `{field}` |" in text
            if name in MINE:
                assert info.description, f"{name}.{field} has no description"
    for name in MINE:
        assert name in builtin_checks()


def test_cli_list_and_reference(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["checks", "list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in MINE:
        assert name in res.output
    out = tmp_path / "docs" / "checks.md"
    res = runner.invoke(app, ["checks", "reference", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8") == reference_markdown()


POLICY = """
name: local-suite
checks:
  - pii: {mode: patterns, entities: [EMAIL_ADDRESS, CREDIT_CARD], action: redact}
  - secrets: {entropy_scan: false}
  - toxicity: {threshold: 0.6}
  - schema:
      json_schema: {type: object, required: [answer]}
  - topic:
      topics: {legal advice: ["you should sue them", "this contract clause is unenforceable"]}
  - injection: {use_embeddings: false}
  - leakage: {system_prompt: "You are a helpful assistant for Acme billing."}
  - input_integrity: {required: [output]}
"""


def test_all_checks_configure_from_yaml() -> None:
    compiled = loads_policy(POLICY, source="local.yaml")
    names = [s.check.name for s in compiled.default.steps]
    assert sorted(names) == sorted(MINE)


@pytest.mark.parametrize(("check_yaml", "message"), [
    ("pii: {entities: [EMAIL, PERSON]}", "unknown PII entity type 'EMAIL'"),
    ("secrets: {extra_patterns: ['sk-(unclosed']}", "not a valid regular expression"),
    ("schema: {json_schema: {type: objekt}}", "not a valid JSON Schema"),
    ("schema: {model: 'catalyst.records:Nope'}", "has no attribute"),
    ("injection: {extra_patterns: ['[a-']}", "not a valid regular expression"),
    ("topic: {topics: []}", "topics"),
    ("input_integrity: {required: [inputs]}", "unknown field"),
    ("toxicity: {threshold: 1.5}", "threshold"),
])
def test_bad_settings_fail_at_load_with_file_and_line(check_yaml: str, message: str) -> None:
    text = f"name: bad\nchecks:\n  - non_empty: {{}}\n  - {check_yaml}\n"
    with pytest.raises(PolicyError, match=message) as e:
        loads_policy(text, source="bad.yaml")
    assert "bad.yaml:4" in str(e.value)
