"""The review queue: answers a person must look at, claimed with leases, decided, audited, turned into labels.

Everything lives in the DuckDB log, so a queue is just ``ReviewQueue(store)``::

    q = ReviewQueue("catalyst.duckdb", lease_seconds=900, sla_hours=24)
    claim = q.claim("ana")                     # the highest-priority open item, or None
    item = q.get(claim.item_id)                # question, answer, context, checks, doubted spans
    q.decide(claim.item_id, reviewer="ana", action="correct", output="In 1889.", reason="wrong year",
             tags=["date"])

**Items** enter when a verdict says ``review`` (``Store.flush`` upserts one row per interaction id in
``review_items``; a re-validated answer updates its row, never duplicates it). Status is ``pending``,
``escalated`` (open, priority raised) or ``decided``. Open items are served by **priority**: severity
(highest first), then confidence (lowest first), then age (oldest first).

**Claims.** ``claim(reviewer)`` gives one open item to one reviewer with a lease (``lease_seconds``);
an abandoned claim returns to the queue when its lease expires. A claim and a decision are *procedures*
(``catalyst.store._server.procedure``): when a process owns the log (the web reviewer, the proxy,
``catalyst log serve``), every reviewer process sends them there — one round trip each — and the owner
runs them one after another, committing queued ones together; with no owner, a process runs them in its
own short transaction on the file. Either way two reviewers can never hold the same item: exactly one of
two concurrent claims wins.
``renew`` extends a lease, ``release`` gives the item back (skip), ``reassign`` moves it (admins).

**Decisions** (:class:`Action`): ``approve``, ``reject``, ``correct`` (with the corrected answer) and
``escalate``; each with an optional reason and tags. Deciding needs a live claim: an item one does not
hold, an expired lease, an already decided item, an unknown action, a missing or oversized correction,
control or text-direction characters all raise a :class:`ReviewError` (a ``UserError``) before anything
is written. approve/reject/correct are *final*: the item is closed, a row goes to ``review_decisions``
and a **label** to ``labels``; ``escalate`` keeps the item open with its severity raised.

**The waiting flow.** When the answer came from ``Validator.validate(x, thread_id=...)`` (a durable
checkpointer), the item carries that ``thread_id``, written in the same transaction as the item (a decision
can never see the item without it). A queue built with ``validator=`` resumes the flow
right after a final decision is committed (``Validator.resume``: the final verdict, and the corrected
answer, are logged and passed to the validator's ``on_verdict``); ``resume_decided(validator)`` resumes
any decided threads that are still waiting (e.g. decided from the terminal UI, which has no policy).
``on_decision(decision, verdict_or_None)`` is called after every decision.

**Audit.** Every action (claim, renew, release, reassign, expire-takeover, decide, link) appends a row to
``review_audit`` (seq, ts, actor, action, item_id, before JSON, after JSON) in the same transaction; the
table is append-only.

**Labels** (``labels`` table; ``labels_latest`` view = one row per id, the newest), one row per final
decision, for calibration:

=================  ==========================================================================
id                 interaction id (``interactions.id`` / ``verdicts.id``)
label              1 = the model's answer was right (approve), 0 = wrong (reject, correct)
corrected_output   the reviewer's answer for ``correct``, else NULL
reviewer           who decided
decided_at         when (TIMESTAMPTZ, UTC)
source             ``review`` for decisions made in the queue
decision_id        ``review_decisions.decision_id``
verdict_id         the verdict that was reviewed (join ``check_results`` on it for per-check scores)
policy             the policy version (``name@hash7``) of that verdict
confidence         the confidence Catalyst gave that verdict (what calibration maps to ``label``)
action             approve / reject / correct
=================  ==========================================================================

**SLA.** Open items older than ``sla_hours`` are flagged (``QueueRow.sla_breached``);
``sla_breaches(mark=True)`` returns each newly breached item once (for notifications).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import orjson

try:
    import fcntl
except ImportError:  # Windows: reviewers fall back to retrying on DuckDB's lock
    fcntl = None  # type: ignore[assignment]

from catalyst.errors import StoreLockedError
from catalyst.review._text import (
    MAX_OUTPUT_CHARS,
    MAX_REASON_CHARS,
    InvalidTextError,
    ReviewError,
    check_reviewer,
    check_tags,
    check_text,
)
from catalyst.store import Store, open_db
from catalyst.store._remote import OwnerGoneError, RemoteConnection
from catalyst.store._server import insert, local_server, procedure, run_procedure

__all__ = [
    "AbandonedLeaseError", "Action", "AlreadyDecidedError", "Claim", "InvalidTextError", "ItemNotFoundError",
    "LeaseExpiredError", "NotHolderError", "QueueRow", "ReviewDecision", "ReviewError", "ReviewQueue",
    "link_thread",
]

OPEN = ("pending", "escalated")


class ItemNotFoundError(ReviewError):
    """No review item has this id."""


class NotHolderError(ReviewError):
    """The reviewer does not hold a claim on the item (never claimed, or someone else holds it)."""


class LeaseExpiredError(ReviewError):
    """The reviewer's claim ran out; claim the item again."""


