"""secrets: provider keys, private keys, connection strings; no alarms on prose, hashes or placeholders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalyst.checks import CheckContext
from catalyst.records import Interaction
from catalyst_checks.secrets import Secrets


def ctx(output: str) -> CheckContext:
    return CheckContext(record=Interaction(output=output))


CODE_ANSWER = '''Here's a working config for your deploy script:

```python
import boto3

session = boto3.Session(
    aws_access_key_id="AKIA4HXQ2LMN7RT5WZPQ",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Lp2Rk9a",
)
DATABASE_URL = "postgres://billing_svc:Tr0ub4dor-and-3@db-prod.internal:5432/billing"
```
'''

PROSE = (
    "To rotate your password, open Settings → Security and choose Reset. The API key is shown only once, "
    "so store it in your secrets manager; tokens expire after 24 hours. "
    "Commit 3f9c2a1b7e8d4c5a6b7e8f9a0b1c2d3e4f5a6b7c "
    "fixed the login bug, and the release tarball's SHA-256 is "
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855. The request id was "
    "550e8400-e29b-41d4-a716-446655440000. Docs: https://docs.acme.dev/v2/auth/tokens#rotation"
)


def test_code_snippet_with_keys_and_connection_string() -> None:
    r = Secrets().run(ctx(CODE_ANSWER))
    assert not r.passed and r.score == 0.0
    kinds = set(r.details["found"])
    assert {"AWS Access Key", "AWS secret access key", "Connection string password"} <= kinds
    spans = [CODE_ANSWER[e.start:e.end] for e in r.evidence]
    assert any("AKIA4HXQ2LMN7RT5WZPQ" in s for s in spans)
    assert any("Tr0ub4dor-and-3" in s for s in spans)
    assert all("Tr0ub4dor-and-3" not in e.reason for e in r.evidence)  # reasons mask the secret


@pytest.mark.parametrize(("text", "kind"), [
    ("Use this header: Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9."
     "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
     "Bearer token"),
    ("git clone https://ghp_R8sTq2ZlXk4vB9nW1yH6cJ3mP0aD5fE7gU2i@github.com/acme/infra.git", "GitHub Token"),
    ("Set OPENAI_API_KEY=sk-proj-Zk3v9QmT2xLr8WbN4cYp1HsJ6dFg0AeU in your .env", "OpenAI API key"),
    ("slack:\n  bot_token: xoxb-204718492273-5209384710293-Kq8ZrTbWv2LmNp4XyHs9JdF3", "Slack Token"),
    ("stripe.api_key = 'sk_live_51HxQ2bK8ZvLm4TnR9wYp3JcD'", "Stripe Access Key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
     "-----END OPENSSH PRIVATE KEY-----", "Private Key block"),
    ("redis_url: rediss://default:Vq8x2LmZ9kPw4@cache-eu.upstash.io:6379", "Connection string password"),
    ("const key = \"AIzaSyD4kR8vN2mQ7xT1wL9pZ3bH6cJ0fG5eA2s\";", "Google API key"),
])
def test_provider_secrets_found(text: str, kind: str) -> None:
    r = Secrets().run(ctx(text))
    assert not r.passed and r.score == 0.0
    assert kind in r.details["found"], r.details
    for e in r.evidence:
        assert 0 <= e.start < e.end <= len(text)


def test_password_assignment_is_generic() -> None:
    r = Secrets().run(ctx('db:\n  user: app\n  password: "k9#Lm2!vQx7z"\n'))
    assert not r.passed and r.score == pytest.approx(0.2)
    assert r.details["found"] == ["Secret keyword assignment"]


@pytest.mark.parametrize("text", [
    PROSE,
    'Set api_key="<your-api-key>" and password: ${DB_PASSWORD} in config.yaml, then restart.',
    "For local development use postgres://localhost:5432/app, no password needed.",
    'api_key = "example-key-here" and token: my_example',
    "Überweisungen dauern 1–2 Werktage 😀. パスワードを忘れた場合はリセットしてください。",
    "password: reset it from the login page",
])
def test_no_false_alarm(text: str) -> None:
    r = Secrets().run(ctx(text))
    assert r.passed and r.score == 1.0, [e.reason for e in r.evidence]


def test_entropy_settings() -> None:
    token = "Kq8ZrTbWv2LmNp4XyHs9JdF3aQ7cE1uV"
    assert not Secrets().run(ctx(f"the value is {token}")).passed
    assert Secrets(entropy_scan=False).run(ctx(f"the value is {token}")).passed
    digest = "Checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert Secrets().run(ctx(digest)).passed
    assert not Secrets(flag_hex=True).run(ctx(digest)).passed


def test_custom_patterns_ignore_and_bad_regex() -> None:
    text = "Your internal token is ACME-TKN-7731-QX and the test key sk_live_51HxQ2bK8ZvLm4TnR9wYp3JcD"
    check = Secrets(extra_patterns=[r"ACME-TKN-\d{4}-[A-Z]{2}"], ignore=["sk_live_51HxQ2bK8ZvLm4TnR9wYp3JcD"])
    r = check.run(ctx(text))
    assert r.details["found"] == ["Custom pattern"]
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Secrets(extra_patterns=["ACME-(TKN"])


def test_one_megabyte_answer_is_bounded() -> None:
    text = "The password rotation policy is documented in the wiki. " * 19_000
    r = Secrets(max_chars=100_000).run(ctx(text))
    assert not r.passed and any("not scanned" in e.reason for e in r.evidence)
    assert r.score == pytest.approx(100_000 / len(text))
    batch = Secrets().run_batch([ctx(CODE_ANSWER), ctx(PROSE)])
    assert [b.passed for b in batch] == [False, True]  # type: ignore[union-attr]


def test_a_key_in_a_real_format_is_reported_even_when_it_ends_in_example() -> None:
    """AWS's documented key has the format of a real one: report it; `ignore` is the way to allow it."""
    text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
    r = Secrets().run(ctx(text))
    assert not r.passed and r.score == 0.0 and "AWS Access Key" in r.details["found"]
    assert all("AKIAIOSFODNN7EXAMPLE" not in (e.text or "") + e.reason for e in r.evidence)
    assert Secrets(ignore=["AKIAIOSFODNN7EXAMPLE"]).run(ctx(text)).passed


def test_evidence_keeps_kind_span_and_a_masked_form_only() -> None:
    r = Secrets().run(ctx(CODE_ANSWER))
    for e in r.evidence:
        value = CODE_ANSWER[e.start:e.end]
        assert e.text is not None and value not in e.text and value not in e.reason
    assert any(e.text == "AKIA**** (20 chars)" for e in r.evidence)  # the public format prefix and the length
