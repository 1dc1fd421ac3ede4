"""Notifications: a Slack-compatible incoming-webhook message and a generic JSON webhook, sent in the background.

Events: ``enqueue`` (an answer went to review), ``block`` (an answer was blocked), ``sla_breach`` (an open
item outlived the policy's ``review.sla_hours``) and ``decision``. The validation path never waits for
the network: :meth:`Notifier.emit` puts the event on a bounded in-memory queue and returns at once; one
daemon thread (started on first use) delivers, retrying each POST with tenacity (exponential backoff on
connection errors, 429 and 5xx). When the queue is full the event is *dropped and counted*
(``stats["dropped"]``) rather than blocking the caller.

Wire it up::

    n = Notifier([SlackWebhook("https://hooks.slack.com/services/..."), JsonWebhook("https://ops/hook")])
    n.attach(validator)            # enqueue + block events from every logged verdict
    ReviewQueue(db, notifier=n)    # decision and SLA events (``queue.sla_breaches(mark=True)``)

or from the policy's optional ``review.notify`` section (``Notifier.from_policy(policy)``, None when absent)::

    review:
      sla_hours: 24
      notify: {slack: "env:SLACK_WEBHOOK_URL", webhook: "https://ops.example/hook", events: [enqueue, block]}
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from catalyst.errors import ConfigError

EVENTS = ("enqueue", "block", "sla_breach", "decision", "alert", "recovered")  # the last two: catalyst watch


class _Retryable(Exception):
    """A response worth retrying (429, 5xx)."""


def _retryable(e: BaseException) -> bool:
    return isinstance(e, _Retryable | httpx.TransportError)


class Sink:
    """Where messages go: ``format`` turns an event into a JSON body; ``url`` receives it."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook url must start with http:// or https://, got {url[:40]!r}")
        self.url = url
        self.headers = dict(headers or {})

    def format(self, event: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
        raise NotImplementedError


class JsonWebhook(Sink):
    """A generic JSON webhook: ``{"event", "at", "data"}``."""

    def format(self, event: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
        return {"event": event, "at": at.isoformat(), "data": data}


_TITLES = {"enqueue": "New answer to review", "block": "Answer blocked", "sla_breach": "Review SLA breached",
           "decision": "Review decided", "alert": "Monitoring alert", "recovered": "Monitoring alert recovered"}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (``& < >``) escaped, so answers cannot ping or fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackWebhook(Sink):
    """A Slack-compatible incoming webhook: ``text`` (fallback) plus ``blocks``."""

    def format(self, event: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
        title = _TITLES.get(event, event)
        item = str(data.get("id", "?"))
        facts = []
        for key in ("confidence", "policy", "decision", "action", "reviewer", "age_hours", "metric", "value",
                    "threshold", "window"):
            if data.get(key) is not None:
                v = data[key]
                facts.append(f"*{key}:* {v:.2f}" if isinstance(v, float) else f"*{key}:* {_slack_escape(str(v))}")
        reasons = data.get("reasons") or []
        text = f"{title}: `{_slack_escape(item)}`"
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}* `{_slack_escape(item)}`"}}]
        if facts:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "  ".join(facts)}})
        if reasons:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": _slack_escape(str(r))[:300]} for r in list(reasons)[:5]]})
        return {"text": text, "blocks": blocks}


