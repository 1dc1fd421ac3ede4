"""Notifications to a real HTTP receiver on 127.0.0.1: Slack and JSON bodies, retries, never blocking, drops."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import orjson
import pytest

from catalyst import Store, Validator
from catalyst.errors import ConfigError
from catalyst.policy import Policy
from catalyst.review import ReviewQueue
from catalyst.review.demo import fill
from catalyst.review.notify import JsonWebhook, Notifier, SlackWebhook


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict]] = []
        self.fail_first = 0  # answer 503 to this many requests
        self.delay = 0.0
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.hits += 1
                time.sleep(outer.delay)
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.bodies.append((self.path, orjson.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_enqueue_and_block_from_validation_reach_slack_and_json_hooks(receiver, tmp_path):
    n = Notifier([SlackWebhook(receiver.url + "/slack"), JsonWebhook(receiver.url + "/json")], backoff=0.01)
    v = Validator("default", store=Store(tmp_path / "log.duckdb", keep_open=False))
    n.attach(v)
    v.validate_many([{"id": "r1", "output": "As an AI language model, <!channel> I can't say."},
                     {"id": "b1", "output": "   "}, {"id": "ok", "output": "Paris is the capital of France."}])
    assert n.flush(10)
    n.close()
    by_path: dict[str, list[dict]] = {}
    for path, body in receiver.bodies:
        by_path.setdefault(path, []).append(body)
    events = sorted((b["event"], b["data"]["id"]) for b in by_path["/json"])
    assert events == [("block", "b1"), ("enqueue", "r1")]
    slack = {b["text"] for b in by_path["/slack"]}
    assert slack == {"New answer to review: `r1`", "Answer blocked: `b1`"}
    assert all(isinstance(b["blocks"], list) and b["blocks"][0]["type"] == "section" for b in by_path["/slack"])
    assert n.stats == {"queued": 2, "sent": 4, "failed": 0, "dropped": 0}


def test_retries_then_delivers(receiver):
    receiver.fail_first = 2
    n = Notifier([JsonWebhook(receiver.url)], backoff=0.01, attempts=4)
    assert n.emit("enqueue", {"id": "x"})
    assert n.flush(10)
    n.close()
    assert receiver.hits == 3 and [b["data"]["id"] for _, b in receiver.bodies] == ["x"]
    assert n.stats["sent"] == 1 and n.stats["failed"] == 0


def test_gives_up_after_attempts_without_raising(receiver):
    receiver.fail_first = 100
    n = Notifier([JsonWebhook(receiver.url)], backoff=0.01, attempts=3)
    n.emit("block", {"id": "x"})
    assert n.flush(10)
    n.close()
    assert receiver.hits == 3 and n.stats["failed"] == 1 and "HTTP 503" in n.errors[-1]


def test_a_slow_receiver_never_blocks_the_caller_and_overflow_is_counted(receiver):
    receiver.delay = 0.5
    n = Notifier([JsonWebhook(receiver.url)], max_queue=3, backoff=0.01)
    t0 = time.perf_counter()
    accepted = [n.emit("enqueue", {"id": str(i)}) for i in range(50)]
    took = time.perf_counter() - t0
    assert took < 0.4  # fifty emits while one POST takes 0.5 s: none of them waited for it
    assert sum(accepted) <= 4 and n.stats["dropped"] == 50 - sum(accepted)
    receiver.delay = 0.0
    assert n.flush(10)
    n.close()
    assert len(receiver.bodies) == sum(accepted)


def test_sla_breach_and_decision_events_from_the_queue(receiver, tmp_path):
    from datetime import UTC, datetime, timedelta

    store = Store(tmp_path / "q.duckdb")
    fill(store, 2)
    n = Notifier([JsonWebhook(receiver.url)], backoff=0.01)
    later = datetime.now(UTC) + timedelta(hours=2)
    q = ReviewQueue(store, sla_hours=1, notifier=n, clock=lambda: later)
    assert len(q.sla_breaches(mark=True)) == 2 and q.sla_breaches(mark=True) == []
    c = q.claim("ana")
    q.decide(c.item_id, reviewer="ana", action="approve")
    assert n.flush(10)
    n.close()
    store.close()
    events = sorted(b["event"] for _, b in receiver.bodies)
    assert events == ["decision", "sla_breach", "sla_breach"]


def test_policy_section_and_bad_settings(receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url)
    p = Policy.model_validate({"checks": ["non_empty"],
                               "review": {"notify": {"webhook": "env:HOOK_URL", "events": ["block"]}}})
    n = Notifier.from_policy(p)
    assert n is not None and n.sinks[0].url == receiver.url and n.events == {"block"}
    assert not n.emit("enqueue", {"id": "filtered"})  # not subscribed
    assert Notifier.from_policy(Policy.model_validate({"checks": ["non_empty"]})) is None
    monkeypatch.delenv("HOOK_URL")
    with pytest.raises(ConfigError, match="HOOK_URL"):
        Notifier.from_policy(p)
    with pytest.raises(ConfigError, match="http"):
        JsonWebhook("ftp://x")
    with pytest.raises(ConfigError, match="unknown notification events"):
        Notifier([], events=["nope"])


def test_a_flow_waiting_for_review_notifies_on_enqueue(receiver, tmp_path):
    from catalyst.review.durable import checkpointer

    db = tmp_path / "log.duckdb"
    n = Notifier([JsonWebhook(receiver.url)], backoff=0.01)
    v = Validator("default", store=Store(db, keep_open=False), checkpointer=checkpointer(db))
    n.attach(v)
    assert v.validate({"id": "w", "output": "As an AI language model, sure."}, thread_id="t").decision == "review"
    assert v.validate({"id": "fine", "output": "Sure."}, thread_id="t2").decision == "accept"
    v.resume("t", {"decision": "reject", "reviewer": "ana"})
    assert n.flush(10)
    n.close()
    assert [(b["event"], b["data"]["id"]) for _, b in receiver.bodies] == [("enqueue", "w"), ("block", "w")]
