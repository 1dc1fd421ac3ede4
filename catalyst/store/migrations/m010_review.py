"""The review queue: claims with leases, decisions, an append-only audit trail, and labels.

``review_items`` (core, m003) holds one row per interaction; these migrations add the claim and decision
state to it and the tables the reviewer tools write. Column meanings are documented in
``catalyst/review/queue.py`` (the queue API) — the ``labels`` table is the calibration helper's input.
"""

MIGRATIONS = [
    ("m010_review_item_state", """
        ALTER TABLE review_items ADD COLUMN thread_id VARCHAR;
        ALTER TABLE review_items ADD COLUMN claimed_by VARCHAR;
        ALTER TABLE review_items ADD COLUMN claim_id VARCHAR;
        ALTER TABLE review_items ADD COLUMN claimed_at TIMESTAMPTZ;
        ALTER TABLE review_items ADD COLUMN lease_expires TIMESTAMPTZ;
        ALTER TABLE review_items ADD COLUMN decided_at TIMESTAMPTZ;
        ALTER TABLE review_items ADD COLUMN decided_by VARCHAR;
        ALTER TABLE review_items ADD COLUMN decision VARCHAR;
        ALTER TABLE review_items ADD COLUMN escalations INTEGER DEFAULT 0;
        ALTER TABLE review_items ADD COLUMN sla_notified_at TIMESTAMPTZ;
        """),
    ("m011_review_decisions", """
        CREATE TABLE review_decisions (
            decision_id VARCHAR PRIMARY KEY,
            item_id VARCHAR NOT NULL,
            verdict_id VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            corrected_output VARCHAR,
            reason VARCHAR,
            tags JSON,
            decided_at TIMESTAMPTZ NOT NULL,
            thread_id VARCHAR,
            resumed_at TIMESTAMPTZ,
            final_decision VARCHAR
        )"""),
    ("m012_review_audit", """
        CREATE SEQUENCE review_audit_seq START 1;
        CREATE TABLE review_audit (
            seq BIGINT PRIMARY KEY DEFAULT nextval('review_audit_seq'),
            ts TIMESTAMPTZ NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            item_id VARCHAR,
            before JSON,
            after JSON
        )"""),
    ("m013_labels", """
        CREATE TABLE labels (
            id VARCHAR NOT NULL,
            label TINYINT NOT NULL,
            corrected_output VARCHAR,
            reviewer VARCHAR NOT NULL,
            decided_at TIMESTAMPTZ NOT NULL,
            source VARCHAR NOT NULL,
            decision_id VARCHAR,
            verdict_id VARCHAR,
            policy VARCHAR,
            confidence DOUBLE,
            action VARCHAR
        );
        CREATE VIEW labels_latest AS
            SELECT * EXCLUDE (rn) FROM (
                SELECT *, row_number() OVER (PARTITION BY id ORDER BY decided_at DESC) AS rn FROM labels)
            WHERE rn = 1;
        """),
]
