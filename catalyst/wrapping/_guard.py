"""One validation at a time for wrappers: a :class:`~catalyst.pipeline.Pipeline` with a per-call re-ask.

Every wrapper (``catalyst.wrap``, the drop-in OpenAI client, the LangGraph node, the proxy) needs the same
things around a :class:`~catalyst.Validator`: run the flow for one call with a *per-call* ``regenerate``
(the retry path re-asks with that call's arguments), and log a ``review`` verdict when the model call
itself failed. Both are the pipeline's own (a failed re-ask and a failed call are outcomes like any other,
handed to the same sink); ``Guard`` only binds them to a validator and keeps the wrappers' API.

Exactly one verdict is logged per answer: the final attempt's, or the failure's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalyst.errors import RegenerateFailed  # defined in the one tree; re-exported here
from catalyst.flow import Regenerate, Sink
from catalyst.pipeline import Pipeline
from catalyst.records import Interaction, Verdict
from catalyst.store import Store
from catalyst.validator import PolicyLike, Validator

__all__ = ["Guard", "RegenerateFailed"]


class Guard:
    """A validator for wrappers. ``store`` may be a path or a :class:`Store`; ``flush_interval`` seconds
    between writes to DuckDB (0 = before each call returns). ``validator=`` reuses a :class:`Validator`
    (its sink, when it has a store; else ``store`` is its log)."""

    def __init__(self, policy: PolicyLike = "default", *, store: Store | str | Path | None = None,
                 validator: Validator | None = None, services: dict[str, Any] | None = None,
                 flush_interval: float = 1.0) -> None:
        if validator is not None and (validator.store is not None or store is None):
            self.validator = validator
        else:
            base = validator.pipeline if validator is not None else None
            self.validator = Validator(
                base.policy if base is not None else policy, store=store, flush_interval=flush_interval,
                services=base.flow.services if base is not None else services,
                regenerate=base.flow.regenerate if base is not None else None,
                on_verdict=base.flow.on_verdict if base is not None else None)

    @property
    def pipeline(self) -> Pipeline:
        return self.validator.pipeline

    @property
    def policy(self) -> Any:
        return self.validator.policy

    @property
    def store(self) -> Store | None:
        return self.validator.store

    @property
    def sink(self) -> Sink:
        return self.validator.sink

    @property
    def writer(self) -> Any:
        """The sink, under the name the proxy's health check uses (a ``LogSink``: ``pending``, ``errors``)."""
        return self.validator.sink

    @property
    def max_retries(self) -> int:
        return int(self.validator.policy.policy.retry.max_retries)

    # -- validating --------------------------------------------------------------------------------
    async def acheck(self, records: Sequence[Interaction], regenerate: Regenerate | None = None) -> list[Verdict]:
        """Validate ``records`` (one flow run); ``regenerate`` re-asks on ``retry`` decisions."""
        return [o.verdict for o in await self.pipeline.arun(list(records), regenerate=regenerate)]

    def check(self, records: Sequence[Interaction], regenerate: Regenerate | None = None) -> list[Verdict]:
        """The sync wrapper of :meth:`acheck`."""
        return [o.verdict for o in self.pipeline.run(list(records), regenerate=regenerate)]

    def log_failure(self, record: Interaction, error: BaseException | str) -> Verdict:
        """Log (and return) a ``review`` verdict for a call that produced no answer: the model call failed."""
        return self.pipeline.fail(record, error).verdict

    # -- lifecycle ---------------------------------------------------------------------------------
    def flush(self) -> int:
        """Write buffered verdicts to DuckDB now; returns how many."""
        return self.sink.flush()

    def close(self) -> None:
        """Flush and release the log (the guard can't log after this)."""
        self.sink.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