class Notifier:
    """Delivers events to sinks from a background thread; :meth:`emit` never blocks (drops when full)."""

    def __init__(self, sinks: Iterable[Sink], *, events: Iterable[str] = EVENTS, max_queue: int = 1000,
                 attempts: int = 4, timeout: float = 5.0, backoff: float = 0.2) -> None:
        self.sinks = list(sinks)
        self.events = set(events)
        unknown = self.events - set(EVENTS)
        if unknown:
            raise ConfigError(f"unknown notification events {sorted(unknown)}; known: {', '.join(EVENTS)}")
        if max_queue < 1:
            raise ConfigError(f"max_queue must be >= 1, got {max_queue}")
        self.attempts, self.timeout, self.backoff = attempts, timeout, backoff
        self._q: queue.Queue[tuple[str, dict[str, Any], datetime] | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.stats = {"queued": 0, "sent": 0, "failed": 0, "dropped": 0}
        self.errors: list[str] = []  # the last few delivery failures, for diagnosis

    @classmethod
    def from_policy(cls, policy: Any) -> Notifier | None:
        """A notifier from the policy's ``notify:`` section (a Policy or CompiledPolicy); None when absent."""
        import os

        p = getattr(policy, "policy", policy)
        spec = getattr(getattr(p, "review", None), "notify", None)
        if spec is None:
            return None

        def url(v: str) -> str:
            if v.startswith("env:"):
                found = os.environ.get(v[4:])
                if not found:
                    raise ConfigError(f"notify url {v!r}: environment variable `{v[4:]}` is not set")
                return found
            return v

        sinks: list[Sink] = []
        if spec.slack:
            sinks.append(SlackWebhook(url(spec.slack)))
        if spec.webhook:
            sinks.append(JsonWebhook(url(spec.webhook)))
        return cls(sinks, events=spec.events, max_queue=spec.queue_size)

    # -- producing (the validation path) ---------------------------------------------------------
    def emit(self, event: str, data: dict[str, Any]) -> bool:
        """Queue an event for delivery; returns False (and counts a drop) when the queue is full."""
        if event not in self.events or not self.sinks:
            return False
        self._ensure_thread()
        try:
            self._q.put_nowait((event, data, datetime.now(UTC)))
        except queue.Full:
            self.stats["dropped"] += 1
            return False
        self.stats["queued"] += 1
        return True

    def on_verdict(self, record: Any, verdict: Any) -> None:
        """A ``Validator(on_verdict=...)`` callback: ``review`` → enqueue, ``block`` → block events."""
        kind = {"review": "enqueue", "block": "block"}.get(str(verdict.decision))
        if kind is not None:
            self.emit(kind, {"id": verdict.id, "confidence": verdict.confidence, "policy": verdict.policy,
                             "decision": str(verdict.decision), "reasons": list(verdict.reasons)})

    def attach(self, validator: Any) -> Notifier:
        """Notify from a validator: every logged verdict (chained after its own ``on_verdict``), and the
        pending verdict of a flow that waits for review (``validate(x, thread_id=...)``). Call before
        validating."""
        previous: Callable[[Any, Any], None] | None = validator.flow.on_verdict

        def both(record: Any, verdict: Any) -> None:
            if previous is not None:
                previous(record, verdict)
            self.on_verdict(record, verdict)

        validator.flow.on_verdict = both
        validate = validator.validate

        def validate_and_notify(answer: Any, *, thread_id: str | None = None) -> Any:
            verdict = validate(answer, thread_id=thread_id)
            if thread_id is not None:  # a waiting flow logs nothing through on_verdict until it resumes
                self.on_verdict(None, verdict)
            return verdict

        validator.validate = validate_and_notify
        return self

    # -- delivering (the background thread) -----------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="catalyst-notify", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                job = self._q.get()
                try:
                    if job is None:
                        return
                    event, data, at = job
                    for sink in self.sinks:
                        self._deliver(client, sink, event, data, at)
                finally:
                    self._q.task_done()

    def _deliver(self, client: httpx.Client, sink: Sink, event: str, data: dict[str, Any], at: datetime) -> None:
        body = orjson.dumps(sink.format(event, data, at), default=str)

        @retry(retry=retry_if_exception(_retryable), stop=stop_after_attempt(self.attempts),
               wait=wait_exponential(multiplier=self.backoff, max=5.0), reraise=True)
        def post() -> None:
            r = client.post(sink.url, content=body, headers={"content-type": "application/json", **sink.headers})
            if r.status_code == 429 or r.status_code >= 500:
                raise _Retryable(f"HTTP {r.status_code}")
            if r.status_code >= 400:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")

        try:
            post()
            self.stats["sent"] += 1
        except Exception as e:  # delivery failed after retries: counted, never raised into the app
            self.stats["failed"] += 1
            self.errors = [*self.errors[-9:], f"{type(sink).__name__} {event}: {e}"]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or failed; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._q.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then stop the thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        self.flush(timeout)
        try:
            self._q.put(None, timeout=1.0)
        except queue.Full:
            return
        self._thread.join(timeout)
