"""Which run is validating which input file into this log (one at a time; see ``catalyst.store.runs``)."""

MIGRATIONS = [
    ("m071_log_runs", """
        CREATE TABLE log_runs (
            input VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            host VARCHAR NOT NULL,
            pid INTEGER NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ
        )"""),
]
