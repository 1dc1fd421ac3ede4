"""Core tables: interactions, verdicts, per-check results, the review queue."""

MIGRATIONS = [
    ("m000_verdicts", """
        CREATE TABLE verdicts (
            verdict_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            policy VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,
            confidence DOUBLE NOT NULL,
            attempts INTEGER NOT NULL,
            reasons JSON,
            output VARCHAR,
            segment JSON,
            ms DOUBLE
        )"""),
    ("m001_interactions", """
        CREATE TABLE interactions (
            verdict_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            input JSON,
            output VARCHAR NOT NULL,
            context JSON,
            samples JSON,
            logprobs JSON,
            metadata JSON,
            label TINYINT
        )"""),
    ("m002_check_results", """
        CREATE TABLE check_results (
            verdict_id VARCHAR NOT NULL,
            id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            score DOUBLE,
            passed BOOLEAN NOT NULL,
            ms DOUBLE,
            error VARCHAR,
            evidence JSON,
            details JSON
        )"""),
    ("m003_review_items", """
        CREATE TABLE review_items (
            id VARCHAR PRIMARY KEY,
            verdict_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'pending',
            policy VARCHAR NOT NULL,
            confidence DOUBLE NOT NULL,
            severity INTEGER NOT NULL DEFAULT 0,
            reasons JSON,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )"""),
]
