"""Policies as versions you can test on real traffic: shadow, canary, replay, promotion and rollback.

* :class:`Shadow` wraps a validator: every answer is decided by the validator as before; a challenger policy
  scores the same answer on a background thread and its verdict goes to ``challenger_verdicts`` (mode
  ``shadow``) beside the baseline's. A challenger that raises is counted and logged, never seen by the caller.
* :class:`Canary` routes a share of traffic to the challenger by a stable hash of the id
  (:func:`catalyst.monitor.audit.canary_draw`, monotone: raising the share only adds ids), in steps; both
  arms log to the same store, told apart by ``verdicts.policy``.
* :func:`replay` re-scores logged interactions with another policy offline (mode ``replay``).
* :func:`promote` / :func:`rollback` / :func:`record` append to ``policy_versions``; :func:`active` reads
  which version is live (the last promotion not rolled back) and :func:`canary_state` the current canary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from catalyst.errors import CatalystError, PolicyError
from catalyst.monitor._sql import Window, prepare, rows
from catalyst.monitor.audit import canary_draw

_COLS = ["run_id", "mode", "ts", "id", "baseline_verdict_id", "baseline_policy", "baseline_decision",
         "baseline_confidence", "policy", "decision", "confidence", "error"]


def load_challenger(policy: Any) -> Any:
    """A store-less Validator for the challenger; a policy that fails to load is a one-line PolicyError."""
    from catalyst.validator import Validator

    if hasattr(policy, "validate_many"):
        return policy
    try:
        return Validator(policy)
    except CatalystError as e:
        raise PolicyError(f"challenger policy `{policy}` failed to load: {e}") from None
    except (OSError, ValueError) as e:
        raise PolicyError(f"challenger policy `{policy}` failed to load: {e}; check the path and its YAML") from None


def write_challenger(con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> int:
    if not records:
        return 0
    table = pa.Table.from_pylist(records, schema=pa.schema([
        ("run_id", pa.string()), ("mode", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("id", pa.string()),
        ("baseline_verdict_id", pa.string()), ("baseline_policy", pa.string()), ("baseline_decision", pa.string()),
        ("baseline_confidence", pa.float64()), ("policy", pa.string()), ("decision", pa.string()),
        ("confidence", pa.float64()), ("error", pa.string())]))
    con.register("_challenger_buf", table)
    try:
        con.execute(f"INSERT INTO challenger_verdicts ({', '.join(_COLS)}) SELECT * FROM _challenger_buf")
    finally:
        con.unregister("_challenger_buf")
    return table.num_rows


def _pairs(run_id: str, mode: str, records: list[Any], base: list[Any], chal: list[Any] | None,
           error: str | None, base_ids: list[str | None] | None = None) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i, (r, b) in enumerate(zip(records, base, strict=True)):
        c = chal[i] if chal is not None else None
        out.append({"run_id": run_id, "mode": mode, "ts": now, "id": r.id,
                    "baseline_verdict_id": base_ids[i] if base_ids else None,
                    "baseline_policy": b.policy if hasattr(b, "policy") else b["policy"],
                    "baseline_decision": str(b.decision) if hasattr(b, "decision") else b["decision"],
                    "baseline_confidence": b.confidence if hasattr(b, "confidence") else b["confidence"],
                    "policy": c.policy if c is not None else "?", "decision": str(c.decision) if c else None,
                    "confidence": c.confidence if c is not None else None, "error": error})
    return out


class Shadow:
    """``Shadow(validator, challenger_policy)``: same API as the validator; decisions are the validator's.

    The challenger runs on one background thread; :meth:`flush` waits for it and writes its verdicts to the
    validator's store (``challenger_verdicts``, mode ``shadow``). ``stats`` counts shadowed answers and errors.
    """

    def __init__(self, validator: Any, challenger: Any, *, store: Any = None, run_id: str | None = None) -> None:
        self.validator = validator
        self.challenger = load_challenger(challenger)
        self.store = store if store is not None else validator.store
        if self.store is None:
            raise PolicyError("Shadow needs a store to log the challenger's verdicts: Validator(policy, store=...)")
        self.run_id = run_id or f"shadow-{uuid.uuid4().hex[:8]}"
        self.stats = {"shadowed": 0, "errors": 0}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="catalyst-shadow")
        self._pending: list[Future[None]] = []
        self._buf: list[dict[str, Any]] = []

    def validate(self, answer: Any, **kw: Any) -> Any:
        from catalyst.jsonl import parse_record

        rec = parse_record(answer)
        verdict = self.validator.validate(rec, **kw)
        self._submit([rec], [verdict])
        return verdict

    def validate_many(self, answers: Iterable[Any], **kw: Any) -> list[Any]:
        from catalyst.jsonl import parse_record

        recs = [parse_record(a) for a in answers]
        verdicts = self.validator.validate_many(recs, **kw)
        self._submit(recs, verdicts)
        return verdicts

    def _submit(self, recs: list[Any], verdicts: list[Any]) -> None:
        try:
            self._pending.append(self._pool.submit(self._shadow, recs, verdicts))
        except RuntimeError:  # pool shut down: the live path still returns its verdicts
            self.stats["errors"] += len(recs)

    def _shadow(self, recs: list[Any], verdicts: list[Any]) -> None:
        try:
            chal = self.challenger.validate_many([r.model_copy(deep=True) for r in recs])
            rows_ = _pairs(self.run_id, "shadow", recs, verdicts, chal, None)
        except Exception as e:  # the challenger broke: logged, never raised into the live path
            self.stats["errors"] += len(recs)
            rows_ = _pairs(self.run_id, "shadow", recs, verdicts, None, f"{type(e).__name__}: {e}"[:500])
        self.stats["shadowed"] += len(recs)
        self._buf.extend(rows_)

    def flush(self) -> int:
        """Wait for the challenger, then write its verdicts; returns how many were written."""
        for f in self._pending:
            f.result()
        self._pending.clear()
        buf, self._buf = self._buf, []
        if not buf:
            return 0
        self.store.flush()
        with self.store.connect() as con:
            return write_challenger(con, buf)

    def close(self) -> None:
        self.flush()
        self._pool.shutdown(wait=True)


class Canary:
    """Route ``share`` of ids (stable hash) to ``challenger``; the rest to ``stable``. Both log to stable's store."""

    def __init__(self, stable: Any, challenger: Any, *, share: float = 0.05,
                 steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)) -> None:
        from catalyst.validator import Validator

        if not 0.0 <= share <= 1.0:
            raise PolicyError(f"canary share must lie in [0, 1], got {share}")
        self.stable = stable
        if hasattr(challenger, "validate_many"):
            self.challenger = challenger
        else:
            load_challenger(challenger)  # a clear error before anything is routed
            self.challenger = Validator(challenger, store=stable.store)
        self.share, self.steps = share, tuple(sorted(steps))

    @classmethod
    def from_log(cls, stable: Any, con: duckdb.DuckDBPyConnection) -> Canary | None:
        """The canary recorded by ``catalyst canary`` (its policy source and share), or None when none runs."""
        state = canary_state(con)
        if state is None:
            return None
        return cls(stable, state["source"] or state["policy"], share=float(state["share"] or 0.0))

    def routed(self, id: str) -> bool:
        return canary_draw(id, self.share)

    def validate(self, answer: Any) -> Any:
        from catalyst.jsonl import parse_record

        rec = parse_record(answer)
        return (self.challenger if self.routed(rec.id) else self.stable).validate(rec)

    def validate_many(self, answers: Iterable[Any]) -> list[Any]:
        from catalyst.jsonl import parse_record

        recs = [parse_record(a) for a in answers]
        arm = [self.routed(r.id) for r in recs]
        got_c = iter(self.challenger.validate_many([r for r, a in zip(recs, arm, strict=True) if a]))
        got_s = iter(self.stable.validate_many([r for r, a in zip(recs, arm, strict=True) if not a]))
        return [next(got_c) if a else next(got_s) for a in arm]

    def step(self) -> float:
        """Raise the share to the next step (stays at the last)."""
        higher = [s for s in self.steps if s > self.share]
        self.share = higher[0] if higher else self.share
        return self.share


