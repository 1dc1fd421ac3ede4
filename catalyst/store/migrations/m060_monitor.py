"""Monitoring: audit-sampled review items, alert firings and state, challenger verdicts, version events.

* ``review_items.audit``: the item is an *audit sample* — an auto-accepted answer sent to review at random
  (``review.audit_sample`` in the policy), so its label is an unbiased estimate of the accepted error.
* ``monitor_alerts``: every firing and recovery of an alert rule (append-only); ``monitor_alert_state``:
  one row per rule, the hysteresis state ``catalyst watch`` carries from one evaluation to the next.
* ``challenger_verdicts``: verdicts of a challenger policy on traffic the baseline decided (mode ``shadow``,
  ``canary`` or ``replay``), beside the baseline's; never read by the live decision path.
* ``policy_versions``: canary steps, promotions and rollbacks, in order.
"""

MIGRATIONS = [
    ("m060_review_audit_flag", """
        ALTER TABLE review_items ADD COLUMN audit BOOLEAN DEFAULT false;
        """),
    ("m061_monitor_alerts", """
        CREATE TABLE monitor_alerts (
            ts TIMESTAMPTZ NOT NULL,
            rule VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            threshold DOUBLE,
            window_start TIMESTAMPTZ,
            window_end TIMESTAMPTZ,
            message VARCHAR NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE monitor_alert_state (
            rule VARCHAR PRIMARY KEY,
            firing BOOLEAN NOT NULL,
            breaches INTEGER NOT NULL,
            clears INTEGER NOT NULL,
            since TIMESTAMPTZ,
            last_value DOUBLE,
            updated_at TIMESTAMPTZ NOT NULL
        );
        """),
    ("m062_challenger_verdicts", """
        CREATE TABLE challenger_verdicts (
            run_id VARCHAR NOT NULL,
            mode VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            id VARCHAR NOT NULL,
            baseline_verdict_id VARCHAR,
            baseline_policy VARCHAR,
            baseline_decision VARCHAR,
            baseline_confidence DOUBLE,
            policy VARCHAR NOT NULL,
            decision VARCHAR,
            confidence DOUBLE,
            error VARCHAR
        );
        CREATE TABLE policy_versions (
            ts TIMESTAMPTZ NOT NULL,
            action VARCHAR NOT NULL,
            policy VARCHAR NOT NULL,
            source VARCHAR,
            share DOUBLE,
            previous VARCHAR,
            actor VARCHAR,
            note VARCHAR
        );
        """),
]
