"""Human review: the durable queue, the waiting flow, reviewer front ends, notifications, labels.

The queue API is :class:`catalyst.review.queue.ReviewQueue` (read its module docstring first).
"""

from catalyst.review.item import ReviewItem
from catalyst.review.queue import (
    Action,
    AlreadyDecidedError,
    Claim,
    ItemNotFoundError,
    LeaseExpiredError,
    NotHolderError,
    QueueRow,
    ReviewDecision,
    ReviewError,
    ReviewQueue,
)

__all__ = [
    "Action",
    "AlreadyDecidedError",
    "Claim",
    "ItemNotFoundError",
    "LeaseExpiredError",
    "NotHolderError",
    "QueueRow",
    "ReviewDecision",
    "ReviewError",
    "ReviewItem",
    "ReviewQueue",
]