# -- the version log -----------------------------------------------------------------------------
def record(con: duckdb.DuckDBPyConnection, action: str, policy: str, *, source: str | None = None,
           share: float | None = None, previous: str | None = None, actor: str | None = None,
           note: str | None = None) -> None:
    con.execute("INSERT INTO policy_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [datetime.now(UTC), action, policy, source, share, previous, actor, note])


def active(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The live version: the last promotion not undone by a rollback (None before any promotion)."""
    stack: list[dict[str, Any]] = []
    for r in rows(con, "SELECT * FROM policy_versions WHERE action IN ('promote', 'rollback') ORDER BY ts"):
        if r["action"] == "promote":
            stack.append(r)
        elif stack:
            stack.pop()
    return stack[-1] if stack else None


def canary_state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The running canary (policy and share), or None when the last event ended it."""
    got = rows(con, "SELECT * FROM policy_versions ORDER BY ts DESC LIMIT 1")
    return got[0] if got and got[0]["action"] == "canary" else None


def promote(con: duckdb.DuckDBPyConnection, policy: Any, *, actor: str | None = None, note: str | None = None,
            source: str | None = None) -> str:
    """Record ``policy`` (a version string or a loadable policy) as the live version; returns its version."""
    version = policy if isinstance(policy, str) and "@" in policy else load_challenger(policy).policy.version
    src = source or (str(policy) if isinstance(policy, str | Path) else None)
    cur = active(con)
    record(con, "promote", version, source=src, previous=cur["policy"] if cur else None, actor=actor, note=note)
    return version


def rollback(con: duckdb.DuckDBPyConnection, *, actor: str | None = None, note: str | None = None) -> str | None:
    """Undo the last promotion; returns the version live again (None when none was promoted before it)."""
    cur = active(con)
    if cur is None:
        raise PolicyError("nothing to roll back: no promotion is recorded in this log (`catalyst promote` first)")
    record(con, "rollback", cur["policy"], previous=cur["previous"], actor=actor, note=note)
    now = active(con)
    return now["policy"] if now else None


# -- replay ----------------------------------------------------------------------------------------
def _record(r: dict[str, Any]) -> Any:
    from catalyst.records import Interaction

    def j(v: Any, default: Any) -> Any:
        return default if v is None else orjson.loads(v)

    return Interaction(id=r["id"], input=j(r["input"], None), output=r["output"], context=j(r["context"], []),
                       samples=j(r["samples"], []), logprobs=j(r["logprobs"], None), metadata=j(r["metadata"], {}))


def replay(con: duckdb.DuckDBPyConnection, policy: Any, window: Window, *, limit: int | None = None,
           batch: int = 2000, run_id: str | None = None) -> dict[str, Any]:
    """Re-score the window's logged interactions with ``policy``; writes mode ``replay`` rows; returns a summary."""
    prepare(con)
    challenger = load_challenger(policy)
    run_id = run_id or f"replay-{uuid.uuid4().hex[:8]}"
    sql = """SELECT i.id, i.input, i.output, i.context, i.samples, i.logprobs, i.metadata, v.verdict_id, v.policy,
                    v.decision, v.confidence
             FROM interactions i JOIN verdicts v ON v.verdict_id = i.verdict_id
             WHERE v.created_at >= ? AND v.created_at < ? ORDER BY v.created_at"""
    cur = con.cursor()  # its own cursor: the inserts below run on ``con`` while this one streams
    cur.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), window.params())
    names = [d[0] for d in cur.description]
    n = errors = 0
    while True:
        chunk = cur.fetchmany(batch)
        if not chunk:
            break
        base = [dict(zip(names, r, strict=True)) for r in chunk]
        recs = [_record(b) for b in base]
        try:
            chal, err = challenger.validate_many(recs), None
        except Exception as e:  # a broken challenger is a finding of the replay, not a crash of it
            chal, err = None, f"{type(e).__name__}: {e}"[:500]
            errors += len(recs)
        write_challenger(con, _pairs(run_id, "replay", recs, base, chal, err, [b["verdict_id"] for b in base]))
        n += len(recs)
    if n == 0:
        from catalyst.errors import NoDataError

        raise NoDataError(f"nothing to replay between {window.label()}: no logged interactions; widen --since")
    return {"run_id": run_id, "replayed": n, "errors": errors, "policy": challenger.policy.version}
