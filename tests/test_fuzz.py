"""Fuzzing (hypothesis): the record parser, the policy loader, the proxy's request bodies and the review web
forms answer anything with a clean error — never a traceback, never a 500.

``CATALYST_FUZZ_EXAMPLES`` sets the examples per test (default 100; ``benchmarks/reliability.py`` runs more).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from catalyst.errors import PolicyError, RecordError, UserError
from catalyst.jsonl import parse_record, read_records
from catalyst.policy import loads_policy
from catalyst.records import Interaction

with warnings.catch_warnings(), contextlib.suppress(ImportError):
    # hypothesis reports a failure through libcst, whose import warns (warnings are errors here): import it now
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

EXAMPLES = int(os.environ.get("CATALYST_FUZZ_EXAMPLES", "100"))
# no `explain` phase: it imports libcst, whose import warns (and warnings are errors here)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)
RECORD_KEYS = [*Interaction.model_fields, "extra", "Output", ""]


def one_line(err: BaseException) -> None:
    """A clean user error: a catalyst error, a message, no traceback text in it."""
    assert isinstance(err, UserError), type(err)
    msg = str(err)
    assert msg.strip() and not TRACEBACK.search(msg)


# -- the record parser ------------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=400))
def test_record_parser_takes_any_bytes(raw: bytes) -> None:
    try:
        for rec in read_records([raw.replace(b"\n", b" ") + b"\n"]):
            assert isinstance(rec, Interaction)
    except RecordError as e:
        one_line(e)
        assert "line 1" in str(e)


@FUZZ
@given(st.dictionaries(st.sampled_from(RECORD_KEYS), json_values, max_size=8))
def test_record_parser_takes_any_json_object(data: dict[str, Any]) -> None:
    line = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    try:
        list(read_records([line + b"\n"]))
    except RecordError as e:
        one_line(e)
    try:
        parse_record(data, line=3)
    except RecordError as e:
        one_line(e)
        assert "line 3" in str(e)


# -- the policy loader -------------------------------------------------------------------------------------
POLICY_KEYS = ["name", "description", "checks", "aggregate", "thresholds", "retry", "review", "segments",
               "calibration", "log", "bogus"]
CHECK_NAMES = ["non_empty", "length", "denylist", "secrets", "injection", "leakage", "schema", "nope", ""]
check_entries = (st.sampled_from(CHECK_NAMES) | st.dictionaries(
    st.sampled_from([*CHECK_NAMES, "weight", "on_fail", "costly", "as"]), json_values, max_size=3))
policy_docs = st.dictionaries(st.sampled_from(POLICY_KEYS), json_values | st.lists(check_entries, max_size=4),
                              max_size=6)


@FUZZ
@given(policy_docs)
def test_policy_loader_takes_any_yaml_mapping(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        loads_policy(text, source="fuzz.yaml")
    except PolicyError as e:
        one_line(e)


@FUZZ
@given(st.text(max_size=300))
def test_policy_loader_takes_any_text(text: str) -> None:
    try:
        loads_policy(text, source="fuzz.yaml")
    except PolicyError as e:
        one_line(e)


# -- the proxy's request bodies ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxy_client(tmp_path_factory) -> Iterator[Any]:
    from _policies import retry_policy
    from starlette.testclient import TestClient

    from catalyst.proxy._app import ProxyConfig, create_app
    from catalyst.testing import ScriptedServer

    db = tmp_path_factory.mktemp("fuzzproxy") / "proxy.duckdb"
    with ScriptedServer("Paris is the capital of France.") as upstream:
        app = create_app(ProxyConfig(upstream=upstream.url, policy=retry_policy("fuzz", max_retries=0,
                                                                                on_exhausted="review"),
                                     db=db, flush_interval=0.2, timeout=5.0, max_retries=0))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


ASKED = [{"role": "user", "content": "What is the capital of France?"}]
good_messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": st.text()}),
                         min_size=1, max_size=3)
odd_messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool", ""]),
                                               "content": json_values}), max_size=3)
messages = st.just(ASKED) | good_messages | odd_messages | json_values
bodies = st.fixed_dictionaries(
    {"model": st.just("m") | json_values, "messages": messages},
    optional={"catalyst_context": json_values | st.lists(st.text(max_size=30), max_size=3),
              "catalyst_metadata": json_values, "stream": st.booleans() | json_values,
              "n": json_values, "temperature": json_values})


@FUZZ
@given(bodies)
@example({"model": "m", "messages": ASKED, "catalyst_context": 5})  # the cases: 500s after the upstream call
@example({"model": "m", "messages": ASKED, "catalyst_context": [1, 2]})
@example({"model": "m", "messages": ASKED, "catalyst_context": [None]})
@example({"model": "m", "messages": ASKED, "catalyst_context": [{"text": "x"}]})
@example({"model": "m", "messages": ASKED, "catalyst_context": {"k": "v"}})  # silently became the passage ["k"]
@example({"model": "m", "messages": ASKED, "catalyst_metadata": "EU"})
def test_proxy_answers_any_body_with_a_clean_json_error(proxy_client: Any, body: dict[str, Any]) -> None:
    """The contract (wire's body validation): never a 500 or a traceback; a 4xx is a JSON error that names the
    field at fault when a `catalyst_*` field is."""
    r = proxy_client.post("/v1/chat/completions", content=orjson.dumps(body),
                          headers={"content-type": "application/json", "authorization": "Bearer sk-fuzz"})
    assert r.status_code < 500 or r.status_code in (502, 504), (r.status_code, r.text[:300])
    assert not TRACEBACK.search(r.text)
    context = body.get("catalyst_context")
    bad_context = context is not None and not (isinstance(context, str) or (
        isinstance(context, list) and all(isinstance(p, str) for p in context)))
    if bad_context:  # refused, never turned into passages (a dict used to become its keys)
        assert r.status_code == 400, (context, r.status_code)
    if 400 <= r.status_code < 500:
        err = r.json()["error"]
        assert err["message"] and (err.get("param") or "`" in err["message"]), err  # names the field at fault
        only_context_bad = body.get("model") == "m" and body.get("messages") == ASKED and bad_context
        if only_context_bad:
            assert "catalyst_context" in err["message"], err


@FUZZ
@given(st.binary(max_size=300))
@example(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "catalyst_context": 1e999999}')
@example(b'{"model": "m", "messages": [], "catalyst_context": 12345678901234567890123}')
@example(b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}')
def test_proxy_answers_any_bytes_with_a_clean_json_error(proxy_client: Any, raw: bytes) -> None:
    r = proxy_client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert not TRACEBACK.search(r.text)
    if r.status_code >= 400:
        assert r.json()["error"]["message"]


# -- the review web forms ------------------------------------------------------------------------------------
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[tuple[Any, str]]:
    from fastapi.testclient import TestClient

    from catalyst.review.queue import ReviewQueue
    from catalyst.review.web import auth, create_app
    from catalyst.review.web.sample import HOSTILE, sample_pair
    from catalyst.store import Store

    path: Path = tmp_path_factory.mktemp("fuzzweb") / "log.duckdb"
    with Store(path) as store:
        store.add([sample_pair("q-1", confidence=0.2), sample_pair("q-2", confidence=0.4),
                   sample_pair("hostile", answer=HOSTILE, confidence=0.1)])
        store.flush()
        with store.connect() as con:
            token = auth.add_user(con, "ada", "admin")
            auth.add_user(con, "rob", "reviewer")
    shutil.copy(path, path.with_name("copy.duckdb"))
    store = Store(path)
    app = create_app(store, queue=ReviewQueue(store, lease_seconds=600, sla_hours=24))
    with TestClient(app, raise_server_exceptions=False) as c:
        pre = CSRF_RE.search(c.get("/signin").text).group(1)  # type: ignore[union-attr]
        assert c.post("/signin", data={"token": token, "csrf_token": pre}, follow_redirects=False).status_code == 303
        csrf = CSRF_RE.search(c.get("/queue").text).group(1)  # type: ignore[union-attr]
        yield c, csrf
    store.close()


form_text = st.text(max_size=60) | st.sampled_from(["q-1", "q-2", "hostile", "", "approve", "reject", "correct",
                                                    "escalate", "ada", "rob", "x" * 5000])
forms = st.dictionaries(st.sampled_from(["id", "action", "reason", "corrected", "tags", "to", "token"]), form_text,
                        max_size=6)


@FUZZ
@given(st.sampled_from(["/claim", "/release", "/renew", "/decide", "/reassign", "/signin"]), forms,
       st.booleans())
def test_review_forms_answer_anything_cleanly(web: tuple[Any, str], path: str, form: dict[str, str],
                                              with_csrf: bool) -> None:
    client, csrf = web
    data = {**form, **({"csrf_token": csrf} if with_csrf else {})}
    r = client.post(path, data=data, follow_redirects=False)
    assert r.status_code < 500, (path, data, r.status_code, r.text[:300])
    assert not TRACEBACK.search(r.text)


@FUZZ
@given(st.sampled_from(["/item", "/item/answer.txt", "/audit", "/queue"]),
       st.dictionaries(st.sampled_from(["id", "limit", "sort", "page"]), form_text, max_size=3))
def test_review_pages_answer_any_query_cleanly(web: tuple[Any, str], path: str, query: dict[str, str]) -> None:
    client, _ = web
    r = client.get(path, params=query, follow_redirects=False)
    assert r.status_code < 500, (path, query, r.status_code, r.text[:300])
    assert not TRACEBACK.search(r.text)

