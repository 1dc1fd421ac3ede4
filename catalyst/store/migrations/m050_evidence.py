"""Evidence, not pass marks (issue 11): a verdict says whether evidence checks scored the answer.

``verdicts.evidence`` is ``scored`` or ``none``; with ``none`` the answer was not verified and ``confidence`` is
NULL (never 1.0), so ``verdicts.confidence`` and ``review_items.confidence`` become nullable. Rows written
before this migration were all scored the old way: they keep ``scored``. SQL aggregates (``avg(confidence)``)
skip unverified answers by themselves; count them with ``WHERE evidence = 'none'``.
"""

MIGRATIONS = [
    ("m050_verdicts_evidence", """
        ALTER TABLE verdicts ADD COLUMN evidence VARCHAR DEFAULT 'scored'"""),
    ("m051_verdicts_confidence_nullable", """
        ALTER TABLE verdicts ALTER COLUMN confidence DROP NOT NULL"""),
    ("m052_review_confidence_nullable", """
        ALTER TABLE review_items ALTER COLUMN confidence DROP NOT NULL"""),
]
