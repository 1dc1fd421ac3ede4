"""Web reviewer accounts and sign-in sessions.

Tokens and session ids are never stored: only their SHA-256 (both are 256-bit random values, so a plain
hash is enough — there is nothing to brute-force). ``revoked_at`` disables a token without losing who
made which decision.
"""

MIGRATIONS = [
    ("m015_review_users", """
        CREATE TABLE review_users (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL CHECK (role IN ('reviewer', 'admin')),
            token_hash VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL,
            revoked_at TIMESTAMPTZ
        )"""),
    ("m015_review_sessions", """
        CREATE TABLE review_sessions (
            sid_hash VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            csrf VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        )"""),
]
