"""Evaluate confidence on labelled answers: ranking, calibration, selective prediction, segments, baselines.

``load_jsonl`` / ``load_store`` read scored records into numpy columns; ``rescore`` replays a policy over
precomputed check scores; ``evaluate`` returns every number as one JSON-ready dict; ``html`` renders it.
"""

from catalyst.evaluation.data import EvalData, from_columns, load_jsonl, load_store
from catalyst.evaluation.errors import (
    EvaluationError,
    InvalidScoresError,
    MissingLabelsError,
    SingleClassError,
    TooFewLabelsError,
)
from catalyst.evaluation.metrics import (
    accuracy_at_coverage,
    auprc,
    auroc,
    brier,
    ece,
    log_loss,
    reliability,
    review_rate_for_error,
    risk_coverage,
)
from catalyst.evaluation.report import evaluate
from catalyst.evaluation.scoring import rescore, scored_from_records

__all__ = [
    "EvalData", "EvaluationError", "InvalidScoresError", "MissingLabelsError", "SingleClassError",
    "TooFewLabelsError", "accuracy_at_coverage", "auprc", "auroc", "brier", "ece", "evaluate", "from_columns",
    "load_jsonl", "load_store", "log_loss", "reliability", "rescore", "review_rate_for_error", "risk_coverage",
    "scored_from_records",
]
