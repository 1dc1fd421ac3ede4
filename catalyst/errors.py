"""Every exception Catalyst raises, as one tree (the only one: every other module re-exports from here).

::

    CatalystError                      base of everything below
    ├── Blocked                        the policy withheld an answer (not a fault: carries the verdict)
    ├── UserError                      the caller's mistake: fix the input, the policy or the call   [exit 2]
    │   ├── PolicyError                a policy file or object is invalid (file, line, fix)
    │   │   ├── UnknownCheckError      a policy names a check that is not registered
    │   │   └── PluginError            a policy's `plugins:` or `--import` module cannot be imported
    │   ├── RecordError                an input record is malformed (line, field)
    │   ├── ConfigError                a check's or the CLI's settings are invalid
    │   │   └── CheckNameTaken         a check name is already registered (built-in or plugin)
    │   ├── ReviewError                a review action cannot be done as asked
    │   │   ├── InvalidTextError       reviewer text with hidden/reordering characters or too long
    │   │   └── ItemNotFoundError, NotHolderError, LeaseExpiredError, AlreadyDecidedError
    │   │                              (catalyst.review.queue)
    │   ├── EvaluationError            labelled data cannot be evaluated or calibrated as given
    │   │   └── MissingLabelsError, SingleClassError, InvalidScoresError, TooFewLabelsError
    │   │                              (catalyst.evaluation.errors)
    │   └── NoDataError                the log holds no data for what was asked (empty log, empty window)
    └── RuntimeFailure                 something broke while running; the input may be fine        [exit 1]
        ├── CheckFailure               a check raised (the answer goes to review, never accept)
        ├── StoreError                 the DuckDB log could not be opened or written
        │   └── StoreLockedError       another process holds the DuckDB file read-write            [exit 2]
        │       └── LogOwnerUnreachableError  the log's owner process holds it but does not answer
        └── ModelCallError             a model endpoint could not be reached or answered badly
            ├── ModelBudgetExceeded    a verdict used up its budget of model calls or tokens
            ├── RegenerateFailed       re-asking the model (a `retry` decision) failed; carries the cause
            └── UpstreamError          the proxy's upstream failed; carries the reply to send back

User errors carry a message that names the thing and the fix; runtime failures carry the cause.
``exit_code`` is what the ``catalyst`` command exits with when the error reaches it (2: the user can fix
it — including a log held by another process; 1: a failure while running).
Classes defined elsewhere (``catalyst.review.queue``, ``catalyst.evaluation.errors``) subclass these;
``catalyst.review._text.ReviewError``, ``catalyst.wrapping.RegenerateFailed`` and
``catalyst.proxy._upstream.UpstreamError`` are re-exports of the classes here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CatalystError(Exception):
    """Base class of all Catalyst errors."""

    #: what the ``catalyst`` command exits with when this error ends a command
    exit_code = 1


class Blocked(CatalystError):
    """The policy blocked an answer. ``verdict`` says why; ``output`` is the withheld text; ``response``
    is what the wrapped call returned (e.g. the ``ChatCompletion``), for callers who want it anyway."""

    def __init__(self, message: str, *, verdict: object = None, output: str | None = None,
                 response: object = None) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.output = output
        self.response = response


class UserError(CatalystError):
    """The caller's mistake: the message says what to fix."""

    exit_code = 2


class PolicyError(UserError):
    """A policy is invalid. ``where`` is ``file:line`` when known."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{message} at {where}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),))


class UnknownCheckError(PolicyError):
    """A policy names a check that no installed package provides."""


class PluginError(PolicyError):
    """A module named in a policy's ``plugins:`` list (or by ``--import``) cannot be imported."""


class RecordError(UserError):
    """An input record is malformed. ``line`` is 1-based; ``field`` is the JSON path at fault."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        self.line = line
        self.field = field
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field `{field}`")
        self.reason = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:  # keep line and field across processes
        return (_record_error, (self.reason, self.line, self.field))


def _record_error(reason: str, line: int | None, field: str | None) -> RecordError:
    return RecordError(reason, line=line, field=field)


class ConfigError(UserError):
    """A setting is invalid (check configuration, CLI option, environment)."""


class CheckNameTaken(ConfigError):
    """A check name is already registered by a built-in or a plugin; pick another or pass ``override=True``."""


class ReviewError(UserError):
    """A review action that cannot be done as asked; the message says why and what to do."""


class InvalidTextError(ReviewError):
    """Reviewer input that cannot be stored as given (too long, hidden or reordering characters)."""


class EvaluationError(UserError):
    """Labelled data cannot be evaluated or calibrated as given."""


class NoDataError(UserError):
    """The log holds nothing to report on for the asked window, segment or run (monitoring)."""


class RuntimeFailure(CatalystError):
    """Something broke while running."""


class CheckFailure(RuntimeFailure):
    """A check raised instead of returning a result."""


class StoreError(RuntimeFailure):
    """The DuckDB log could not be opened, migrated or written."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file read-write."""

    exit_code = 2  # the fix is the user's: stop the other process, or go through it


class LogOwnerUnreachableError(StoreLockedError):
    """The process that owns the log (``<db>.owner``, or ``CATALYST_LOG_OWNER``) holds it but does not answer."""


class ModelCallError(RuntimeFailure):
    """A model endpoint could not be reached, timed out, or answered with something unusable."""


class ModelBudgetExceeded(ModelCallError):
    """A verdict used up its budget of model calls or tokens; the check fails closed (review)."""


class RegenerateFailed(ModelCallError):
    """Raised by a wrapper's ``regenerate`` when re-asking the model failed; carries the cause."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


@dataclass
class UpstreamError(ModelCallError):
    """What the proxy sends back when the upstream failed: its own status and body when it answered, else
    502/504."""

    status: int
    body: bytes
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message
