"""Reviewer accounts, sign-in tokens and sessions for the web reviewer.

A token is shown once, when an admin creates it (``catalyst review token add NAME --role admin``); only its
SHA-256 is stored. Signing in with it opens a session: a random id in an HttpOnly, SameSite=Strict cookie
(only its hash in DuckDB) plus a per-session CSRF token (synchronizer pattern) that every form echoes.
Sessions live in the database, so they survive a server restart and ``signout`` ends them everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import duckdb

from catalyst.errors import ConfigError

Role = Literal["reviewer", "admin"]
ROLES: tuple[str, ...] = ("reviewer", "admin")
TOKEN_PREFIX = "cat_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


def _h(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def check_name(name: str) -> str:
    """Reviewer names appear in the audit trail: keep them short and plain."""
    if not _NAME_RE.match(name or ""):
        raise ConfigError(f"reviewer name `{name}` is not allowed; use 1-64 letters, digits, `.`, `_`, `@` or `-`, "
                          "starting with a letter or digit")
    return name


def add_user(con: duckdb.DuckDBPyConnection, name: str, role: str = "reviewer", *, replace: bool = False) -> str:
    """Create (or, with ``replace``, re-issue) a reviewer's token; returns the token, shown only this once."""
    check_name(name)
    if role not in ROLES:
        raise ConfigError(f"unknown role `{role}`; use one of: {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    exists = con.execute("SELECT 1 FROM review_users WHERE name = ?", [name]).fetchone()
    if exists and not replace:
        raise ConfigError(f"reviewer `{name}` already has a token; pass --replace to issue a new one "
                          "(the old one stops working)")
    if exists:
        con.execute("UPDATE review_users SET role = ?, token_hash = ?, revoked_at = NULL WHERE name = ?",
                    [role, _h(token), name])
        con.execute("DELETE FROM review_sessions WHERE user_name = ?", [name])
    else:
        con.execute("INSERT INTO review_users VALUES (?, ?, ?, ?, NULL)", [name, role, _h(token), _now()])
    return token


def revoke_user(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Disable a reviewer's token and end their sessions; their past decisions keep their name."""
    if not con.execute("SELECT 1 FROM review_users WHERE name = ?", [name]).fetchone():
        raise ConfigError(f"no reviewer named `{name}`; see `catalyst review token list`")
    con.execute("UPDATE review_users SET revoked_at = ? WHERE name = ?", [_now(), name])
    con.execute("DELETE FROM review_sessions WHERE user_name = ?", [name])


def list_users(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    cur = con.execute("SELECT name, role, created_at, revoked_at FROM review_users ORDER BY name")
    return [dict(zip(("name", "role", "created_at", "revoked_at"), r, strict=True)) for r in cur.fetchall()]


def user_by_token(con: duckdb.DuckDBPyConnection, token: str) -> User | None:
    """The active user a token belongs to, or None (wrong, revoked or malformed token)."""
    token = (token or "").strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    want = _h(token)
    row = con.execute("SELECT name, role, token_hash FROM review_users WHERE token_hash = ? AND revoked_at IS NULL",
                      [want]).fetchone()
    if row is None or not hmac.compare_digest(row[2], want):
        return None
    return User(row[0], row[1])


def user_by_name(con: duckdb.DuckDBPyConnection, name: str) -> User | None:
    row = con.execute("SELECT name, role FROM review_users WHERE name = ? AND revoked_at IS NULL", [name]).fetchone()
    return User(row[0], row[1]) if row else None


def open_session(con: duckdb.DuckDBPyConnection, user: User, ttl: timedelta) -> tuple[str, Session]:
    """Start a session; returns the cookie value (kept by the browser only) and the session."""
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    con.execute("DELETE FROM review_sessions WHERE expires_at < ?", [now])
    con.execute("INSERT INTO review_sessions VALUES (?, ?, ?, ?, ?)", [_h(sid), user.name, csrf, now, now + ttl])
    return sid, Session(user, csrf, now + ttl)


def session_for(con: duckdb.DuckDBPyConnection, sid: str | None) -> Session | None:
    """The live session behind a cookie value, or None (absent, unknown, expired, or user revoked)."""
    if not sid or len(sid) > 200:
        return None
    row = con.execute("""
        SELECT u.name, u.role, s.csrf, s.expires_at FROM review_sessions s
        JOIN review_users u ON u.name = s.user_name AND u.revoked_at IS NULL
        WHERE s.sid_hash = ? AND s.expires_at > ?""", [_h(sid), _now()]).fetchone()
    if row is None:
        return None
    return Session(User(row[0], row[1]), row[2], row[3])


def close_session(con: duckdb.DuckDBPyConnection, sid: str | None) -> None:
    if sid:
        con.execute("DELETE FROM review_sessions WHERE sid_hash = ?", [_h(sid)])


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an empty or missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
