"""Typed check outcomes (core 040-049): the hint a check gives the model when an answer is sent back."""

MIGRATIONS = [
    ("m040_check_results_retry_hint", "ALTER TABLE check_results ADD COLUMN retry_hint VARCHAR"),
]