AbandonedLeaseError = LeaseExpiredError  # alias, for readers who think of it that way


class AlreadyDecidedError(ReviewError):
    """The item already has a final decision."""


class Action(StrEnum):
    """What a reviewer can decide. Closed."""

    APPROVE = "approve"
    REJECT = "reject"
    CORRECT = "correct"
    ESCALATE = "escalate"

    def __str__(self) -> str:
        return self.value

    @property
    def final(self) -> bool:
        return self is not Action.ESCALATE

    @property
    def label(self) -> int | None:
        """The ground-truth label this decision gives the model's answer (None: not final)."""
        return {Action.APPROVE: 1, Action.REJECT: 0, Action.CORRECT: 0}.get(self)


@dataclass(frozen=True, slots=True)
class Claim:
    item_id: str
    reviewer: str
    claim_id: str
    claimed_at: datetime
    lease_expires: datetime


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    decision_id: str
    item_id: str
    verdict_id: str
    reviewer: str
    action: Action
    corrected_output: str | None
    reason: str | None
    tags: list[str]
    decided_at: datetime
    thread_id: str | None
    label: int | None


@dataclass(slots=True)
class QueueRow:
    """One line of a queue listing (no answer text: use :meth:`ReviewQueue.get` for the detail)."""

    id: str
    status: str
    severity: int
    confidence: float | None  # None: the answer was not verified (no evidence check scored it)
    policy: str
    reasons: list[str]
    created_at: datetime
    updated_at: datetime
    age_hours: float
    sla_breached: bool
    claimed_by: str | None = None
    lease_expires: datetime | None = None
    thread_id: str | None = None
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    verdict_id: str = ""
    escalations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ITEM_COLS = ("id", "status", "severity", "confidence", "policy", "reasons", "created_at", "updated_at",
              "claimed_by", "claim_id", "lease_expires", "thread_id", "decision", "decided_by", "decided_at",
              "verdict_id", "escalations")


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _turn(db: str, timeout: float) -> Iterator[None]:
    """Reviewer processes wait their turn in the kernel (``flock`` on ``<db>.review.lock``) instead of
    spinning on DuckDB's file lock: a waiting process sleeps until the holder is done, so four processes
    lose no time to retries. Only an ordering aid — DuckDB's own lock is what guarantees exclusivity."""
    if db == ":memory:" or fcntl is None:
        yield
        return
    fd = os.open(db + ".review.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreLockedError(f"waited {timeout:.0f}s for other reviewers of `{db}`") from None
                time.sleep(0.001)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _hms(t: datetime | None) -> str:
    return "an unknown time" if t is None else f"{t:%H:%M:%S} UTC"


def _j(v: Any) -> str:
    return orjson.dumps(v, default=str).decode()


def _audit(con: duckdb.DuckDBPyConnection, at: datetime, actor: str, action: str, item_id: str | None,
           before: Any, after: Any) -> None:
    insert(con, "review_audit", ("ts", "actor", "action", "item_id", "before", "after"),
           [at, actor, action, item_id, None if before is None else _j(before), None if after is None else _j(after)])

def _row(con: duckdb.DuckDBPyConnection, item_id: str) -> dict[str, Any]:
    cur = con.execute(f"SELECT {', '.join(_ITEM_COLS)} FROM review_items WHERE id = ?", [item_id])
    r = cur.fetchone()
    if r is None:
        raise ItemNotFoundError(f"no review item `{item_id}`; list open items with `catalyst review --list`")
    return dict(zip(_ITEM_COLS, r, strict=True))

def _state(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("status", "claimed_by", "lease_expires", "decision", "decided_by", "severity")
    return {k: row[k] for k in keep}


def _held(con: duckdb.DuckDBPyConnection, item_id: str, reviewer: str, now: datetime,
          row: dict[str, Any] | None = None) -> dict[str, Any]:
    row = _row(con, item_id) if row is None else row
    if row["status"] == "decided":
        raise AlreadyDecidedError(
            f"item `{item_id}` was already decided ({row['decision']}) by {row['decided_by']} at "
            f"{row['decided_at']:%Y-%m-%d %H:%M:%S UTC}; a decision is final (re-validate the answer to "
            "reopen it)")
    if row["claimed_by"] != reviewer:
        who = f"is held by {row['claimed_by']}" if row["claimed_by"] else "is not claimed by anyone"
        raise NotHolderError(f"{reviewer} does not hold item `{item_id}` (it {who}); claim it first")
    if row["lease_expires"] is None or row["lease_expires"] <= now:
        raise LeaseExpiredError(
            f"{reviewer}'s claim on item `{item_id}` expired at {_hms(row['lease_expires'])}; "
            "claim it again (your decision was not saved)")
    return row


class ReviewQueue:
    """The review queue over one DuckDB log. See the module docstring for the model and guarantees.

    ``store``: a :class:`Store` or a path (opened with ``keep_open=False``, so several reviewer processes
    share the file). ``clock`` returns the current UTC time (tests move it to expire leases).
    """

    def __init__(self, store: Store | str | Path, *, lease_seconds: float = 900.0, sla_hours: float = 24.0,
                 validator: Any = None, on_decision: Callable[[ReviewDecision, Any], None] | None = None,
                 notifier: Any = None, clock: Callable[[], datetime] = _now) -> None:
        if lease_seconds <= 0:
            raise ReviewError(f"lease_seconds must be > 0, got {lease_seconds}")
        if sla_hours <= 0:
            raise ReviewError(f"sla_hours must be > 0, got {sla_hours}")
        self.store = store if isinstance(store, Store) else Store(store, keep_open=False)
        self.lease = timedelta(seconds=lease_seconds)
        self.sla = timedelta(hours=sla_hours)
        self.validator = validator
        self.on_decision = on_decision
        self.notifier = notifier
        self.clock = clock

    @classmethod
    def for_policy(cls, store: Store | str | Path, policy: Any, **options: Any) -> ReviewQueue:
        """A queue with the policy's ``review.sla_hours`` and notifier (its ``review.notify`` section)."""
        # start-up time: the reviewer tools import this module; policies (and their checks) load only here
        from catalyst.flow import as_policy
        from catalyst.review.notify import Notifier

        compiled = as_policy(policy)
        options.setdefault("sla_hours", compiled.policy.review.sla_hours)
        options.setdefault("notifier", Notifier.from_policy(compiled))
        return cls(store, **options)

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store's connection when it holds the file; else a short-lived one, retried on the lock.

        Reviewer actions are tiny, so while another process holds the file we retry quickly (5-50 ms,
        jittered) rather than with ``open_db``'s longer backoff, which would leave the file idle.
        """
        if self.store.keep_open or self.store.shared:  # held here, or served by the log's owner
            with self.store.connect() as con:
                yield con
            return
        with _turn(self.store.path, self.store.lock_timeout):
            deadline = time.monotonic() + self.store.lock_timeout
            delay = 0.005
            while True:  # another kind of writer (a validation run) may still hold the file
                try:
                    con = open_db(self.store.path, lock_timeout=0.0)
                    break
                except StoreLockedError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 1.5, 0.05)
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def _tx(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short read-write transaction (retries a same-process write conflict a few times)."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _call(self, name: str, **args: Any) -> Any:
        """Run the procedure ``name`` of this module: in the log's owner when one serves the file (one round
        trip; the owner runs procedures one at a time), else here in one transaction. Repeated once when the
        owner goes away mid-call (claims and decisions are idempotent: see ``_decide``)."""
        proc = f"catalyst.review.queue:{name}"
        for attempt in range(3):
            try:
                with self._connect() as con:
                    if isinstance(con, RemoteConnection):
                        return con.call(proc, **args)
                    owner = self.store.owner or local_server(self.store.path)
                    if owner is not None:  # this process serves the log: join the owner's queue of calls
                        return owner.call(proc, args)
                    return run_procedure(con, proc, args)
            except OwnerGoneError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _run(self, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        for attempt in range(20):
            try:
                with self._tx() as con:
                    return fn(con)
            except duckdb.TransactionException as e:  # same-process writers on one database instance
                if "conflict" not in str(e).lower() or attempt == 19:
                    raise
        raise AssertionError("unreachable")

    _audit = staticmethod(_audit)
    _row = staticmethod(_row)
    _state = staticmethod(_state)

    # -- claiming --------------------------------------------------------------------------------
    def claim(self, reviewer: str, *, item_id: str | None = None) -> Claim | None:
        """Claim the highest-priority open item (or ``item_id``) for ``reviewer``; None when nothing is open.

        An item is claimable when it is open and unheld or its lease has expired. A reviewer who already
        holds a live claim gets that claim back (one item at a time), with the lease renewed.
        """
        check_reviewer(reviewer)
        out = self._call("claim", reviewer=reviewer, item_id=item_id, now=self.clock(),
                         lease_seconds=self.lease.total_seconds())
        return None if out is None else Claim(**out)

    def _held(self, con: duckdb.DuckDBPyConnection, item_id: str, reviewer: str, now: datetime) -> dict[str, Any]:
        return _held(con, item_id, reviewer, now)

    def renew(self, item_id: str, reviewer: str) -> Claim:
        """Extend a live claim by another lease period."""
        check_reviewer(reviewer)

        def tx(con: duckdb.DuckDBPyConnection) -> Claim:
            now = self.clock()
            row = self._held(con, item_id, reviewer, now)
            exp = now + self.lease
            con.execute("UPDATE review_items SET lease_expires = ? WHERE id = ?", [exp, item_id])
            self._audit(con, now, reviewer, "renew", item_id, self._state(row),
                        {**self._state(row), "lease_expires": exp})
            return Claim(item_id, reviewer, row["claim_id"], now, exp)

        return self._run(tx)  # type: ignore[no-any-return]

    def release(self, item_id: str, reviewer: str) -> None:
        """Give a held item back to the queue (the reviewer skips it)."""
        check_reviewer(reviewer)

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            now = self.clock()
            row = self._held(con, item_id, reviewer, now)
            con.execute("UPDATE review_items SET claimed_by = NULL, claim_id = NULL, claimed_at = NULL, "
                        "lease_expires = NULL WHERE id = ?", [item_id])
            self._audit(con, now, reviewer, "release", item_id, self._state(row),
                        {**self._state(row), "claimed_by": None, "lease_expires": None})

        self._run(tx)

    def reassign(self, item_id: str, *, to: str, by: str) -> Claim:
        """Move an open item to reviewer ``to`` with a fresh lease (an admin action; ``by`` is audited)."""
        check_reviewer(to)
        check_reviewer(by)

        def tx(con: duckdb.DuckDBPyConnection) -> Claim:
            now = self.clock()
            row = self._row(con, item_id)
            if row["status"] == "decided":
                raise AlreadyDecidedError(f"item `{item_id}` is already decided; it cannot be reassigned")
            c = Claim(item_id, to, uuid.uuid4().hex, now, now + self.lease)
            con.execute("UPDATE review_items SET claimed_by = ?, claim_id = ?, claimed_at = ?, lease_expires = ? "
                        "WHERE id = ?", [to, c.claim_id, now, c.lease_expires, item_id])
            self._audit(con, now, by, "reassign", item_id, self._state(row),
                        {**self._state(row), "claimed_by": to, "lease_expires": c.lease_expires})
            return c

        return self._run(tx)  # type: ignore[no-any-return]

    # -- deciding --------------------------------------------------------------------------------
    def decide(self, item_id: str, *, reviewer: str, action: Action | str, output: str | None = None,
               reason: str | None = None, tags: Iterable[str] | None = None) -> ReviewDecision:
        """Record a decision on an item the reviewer holds; final ones close it and write a label.

        Inputs are validated before the transaction; the holder, lease and status inside it. After the
        commit, a waiting flow is resumed (when this queue has a ``validator``) and callbacks run.
        """
        check_reviewer(reviewer)
        try:
            act = Action(action)
        except ValueError:
            raise ReviewError(f"unknown action {action!r}; use one of "
                              f"{', '.join(a.value for a in Action)}") from None
        if act is Action.CORRECT:
            if output is None or not str(output).strip():
                raise ReviewError("a `correct` decision needs the corrected answer (`output=`)")
            output = check_text(output, "the corrected answer", max_chars=MAX_OUTPUT_CHARS)
        elif output is not None:
            raise ReviewError(f"`output` is only for `correct` decisions, not `{act.value}`")
        if reason is not None:
            reason = check_text(reason, "the reason", max_chars=MAX_REASON_CHARS) or None
        tag_list = check_tags(tags)

        out = self._call("decide", item_id=item_id, reviewer=reviewer, action=act.value, output=output,
                         reason=reason, tags=tag_list, now=self.clock(), decision_id=uuid.uuid4().hex)
        decision = _decision(out)
        verdict = None
        if act.final and decision.thread_id and self.validator is not None:
            verdict = self._resume(self.validator, decision)
        if self.notifier is not None:
            self.notifier.emit("decision", {"id": item_id, "action": act.value, "reviewer": reviewer,
                                            "reason": reason})
        if self.on_decision is not None:
            self.on_decision(decision, verdict)
        return decision

    # -- the waiting flow ------------------------------------------------------------------------
    def link_thread(self, item_id: str, thread_id: str, *, actor: str = "catalyst") -> None:
        """Record that a flow waits for this item's decision on LangGraph thread ``thread_id``."""
        link_thread(self.store, item_id, thread_id, actor=actor, now=self.clock())

    def _resume(self, validator: Any, d: ReviewDecision) -> Any:
        snap = validator.interactive_graph.get_state({"configurable": {"thread_id": d.thread_id}})
        if "review" not in (snap.next or ()):  # finished already (an old thread of a re-opened item)

            def skipped(con: duckdb.DuckDBPyConnection) -> None:
                now = self.clock()
                con.execute("UPDATE review_decisions SET resumed_at = ?, final_decision = 'not-waiting' "
                            "WHERE decision_id = ?", [now, d.decision_id])
                self._audit(con, now, d.reviewer, "resume_skipped", d.item_id, None,
                            {"thread_id": d.thread_id, "why": "the thread is not waiting for review"})

            self._run(skipped)
            return None
        payload: dict[str, Any] = {"decision": d.action.value, "reviewer": d.reviewer}
        if d.reason:
            payload["reason"] = d.reason
        if d.corrected_output is not None:
            payload["output"] = d.corrected_output
        verdict = validator.resume(d.thread_id, payload)

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            now = self.clock()
            con.execute("UPDATE review_decisions SET resumed_at = ?, final_decision = ? WHERE decision_id = ?",
                        [now, str(verdict.decision), d.decision_id])
            self._audit(con, now, d.reviewer, "resume", d.item_id, None,
                        {"thread_id": d.thread_id, "final_decision": str(verdict.decision)})

        self._run(tx)
        return verdict

    def resume_decided(self, validator: Any) -> list[Any]:
        """Resume every flow whose item was decided but which still waits (returns the final verdicts)."""
        with self.store.connect(read_only=True) as con:
            rows = con.execute("SELECT decision_id FROM review_decisions WHERE thread_id IS NOT NULL AND "
                               "resumed_at IS NULL AND action <> 'escalate' ORDER BY decided_at").fetchall()
        out = []
        for (did,) in rows:
            d = self.decision(did)
            v = self._resume(validator, d)
            if self.on_decision is not None:
                self.on_decision(d, v)
            if v is not None:
                out.append(v)
        return out

    def decision(self, decision_id: str) -> ReviewDecision:
        r = self.store.query("SELECT d.*, i.thread_id AS item_thread FROM review_decisions d "
                             "LEFT JOIN review_items i ON i.id = d.item_id WHERE decision_id = ?", [decision_id])
        if not r:
            raise ReviewError(f"no decision `{decision_id}`")
        x = r[0]
        act = Action(x["action"])
        return ReviewDecision(x["decision_id"], x["item_id"], x["verdict_id"], x["reviewer"], act,
                              x["corrected_output"], x["reason"], orjson.loads(x["tags"] or "[]"), x["decided_at"],
                              x["thread_id"] or x["item_thread"], act.label)

    # -- reading ---------------------------------------------------------------------------------
    def _queue_row(self, r: dict[str, Any], now: datetime) -> QueueRow:
        age = now - r["created_at"]
        open_ = r["status"] in OPEN
        held = r["claimed_by"] if r["lease_expires"] is not None and r["lease_expires"] > now else None
        return QueueRow(
            id=r["id"], status=r["status"], severity=r["severity"], confidence=r["confidence"], policy=r["policy"],
            reasons=orjson.loads(r["reasons"]) if r["reasons"] else [], created_at=r["created_at"],
            updated_at=r["updated_at"], age_hours=age.total_seconds() / 3600, sla_breached=open_ and age > self.sla,
            claimed_by=held, lease_expires=r["lease_expires"] if held else None, thread_id=r["thread_id"],
            decision=r["decision"] if r["status"] == "decided" else None,
            decided_by=r["decided_by"] if r["status"] == "decided" else None,
            decided_at=r["decided_at"] if r["status"] == "decided" else None, verdict_id=r["verdict_id"],
            escalations=r["escalations"] or 0)

    def items(self, *, status: str | Iterable[str] = OPEN, limit: int = 100, offset: int = 0,
              claimable_only: bool = False) -> list[QueueRow]:
        """Items in priority order (severity, lowest confidence, age), with SLA flag and current holder."""
        statuses = [status] if isinstance(status, str) else list(status)
        bad = set(statuses) - {"pending", "escalated", "decided"}
        if bad:
            raise ReviewError(f"unknown status {sorted(bad)}; use pending, escalated or decided")
        now = self.clock()
        sql = (f"SELECT {', '.join(_ITEM_COLS)} FROM review_items WHERE list_contains(?, status)"
               + (" AND (claimed_by IS NULL OR lease_expires <= ?)" if claimable_only else "")
               + " ORDER BY severity DESC, confidence ASC, created_at ASC, id LIMIT ? OFFSET ?")
        params: list[Any] = [statuses, *([now] if claimable_only else []), int(limit), int(offset)]
        return [self._queue_row(r, now) for r in self.store.query(sql, params)]

    def counts(self) -> dict[str, int]:
        """Items per status, plus ``held`` (live claims) and ``sla_breached`` (open and overdue)."""
        now = self.clock()
        r = self.store.query("""
            SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                   count(*) FILTER (WHERE status = 'escalated') AS escalated,
                   count(*) FILTER (WHERE status = 'decided') AS decided,
                   count(*) FILTER (WHERE status <> 'decided' AND lease_expires > ?) AS held,
                   count(*) FILTER (WHERE status <> 'decided' AND created_at < ?) AS sla_breached
            FROM review_items""", [now, now - self.sla])[0]
        return {k: int(v or 0) for k, v in r.items()}

    def get(self, item_id: str) -> Any:
        """The full item for a reviewer: question, answer, context, checks, doubted spans (a ``ReviewItem``)."""
        from catalyst.review.item import load_item

        return load_item(self, item_id)

    def audit(self, *, item_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Audit rows, newest first (``before``/``after`` parsed)."""
        sql = "SELECT * FROM review_audit" + (" WHERE item_id = ?" if item_id else "") + " ORDER BY seq DESC LIMIT ?"
        rows = self.store.query(sql, [item_id, limit] if item_id else [limit])
        for r in rows:
            for k in ("before", "after"):
                r[k] = orjson.loads(r[k]) if r[k] else None
        return rows

    def decisions(self, *, item_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM review_decisions" + (" WHERE item_id = ?" if item_id else "") + " ORDER BY decided_at"
        return self.store.query(sql, [item_id] if item_id else [])

    def labels(self, *, latest: bool = True) -> list[dict[str, Any]]:
        """Labels from decisions (see the module docstring for the columns); one per id when ``latest``."""
        return self.store.query(f"SELECT * FROM {'labels_latest' if latest else 'labels'} ORDER BY decided_at")

    def sla_breaches(self, *, mark: bool = False) -> list[QueueRow]:
        """Open items past the SLA. With ``mark``, only those not reported before, and mark them reported."""
        now = self.clock()
        cutoff = now - self.sla

        def tx(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
            cur = con.execute(f"SELECT {', '.join(_ITEM_COLS)} FROM review_items WHERE status IN ('pending', "
                              "'escalated') AND created_at < ?" + (" AND sla_notified_at IS NULL" if mark else "")
                              + " ORDER BY created_at", [cutoff])
            rows = [dict(zip(_ITEM_COLS, r, strict=True)) for r in cur.fetchall()]
            if mark and rows:
                con.execute("UPDATE review_items SET sla_notified_at = ? WHERE list_contains(?, id)",
                            [now, [r["id"] for r in rows]])
                for r in rows:
                    self._audit(con, now, "catalyst", "sla_breach", r["id"], None,
                                {"age_hours": (now - r["created_at"]).total_seconds() / 3600})
            return rows

        rows = self._run(tx)
        out = [self._queue_row(r, now) for r in rows]
        if mark and self.notifier is not None:
            for q in out:
                self.notifier.emit("sla_breach", q.to_dict())
        return out


@procedure("catalyst.review.queue:claim")
def _claim(con: duckdb.DuckDBPyConnection, *, reviewer: str, item_id: str | None, now: datetime,
           lease_seconds: float) -> dict[str, Any] | None:
    """One claim, in the caller's transaction (here, or in the log's owner for its clients)."""
    if item_id is None:  # one statement: the reviewer's live claim first, else the top claimable item
        found = con.execute(f"""
            SELECT {', '.join(_ITEM_COLS)} FROM review_items
            WHERE status IN ('pending', 'escalated')
              AND (claimed_by IS NULL OR lease_expires <= ? OR (claimed_by = ? AND lease_expires > ?))
            ORDER BY coalesce(claimed_by = ? AND lease_expires > ?, false) DESC,
                     CASE WHEN claimed_by = ? THEN claimed_at END, severity DESC, confidence ASC, created_at ASC, id
            LIMIT 1""", [now, reviewer, now, reviewer, now, reviewer]).fetchone()
        if found is None:
            return None
        return _take(con, dict(zip(_ITEM_COLS, found, strict=True)), reviewer, now, lease_seconds)
    mine = con.execute("SELECT id FROM review_items WHERE claimed_by = ? AND lease_expires > ? AND "
                       "status IN ('pending', 'escalated') ORDER BY claimed_at LIMIT 1",
                       [reviewer, now]).fetchone()
    row = _row(con, item_id)
    if row["status"] == "decided":
        raise AlreadyDecidedError(
            f"item `{item_id}` was decided ({row['decision']}) by {row['decided_by']} at "
            f"{row['decided_at']:%Y-%m-%d %H:%M UTC}; nothing to claim")
    held = row["claimed_by"] and row["lease_expires"] and row["lease_expires"] > now
    if held and row["claimed_by"] != reviewer:
        raise NotHolderError(f"item `{item_id}` is held by {row['claimed_by']} until "
                             f"{row['lease_expires']:%H:%M:%S UTC}; pick another or ask an admin")
    if mine and mine[0] != item_id:
        raise ReviewError(f"{reviewer} already holds item `{mine[0]}`; decide or release it first")
    return _take(con, row, reviewer, now, lease_seconds)


def _take(con: duckdb.DuckDBPyConnection, row: dict[str, Any], reviewer: str, now: datetime,
          lease_seconds: float) -> dict[str, Any]:
    target = row["id"]
    claim = Claim(item_id=target, reviewer=reviewer, claim_id=uuid.uuid4().hex, claimed_at=now,
                  lease_expires=now + timedelta(seconds=lease_seconds))
    con.execute("UPDATE review_items SET claimed_by = ?, claim_id = ?, claimed_at = ?, lease_expires = ? "
                "WHERE id = ?", [reviewer, claim.claim_id, now, claim.lease_expires, target])
    took_over = row["claimed_by"] is not None and row["claimed_by"] != reviewer
    _audit(con, now, reviewer, "claim_expired_takeover" if took_over else "claim", target, _state(row),
           {**_state(row), "claimed_by": reviewer, "lease_expires": claim.lease_expires, "claim_id": claim.claim_id})
    return asdict(claim)


@procedure("catalyst.review.queue:decide")
def _decide(con: duckdb.DuckDBPyConnection, *, item_id: str, reviewer: str, action: str, output: str | None,
            reason: str | None, tags: list[str], now: datetime, decision_id: str) -> dict[str, Any]:
    """One decision, in the caller's transaction. ``decision_id`` comes from the caller, so a call repeated
    after a lost answer (the owner went away after committing) returns the saved decision, not an error."""
    found = con.execute(f"SELECT {', '.join(_ITEM_COLS)}, EXISTS (SELECT 1 FROM review_decisions WHERE "
                        "decision_id = ?) FROM review_items WHERE id = ?", [decision_id, item_id]).fetchone()
    done = found is not None and found[-1] and con.execute(
        "SELECT decision_id, item_id, verdict_id, reviewer, action, corrected_output, reason, tags, decided_at, "
        "thread_id FROM review_decisions WHERE decision_id = ?", [decision_id]).fetchone()
    if done:
        act0 = Action(done[4])
        return _decision_dict(ReviewDecision(done[0], done[1], done[2], done[3], act0, done[5], done[6],
                                             orjson.loads(done[7] or "[]"), done[8], done[9], act0.label))
    act = Action(action)
    row = _held(con, item_id, reviewer, now, None if found is None else dict(zip(_ITEM_COLS, found[:-1], strict=True)))
    d = ReviewDecision(decision_id=decision_id, item_id=item_id, verdict_id=row["verdict_id"],
                       reviewer=reviewer, action=act, corrected_output=output, reason=reason,
                       tags=tags, decided_at=now, thread_id=row["thread_id"], label=act.label)
    if act.final:
        con.execute("UPDATE review_items SET status = 'decided', decision = ?, decided_by = ?, "
                    "decided_at = ?, claimed_by = NULL, claim_id = NULL, claimed_at = NULL, "
                    "lease_expires = NULL WHERE id = ?", [act.value, reviewer, now, item_id])
        after = {**_state(row), "status": "decided", "decision": act.value, "decided_by": reviewer,
                 "claimed_by": None, "lease_expires": None}
    else:
        con.execute("UPDATE review_items SET status = 'escalated', severity = severity + 1, "
                    "escalations = coalesce(escalations, 0) + 1, claimed_by = NULL, claim_id = NULL, "
                    "claimed_at = NULL, lease_expires = NULL WHERE id = ?", [item_id])
        after = {**_state(row), "status": "escalated", "severity": row["severity"] + 1,
                 "claimed_by": None, "lease_expires": None}
    insert(con, "review_decisions", ("decision_id", "item_id", "verdict_id", "reviewer", "action", "corrected_output",
                                     "reason", "tags", "decided_at", "thread_id"),
           [d.decision_id, item_id, d.verdict_id, reviewer, act.value, output, reason, _j(tags), now, d.thread_id])
    if act.label is not None:
        insert(con, "labels", ("id", "label", "corrected_output", "reviewer", "decided_at", "source", "decision_id",
                               "verdict_id", "policy", "confidence", "action"),
               [item_id, act.label, output, reviewer, now, "review", d.decision_id, d.verdict_id, row["policy"],
                row["confidence"], act.value])
    _audit(con, now, reviewer, f"decide:{act.value}", item_id, _state(row),
                {**after, "decision_id": d.decision_id, "reason": reason, "tags": tags,
                 "corrected_output": output})
    return _decision_dict(d)


def _decision_dict(d: ReviewDecision) -> dict[str, Any]:
    out = asdict(d)
    out["action"] = d.action.value
    return out


def _decision(out: dict[str, Any]) -> ReviewDecision:
    return ReviewDecision(**{**out, "action": Action(out["action"])})


def link_thread(store: Store, item_id: str, thread_id: str, *, actor: str = "catalyst",
                now: datetime | None = None) -> None:
    """Link a review item to the LangGraph thread waiting for its decision (used by ``Validator``)."""
    if not thread_id or not isinstance(thread_id, str) or len(thread_id) > 200:
        raise ReviewError(f"thread_id must be a non-empty string of at most 200 characters, got {thread_id!r}")
    at = now or _now()
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            n = con.execute("UPDATE review_items SET thread_id = ? WHERE id = ? RETURNING id",
                            [thread_id, item_id]).fetchall()
            if not n:
                raise ItemNotFoundError(f"no review item `{item_id}` to link to thread `{thread_id}`")
            ReviewQueue._audit(con, at, actor, "link_thread", item_id, None, {"thread_id": thread_id})
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
