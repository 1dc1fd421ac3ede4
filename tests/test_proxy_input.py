"""The proxy bounds and checks what it gets before calling upstream: JSON errors, no upstream call, the
connection stays usable (real HTTP on loopback, the scripted server upstream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import catalyst
from catalyst.proxy import ProxyServer, serve_in_thread
from catalyst.testing import Reply, ScriptedServer

MSG = [{"role": "user", "content": "What is the capital of France?"}]
LIMIT = 64 * 1024


@pytest.fixture
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer("Paris.") as srv:
        yield srv


@pytest.fixture
def proxy(upstream: ScriptedServer, db_path: Path) -> Iterator[ProxyServer]:
    with serve_in_thread(upstream.url, db=db_path, max_body_bytes=LIMIT, timeout=1.0, max_retries=2,
                         flush_interval=0.2) as px:
        yield px


@pytest.fixture
def http(proxy: ProxyServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=30) as c:
        yield c


def local_port(r: httpx.Response) -> int:
    """The client side port of the connection a response came on (same port = same keep-alive connection)."""
    return int(r.extensions["network_stream"].get_extra_info("client_addr")[1])


def assert_json_error(r: httpx.Response, status: int, param: str | None = None, match: str = "") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if param is not None:
        assert err["param"] == param, err
    assert match in err["message"], err
    return err


def ok(http: httpx.Client) -> httpx.Response:
    r = http.post("/chat/completions", json={"model": "m", "messages": MSG})
    assert r.status_code == 200 and r.json()["catalyst"]["decision"], r.text
    return r


def verdicts(db: Path) -> int:
    with catalyst.Store(db) as s:
        return int(s.query("SELECT count(*) AS n FROM verdicts")[0]["n"])


BAD_FIELDS = [
    ({"catalyst_context": 5}, "catalyst_context", "not int"),
    ({"catalyst_context": [1, 2]}, "catalyst_context", "item 0 is int"),
    ({"catalyst_context": [None]}, "catalyst_context", "item 0 is null"),
    ({"catalyst_context": [{"text": "x"}]}, "catalyst_context", "item 0 is object"),
    ({"catalyst_context": {"k": "v"}}, "catalyst_context", "not object"),
    ({"catalyst_context": True}, "catalyst_context", "not boolean"),
    ({"catalyst_metadata": "eu"}, "catalyst_metadata", "not string"),
    ({"catalyst_metadata": [1]}, "catalyst_metadata", "not array"),
    ({"catalyst_metadata": {"segment": "EU"}}, "catalyst_metadata.segment", "must be an object"),
    ({"catalyst_contex": ["typo"]}, "catalyst_contex", "unknown Catalyst argument"),
    ({"model": ""}, "model", "model name"),
    ({"model": 7}, "model", "model name"),
    ({"messages": "hi"}, "messages", "list of messages"),
    ({"messages": []}, "messages", "list of messages"),
    ({"messages": [{"content": "no role"}]}, "messages", "list of messages"),
    ({"stream": "yes"}, "stream", "true or false"),
]


@pytest.mark.parametrize(("patch", "param", "match"), BAD_FIELDS, ids=[f"{p}:{m}" for _, p, m in BAD_FIELDS])
def test_bad_fields_are_a_400_naming_the_field_before_any_upstream_call(http, upstream, proxy, db_path, patch,
                                                                          param, match):
    first = http.post("/chat/completions", json={"model": "m", "messages": MSG, **patch})
    assert_json_error(first, 400, param, match)
    assert upstream.requests == []  # never sent upstream
    second = ok(http)  # the next request on the same keep-alive connection is served
    assert local_port(second) == local_port(first)
    proxy.stop()
    assert verdicts(db_path) == 1  # the good request's; a refused request has no answer to judge


def test_the_openai_client_sees_a_bad_request_with_the_param(proxy, upstream):
    with openai.OpenAI(base_url=proxy.url, api_key="k", max_retries=0) as c:
        with pytest.raises(openai.BadRequestError, match="catalyst_context") as ei:
            c.chat.completions.create(model="m", messages=MSG, extra_body={"catalyst_context": [{"text": "x"}]})
        assert ei.value.body["param"] == "catalyst_context"  # type: ignore[index]
        r = c.chat.completions.create(model="m", messages=MSG, extra_body={"catalyst_context": "One passage."})
        assert r.catalyst["decision"]  # type: ignore[attr-defined]
    assert len(upstream.requests) == 1 and "catalyst_context" not in upstream.requests[0].json


def test_string_context_and_metadata_object_are_accepted_and_logged(http, proxy, db_path):
    r = http.post("/chat/completions", json={"model": "m", "messages": MSG, "catalyst_context": "Paris is in France.",
                                             "catalyst_metadata": {"team": "geo", "segment": {"region": "EU"}}})
    assert r.status_code == 200
    proxy.stop()
    with catalyst.Store(db_path) as s:
        [row] = s.query("SELECT context, metadata FROM interactions")
    assert "Paris is in France." in row["context"] and '"team"' in row["metadata"]


@pytest.mark.parametrize(("body", "match"), [
    (b"{nope", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"text"', "JSON object"),
    ('{"model": "m", "messages": [{"role": "user", "content": "\udcff"}]}'.encode("utf-8", "surrogatepass"),
     "not valid JSON"),
], ids=["broken", "empty", "array", "string", "bad-utf8"])
def test_invalid_json_is_a_400(http, upstream, body, match):
    first = http.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_json_error(first, 400, match=match)
    assert local_port(ok(http)) == local_port(first)
    assert len(upstream.requests) == 1


def test_a_100_mb_body_is_refused_with_413_and_never_read_or_sent(http, upstream, proxy, db_path):
    filler = "x" * (100 * 1024 * 1024)
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + filler.encode() + b'"}]}'
    first = http.post("/chat/completions", content=big, headers={"content-type": "application/json"})
    assert_json_error(first, 413, "body", "--max-body-bytes")
    second = ok(http)
    assert local_port(second) == local_port(first)  # the connection survived the refused upload
    assert len(upstream.requests) == 1


def test_a_chunked_body_over_the_limit_is_refused_too(http, upstream):
    def parts() -> Iterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(LIMIT // 1024 + 8):
            yield b"y" * 1024
        yield b'"}]}'

    r = http.post("/chat/completions", content=parts(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_json_error(r, 413, "body")
    ok(http)
    assert len(upstream.requests) == 1


def test_a_body_under_the_limit_passes(http, upstream):
    text = "z" * (LIMIT - 200)
    r = http.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200 and upstream.requests[0].messages[0]["content"] == text


def test_unknown_routes_and_methods_are_json_errors(http):
    assert_json_error(http.get("/nothing/here"), 404, match="/v1/nothing/here")
    assert_json_error(http.get("/chat/completions"), 405, match="Method Not Allowed")


def test_an_internal_failure_is_a_json_500_logged_as_review_and_the_proxy_keeps_serving(http, proxy, db_path,
                                                                                        monkeypatch):
    # a mock, on purpose: no real input makes the validation flow itself raise (checks fail closed)
    async def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(proxy.proxy.guard, "acheck", broken)
    err = assert_json_error(http.post("/chat/completions", json={"model": "m", "messages": MSG}), 500,
                            match="simulated bug")
    assert err["type"] == "server_error"
    monkeypatch.undo()
    ok(http)
    proxy.stop()
    with catalyst.Store(db_path) as s:
        rows = s.query("SELECT decision, reasons FROM verdicts ORDER BY created_at")
    assert rows[0]["decision"] == "review" and "simulated bug" in rows[0]["reasons"] and len(rows) == 2


def test_upstream_errors_that_are_not_json_become_json(http, upstream):
    upstream.script = [Reply.raw("<html>Bad gateway</html>", status=502, content_type="text/html")] * 3
    err = assert_json_error(http.post("/chat/completions", json={"model": "m", "messages": MSG}), 502,
                            match="Bad gateway")
    assert err["type"] == "upstream_error"
    assert len(upstream.requests) == 3  # 502 is retried (max_retries=2), then passed on


@pytest.mark.parametrize(("status", "sent"), [(501, 1), (505, 1), (529, 2), (503, 2)])
def test_the_proxy_retries_by_the_shared_rule(http, upstream, status, sent):
    upstream.script = [Reply.server_error(status), "Paris."]
    r = http.post("/chat/completions", json={"model": "m", "messages": MSG})
    assert r.status_code == (200 if sent == 2 else status)
    assert len(upstream.requests) == sent


def test_max_body_bytes_is_checked():
    with pytest.raises(catalyst.errors.ConfigError, match="--max-body-bytes"):
        serve_in_thread("http://127.0.0.1:9/v1", db=None, max_body_bytes=10)


# no "explain" phase: it imports libcst, whose DeprecationWarning (an error here) would hide the failure
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
request_bodies = st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.just("m"), json_values),
    "messages": st.one_of(st.just(MSG), json_values,
                          st.lists(st.dictionaries(st.sampled_from(["role", "content"]), json_values), max_size=3)),
    "stream": st.one_of(st.just(False), json_values),
    "catalyst_context": json_values,
    "catalyst_metadata": json_values,
})


@settings(max_examples=300, deadline=None, phases=PHASES)
@given(body=request_bodies)
def test_fuzz_request_parsing_gives_a_request_or_a_record_error(body):
    from catalyst.openai._wire import Request

    try:
        req = Request.parse(body, via="proxy")
    except catalyst.errors.RecordError as e:
        assert e.field and str(e)
    else:
        assert not any(k.startswith("catalyst_") for k in req.body)
        assert all(isinstance(p, str) for p in req.context) and isinstance(req.metadata, dict)


@settings(max_examples=40, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=request_bodies.map(lambda b: {**b, "stream": False}))
def test_fuzz_the_proxy_answers_every_body_with_json_and_never_a_500(http, upstream, body):
    before = len(upstream.requests)
    r = http.post("/chat/completions", json=body)
    assert r.status_code in (200, 400), r.text
    assert r.headers["content-type"].startswith("application/json") and r.json()
    assert len(upstream.requests) == before + (r.status_code == 200)


def test_models_errors_from_upstream_are_json(http, upstream, monkeypatch):
    from catalyst.testing import _server

    def broken(self):  # a mock, on purpose: the scripted server's /models never fails by itself
        self._send(503, b"<html>maintenance</html>", {"content-type": "text/html"})

    monkeypatch.setattr(_server._Handler, "do_GET", broken)
    err = assert_json_error(http.get("/models"), 503, match="maintenance")
    assert err["type"] == "upstream_error"
