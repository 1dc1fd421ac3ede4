"""User errors raised by evaluation and calibration: each names what is wrong and how to fix it.

All are :class:`catalyst.errors.UserError` subclasses, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

from catalyst.errors import EvaluationError  # the tree's root lives in catalyst.errors

__all__ = ["EvaluationError", "InvalidScoresError", "MissingLabelsError", "SingleClassError", "TooFewLabelsError"]


class MissingLabelsError(EvaluationError):
    """No record carries a ``label`` (1 = correct, 0 = not), so nothing can be measured."""


class SingleClassError(EvaluationError):
    """Every label is the same: ranking and calibration need both correct and incorrect answers."""


class InvalidScoresError(EvaluationError):
    """A score is NaN, infinite, missing or outside [0, 1] where a probability is required."""


class TooFewLabelsError(EvaluationError):
    """A calibrator was asked to learn from fewer labels than it needs."""
