"""Sensitive values of every kind the `pii` and `secrets` checks know, planted in records for the redaction tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalyst.policy import CompiledPolicy, loads_policy

PRIVATE_KEY_BODY = "MIIEowIBAAKCAQEAvXq3kTz9pLm2RwQ8sN4yHcJ5fGdUa7bVe0Xr1WiKoPtZnMsLhQjY"
#: kind → the value; each must be found nowhere in what is written.
PLANTED: dict[str, str] = {
    "card": "4111 1111 1111 1111",
    "card_compact": "5500005555555559",
    "ssn": "536-22-8147",
    "email": "m.okafor.family@gmail.com",
    "phone": "415-555-0173",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ip": "203.0.113.77",
    "aws_key": "AKIAIOSFODNN7EXAMPLE",
    "aws_key_2": "AKIA4HXQ2LMN7RT5WZPQ",
    "aws_secret": "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",
    "private_key_line": PRIVATE_KEY_BODY,
    "password": "Tr0ub4dor&3x!",
    "db_password": "S3cr3t-Pa55w0rd",
    "github": "ghp_R8sTq2ZlXk4vB9nW1yH6cJ3mP0aD5fE7gU2i",
    "openai": "sk-proj-Zk3v9QmT2xLr8WbN4cYp1HsJ6dFg0AeU",
    "slack": "xoxb-204718492273-5209384710293-Kq8ZrTbWv2LmNp4XyHs9JdF3",
    "stripe": "sk_live_51HxQ2bK8ZvLm4TnR9wYp3JcD",
    "huggingface": "hf_kQ8rT2vX9mL4nB7cW1yZ3pJ6sD0fG5hA8eU",
    "google": "AIzaSyD4k9Xq2LmT7vB1nR8wZ3pJ6cF0hG5sE2u",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
}


def answer_text() -> str:
    """An answer holding every planted value, in the forms they take in real answers."""
    p = PLANTED
    return (
        f"Your card {p['card']} (backup {p['card_compact']}) is on file; SSN {p['ssn']}. "
        f"Write to {p['email']} or call {p['phone']}. Wire to IBAN {p['iban']}; the server is at {p['ip']}.\n"
        f"aws_access_key_id = {p['aws_key']}\naws_secret_access_key = {p['aws_secret']}\n"
        f"backup key id {p['aws_key_2']}\n"
        f"-----BEGIN RSA PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n-----END RSA PRIVATE KEY-----\n"
        f"password: {p['password']}\nDATABASE_URL=postgres://billing:{p['db_password']}@db.internal:5432/billing\n"
        f"GITHUB_TOKEN={p['github']}\nOPENAI_API_KEY={p['openai']}\nslack bot_token: {p['slack']}\n"
        f"stripe.api_key = '{p['stripe']}'\nHF_TOKEN={p['huggingface']}\nGOOGLE_KEY={p['google']}\n"
        f"Authorization: Bearer {p['jwt']}\n"
    )


def planted_record(i: int = 0, **over: Any) -> dict[str, Any]:
    """A record with planted values in every field that gets stored."""
    p = PLANTED
    rec: dict[str, Any] = {
        "id": f"planted-{i}",
        "input": [
            {"role": "system", "content": f"Internal: our Stripe key is {p['stripe']}."},
            {"role": "user", "content": f"I'm at {p['email']}, card {p['card']}, my password: {p['password']}"},
        ],
        "output": answer_text(),
        "context": [f"Customer SSN {p['ssn']}, phone {p['phone']}.", f"Key: {p['aws_key']} / {p['github']}"],
        "samples": [f"Call {p['phone']} or mail {p['email']}."],
        "metadata": {"user": p["email"], "segment": {"region": "EU"}, "note": f"token {p['openai']}"},
    }
    rec.update(over)
    return rec


POLICY_YAML = """
name: planted
checks:
  - non_empty: {}
  - pii: {mode: patterns, action: redact}
  - secrets: {}
    on_fail: block
  - denylist: {phrases: ["as an AI language model"]}
"""


def planted_policy(extra: str = "") -> CompiledPolicy:
    return loads_policy(POLICY_YAML + extra)


def found_in(blob: bytes) -> list[str]:
    """The planted kinds whose value occurs in ``blob`` (also JSON-escaped: ``/`` may be written ``\\/``)."""
    hits = []
    for kind, value in PLANTED.items():
        forms = {value, value.replace("/", "\\/")}
        if any(f.encode() in blob for f in forms):
            hits.append(kind)
    return hits


def files_bytes(*paths: Path) -> bytes:
    """The bytes of each path that exists (a DuckDB file, its .wal, a JSONL file)."""
    out = b""
    for p in paths:
        if p.exists():
            out += p.read_bytes()
    return out
