"""Every model call attempt (``catalyst.llm``), independent of verdicts: latency, tokens, status, error.

``key`` is the budget key the call was made under (the record id when a check made it), so calls can be
joined to verdicts when there is one.
"""

MIGRATIONS = [
    ("m030_model_calls", """
        CREATE TABLE model_calls (
            ts TIMESTAMPTZ NOT NULL,
            model VARCHAR NOT NULL,
            base_url VARCHAR,
            endpoint VARCHAR NOT NULL,
            latency_ms DOUBLE NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            http_status INTEGER,
            attempt INTEGER NOT NULL,
            key VARCHAR,
            error VARCHAR
        )"""),
]
