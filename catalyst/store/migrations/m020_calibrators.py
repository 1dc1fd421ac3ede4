"""Calibrators, versioned: each fit is a row; ``parent_id`` links to the one it replaced (rollback);
one ``active`` row per policy name."""

MIGRATIONS = [
    ("m020_calibrators", """
        CREATE TABLE calibrators (
            id VARCHAR PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL,
            policy VARCHAR,
            method VARCHAR NOT NULL,
            params JSON NOT NULL,
            n_labels INTEGER NOT NULL,
            metrics JSON,
            parent_id VARCHAR,
            active BOOLEAN NOT NULL DEFAULT false
        )"""),
]
