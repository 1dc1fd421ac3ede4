"""Evaluate confidence on labelled answers: ranking, calibration, selective prediction, segments, baselines.

``load_jsonl`` / ``load_store`` read scored records into numpy columns; ``rescore`` replays a policy over
precomputed check scores; ``evaluate`` returns every number as one JSON-ready dict; ``render_html`` /
``plot_compare`` draw it; ``tune`` / ``outcome`` pick thresholds and say what they will do (``tradeoff_warnings``:
what they cost beyond the goal); ``write_policy`` writes the new policy version. The same calls
``catalyst eval / calibrate / tune`` make.
"""

from catalyst.evaluation.data import EvalData, from_columns, load_jsonl, load_store
from catalyst.evaluation.derive import write_policy
from catalyst.evaluation.errors import (
    EvaluationError,
    InvalidScoresError,
    MissingLabelsError,
    SingleClassError,
    TooFewLabelsError,
)
from catalyst.evaluation.html import plot_compare, render_html
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
from catalyst.evaluation.tuning import Outcome, Thresholds, hash_split, outcome, tradeoff_warnings, tune

__all__ = [
    "EvalData", "EvaluationError", "InvalidScoresError", "MissingLabelsError", "Outcome", "SingleClassError",
    "Thresholds", "TooFewLabelsError", "accuracy_at_coverage", "auprc", "auroc", "brier", "ece", "evaluate",
    "from_columns", "hash_split", "load_jsonl", "load_store", "log_loss", "outcome", "plot_compare", "reliability",
    "render_html", "rescore", "review_rate_for_error", "risk_coverage", "scored_from_records", "tradeoff_warnings",
    "tune", "write_policy",
]
