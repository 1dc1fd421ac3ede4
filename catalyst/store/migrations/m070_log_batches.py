"""Batches written at most once: a distributed run (Ray, Spark, a retried task) names each batch it writes.

``Store.write_once(tables, key)`` inserts the key here in the same transaction as the batch's verdicts; a
second write with the same key (a task retried after its worker died, a second run over the same input)
commits nothing. ``verdicts`` is the batch's size; ``source`` says who wrote it (e.g. ``ray``).
"""

MIGRATIONS = [
    ("m070_log_batches", """
        CREATE TABLE log_batches (
            key VARCHAR PRIMARY KEY,
            written_at TIMESTAMPTZ NOT NULL,
            verdicts INTEGER NOT NULL,
            source VARCHAR
        )"""),
]
