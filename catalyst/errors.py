"""Every exception Catalyst raises, as one tree.

::

    CatalystError                 base of everything below
    ├── Blocked                   the policy withheld an answer (not a fault: carries the verdict)
    ├── UserError                 the caller's mistake: fix the input, the policy or the call
    │   ├── PolicyError           a policy file or object is invalid (file, line, fix)
    │   ├── UnknownCheckError     a policy names a check that is not registered
    │   ├── RecordError           an input record is malformed (line, field)
    │   └── ConfigError           a check's or the CLI's settings are invalid
    └── RuntimeFailure            something broke while running; the input may be fine
        ├── CheckFailure          a check raised (the answer goes to review, never accept)
        ├── StoreError            the DuckDB log could not be opened or written
        │   └── StoreLockedError  another process holds the DuckDB file read-write
        │       └── LogOwnerUnreachableError  the log's owner process does not answer
        └── ModelCallError        a model endpoint could not be reached or answered badly
            └── ModelBudgetExceeded  a verdict used up its budget of model calls or tokens

User errors carry a message that names the thing and the fix; runtime failures carry the cause.
"""

from __future__ import annotations


class CatalystError(Exception):
    """Base class of all Catalyst errors."""


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


class PolicyError(UserError):
    """A policy is invalid. ``where`` is ``file:line`` when known."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{message} at {where}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),))


class UnknownCheckError(PolicyError):
    """A policy names a check that no installed package provides."""


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


class RuntimeFailure(CatalystError):
    """Something broke while running."""


class CheckFailure(RuntimeFailure):
    """A check raised instead of returning a result."""


class StoreError(RuntimeFailure):
    """The DuckDB log could not be opened, migrated or written."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file read-write."""


class LogOwnerUnreachableError(StoreLockedError):
    """The process that owns the log (``<db>.owner``, or ``CATALYST_LOG_OWNER``) holds it but does not answer."""


class ModelCallError(RuntimeFailure):
    """A model endpoint could not be reached, timed out, or answered with something unusable."""


class ModelBudgetExceeded(ModelCallError):
    """A verdict used up its budget of model calls or tokens; the check fails closed (review)."""
