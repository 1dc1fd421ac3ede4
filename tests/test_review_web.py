"""The web reviewer over a real DuckDB file, through FastAPI's TestClient: auth, roles, CSRF, escaping,
bad input. (The end-to-end run in headless Chromium is tests/test_review_web_e2e.py.)"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalyst.review.queue import ReviewQueue
from catalyst.review.web import auth, create_app
from catalyst.review.web.app import CSP, SESSION_COOKIE
from catalyst.review.web.cli import token_app
from catalyst.review.web.render import Span, highlight, visible
from catalyst.review.web.sample import HOSTILE, sample_pair
from catalyst.store import Store

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One seeded log per module (a 1 MB answer, a hostile one, a hostile id, users); each test gets a copy."""
    path = tmp_path_factory.mktemp("web") / "seed.duckdb"
    with Store(path) as store:
        store.add([sample_pair("q-1", confidence=0.2), sample_pair("q-2", confidence=0.4),
                   sample_pair("hostile", answer=HOSTILE, confidence=0.1),
                   sample_pair('id"><script>alert(9)</script>&x=1', confidence=0.5),
                   sample_pair("big", answer="A" * 1_048_576, confidence=0.6)])
        store.flush()
        with store.connect() as con:
            tokens = {"ada": auth.add_user(con, "ada", "admin"), "rob": auth.add_user(con, "rob", "reviewer"),
                      "ria": auth.add_user(con, "ria", "reviewer")}
    return path, tokens


@pytest.fixture
def env(seeded, tmp_path: Path):
    src, tokens = seeded
    shutil.copy(src, tmp_path / "log.duckdb")
    store = Store(tmp_path / "log.duckdb")
    clock = Clock()
    queue = ReviewQueue(store, lease_seconds=600, sla_hours=24, clock=clock)
    app = create_app(store, queue=queue)
    yield app, store, tokens, clock
    store.close()


def sign_in(app, token: str) -> tuple[TestClient, str]:
    c = TestClient(app)
    pre = CSRF_RE.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"token": token, "csrf_token": pre}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c, CSRF_RE.search(c.get("/queue").text).group(1)


def holder(store: Store, item_id: str) -> str | None:
    return store.query("SELECT claimed_by FROM review_items WHERE id = ?", [item_id])[0]["claimed_by"]


# -- sign-in and sessions -------------------------------------------------------------------------------
def test_signin_sets_strict_httponly_session_and_signout_ends_it(env):
    app, _, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    cookie = next(h for h in c.cookies.jar if h.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite").lower() == "strict"
    page = c.get("/queue")
    assert page.status_code == 200 and "rob" in page.text and "reviewer" in page.text
    old = c.cookies.get(SESSION_COOKIE)
    assert c.post("/signout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    replay = TestClient(app, cookies={SESSION_COOKIE: old})
    r = replay.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"


@pytest.mark.parametrize("token", ["", "cat_wrong", "not-even-a-token", "x" * 5000])
def test_wrong_or_missing_token_is_refused(env, token):
    app, _, _, _ = env
    c = TestClient(app)
    pre = CSRF_RE.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"token": token, "csrf_token": pre}, follow_redirects=False)
    assert r.status_code == 401
    assert "token is not valid" in r.text
    assert SESSION_COOKIE not in c.cookies
    r = c.post("/signin", data={"csrf_token": pre}, follow_redirects=False)  # field missing altogether
    assert r.status_code == 401


def test_signin_form_needs_its_csrf_cookie(env):
    app, _, tokens, _ = env
    c = TestClient(app)
    r = c.post("/signin", data={"token": tokens["ada"], "csrf_token": "guess"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF token" in r.text
    assert SESSION_COOKIE not in c.cookies


def test_signed_out_requests(env):
    app, store, _, _ = env
    c = TestClient(app)
    r = c.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert c.get("/item?id=q-1", follow_redirects=False).status_code == 303
    r = c.post("/claim", data={"csrf_token": "x", "id": "q-1"})
    assert r.status_code == 401 and "not signed in" in r.text
    assert holder(store, "q-1") is None


def test_revoked_token_ends_sessions(env):
    app, store, tokens, _ = env
    c, _ = sign_in(app, tokens["rob"])
    with store.connect() as con:
        auth.revoke_user(con, "rob")
    assert c.get("/queue", follow_redirects=False).status_code == 303
    c2 = TestClient(app)
    pre = CSRF_RE.search(c2.get("/signin").text).group(1)
    assert c2.post("/signin", data={"token": tokens["rob"], "csrf_token": pre}).status_code == 401


# -- CSRF -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}])
def test_post_without_a_valid_csrf_token_is_403_and_changes_nothing(env, form):
    app, store, tokens, _ = env
    c, _ = sign_in(app, tokens["rob"])
    r = c.post("/claim", data={**form, "id": "q-1"})
    assert r.status_code == 403
    assert "CSRF token is " + ("missing" if not form.get("csrf_token") else "not valid") in r.text
    assert holder(store, "q-1") is None
    assert not [a for a in store.query("SELECT * FROM review_audit") if a["action"] == "claim"]


def test_csrf_token_of_another_session_is_rejected(env):
    app, store, tokens, _ = env
    c_rob, _ = sign_in(app, tokens["rob"])
    _, csrf_ria = sign_in(app, tokens["ria"])
    assert c_rob.post("/claim", data={"csrf_token": csrf_ria, "id": "q-1"}).status_code == 403
    assert holder(store, "q-1") is None


def test_cross_origin_post_is_refused_even_with_the_token(env):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    r = c.post("/claim", data={"csrf_token": csrf, "id": "q-1"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "another origin" in r.text
    r = c.post("/claim", data={"csrf_token": csrf, "id": "q-1"}, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    assert holder(store, "q-1") is None


# -- reviewing ------------------------------------------------------------------------------------------
def test_claim_next_takes_the_highest_priority_item_and_correct_writes_a_label(env):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    r = c.post("/claim", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/item?id=hostile&msg=claimed"  # lowest confidence
    r = c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    assert r.status_code == 400 and "already holds item `hostile`" in r.text
    r = c.post("/release", data={"csrf_token": csrf, "id": "hostile"})
    assert r.status_code == 200 and holder(store, "hostile") is None
    c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    page = c.get("/item?id=q-1").text
    assert 'name="action" value="correct"' in page
    r = c.post("/decide", data={"csrf_token": csrf, "id": "q-1", "action": "correct", "reason": "wrong year",
                                "corrected": "Completed in 1889; 330 m tall.", "tags": "date, height"})
    assert r.status_code == 200 and "Decision saved" in r.text
    label = store.query("SELECT * FROM labels WHERE id = 'q-1'")
    assert [(x["label"], x["corrected_output"], x["reviewer"]) for x in label] == [
        (0, "Completed in 1889; 330 m tall.", "rob")]


def test_deciding_an_item_you_do_not_hold_or_already_decided(env):
    app, store, tokens, _ = env
    rob, csrf_rob = sign_in(app, tokens["rob"])
    ria, csrf_ria = sign_in(app, tokens["ria"])
    r = rob.post("/decide", data={"csrf_token": csrf_rob, "id": "q-2", "action": "approve"})
    assert r.status_code == 409 and "does not hold item `q-2`" in r.text
    ria.post("/claim", data={"csrf_token": csrf_ria, "id": "q-2"})
    r = rob.post("/decide", data={"csrf_token": csrf_rob, "id": "q-2", "action": "reject"})
    assert r.status_code == 409 and "held by ria" in r.text
    r = rob.post("/claim", data={"csrf_token": csrf_rob, "id": "q-2"})
    assert r.status_code == 409
    assert ria.post("/decide", data={"csrf_token": csrf_ria, "id": "q-2", "action": "approve"}).status_code == 200
    r = ria.post("/decide", data={"csrf_token": csrf_ria, "id": "q-2", "action": "reject"})
    assert r.status_code == 409 and "already decided" in r.text
    assert [x["label"] for x in store.query("SELECT label FROM labels WHERE id = 'q-2'")] == [1]
    assert rob.post("/decide", data={"csrf_token": csrf_rob, "id": "nope", "action": "approve"}).status_code == 404


def test_expired_lease_is_refused(env):
    app, store, tokens, clock = env
    c, csrf = sign_in(app, tokens["rob"])
    c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    clock.now += timedelta(seconds=601)
    r = c.post("/decide", data={"csrf_token": csrf, "id": "q-1", "action": "approve"})
    assert r.status_code == 409 and "expired" in r.text
    assert store.query("SELECT status FROM review_items WHERE id = 'q-1'")[0]["status"] == "pending"


@pytest.mark.parametrize(("form", "status", "message"), [
    ({"action": "delete"}, 400, "Choose approve, reject, correct or escalate"),
    ({"action": "correct", "corrected": "   "}, 400, "needs the corrected answer"),
    ({"action": "correct", "corrected": "fine \u202e text"}, 400, "U+202E"),
    ({"action": "approve", "reason": "bell\x07"}, 400, "U+0007"),
    ({"action": "approve", "tags": "<b>bad tag</b>"}, 400, "is not valid"),
])
def test_bad_decisions_are_explained_and_not_saved(env, form, status, message):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    r = c.post("/decide", data={"csrf_token": csrf, "id": "q-1", **form})
    assert r.status_code == status and message in r.text
    assert "<b>bad tag</b>" not in r.text
    assert store.query("SELECT count(*) AS n FROM review_decisions")[0]["n"] == 0
    assert holder(store, "q-1") == "rob"


def test_oversized_body_is_413(env):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    r = c.post("/decide", data={"csrf_token": csrf, "id": "q-1", "action": "correct", "corrected": "x" * 2_100_000})
    assert r.status_code == 413
    assert store.query("SELECT count(*) AS n FROM review_decisions")[0]["n"] == 0


# -- roles ------------------------------------------------------------------------------------------------
def test_reviewers_cannot_see_the_audit_trail_or_reassign(env):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    r = c.get("/audit")
    assert r.status_code == 403 and "needs an admin" in r.text
    r = c.post("/reassign", data={"csrf_token": csrf, "id": "q-1", "to": "rob"})
    assert r.status_code == 403
    assert holder(store, "q-1") is None
    assert "Reassign to" not in c.get("/item?id=q-1").text


def test_admin_reassigns_and_sees_the_audit_row(env):
    app, store, tokens, _ = env
    rob, csrf_rob = sign_in(app, tokens["rob"])
    rob.post("/claim", data={"csrf_token": csrf_rob, "id": "q-1"})
    ada, csrf = sign_in(app, tokens["ada"])
    assert "Reassign to" in ada.get("/item?id=q-1").text
    r = ada.post("/reassign", data={"csrf_token": csrf, "id": "q-1", "to": "ria"})
    assert r.status_code == 200 and "Item reassigned" in r.text
    assert holder(store, "q-1") == "ria"
    r = ada.post("/reassign", data={"csrf_token": csrf, "id": "q-1", "to": "mallory"})
    assert r.status_code == 400 and "active token" in r.text
    audit = ada.get("/audit?id=q-1")
    assert audit.status_code == 200
    rows = re.findall(r'<span class="act">([^<]+)</span>', audit.text)
    assert rows[:2] == ["reassign", "claim"]
    assert rob.post("/decide", data={"csrf_token": csrf_rob, "id": "q-1", "action": "approve"}).status_code == 409


# -- what the pages show ------------------------------------------------------------------------------
def test_security_headers_and_no_script_on_any_page(env):
    app, _, tokens, _ = env
    c, _ = sign_in(app, tokens["ada"])
    for url in ("/signin", "/queue", "/queue?show=decided", "/item?id=q-1", "/audit", "/healthz"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-security-policy"] == CSP
        assert "default-src 'none'" in CSP and "script-src" not in CSP  # no script may run, inline or not
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in r.text.lower()


def test_hostile_answer_renders_as_text(env):
    app, _, tokens, _ = env
    c, _ = sign_in(app, tokens["rob"])
    page = c.get("/item?id=hostile").text
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "<img" not in page and "<iframe" not in page and 'href="javascript:' not in page
    assert '<span class="cc" title="RIGHT-TO-LEFT OVERRIDE">⟨U+202E⟩</span>' in page
    assert "⟨U+0000⟩" in page and "⟨U+0007⟩" in page and "⟨U+001B⟩" in page
    assert "\u202e" not in page and "\x00" not in page
    assert "invisible or text-direction characters" in page


def test_hostile_item_id_is_escaped_everywhere(env):
    app, store, tokens, _ = env
    hid = 'id"><script>alert(9)</script>&x=1'
    c, csrf = sign_in(app, tokens["ada"])
    queue = c.get("/queue").text
    assert "<script>alert(9)" not in queue
    assert "/item?id=id%22%3E%3Cscript%3Ealert%289%29%3C%2Fscript%3E%26x%3D1" in queue
    r = c.post("/claim", data={"csrf_token": csrf, "id": hid}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "<script>alert(9)" not in page and "id&#34;&gt;&lt;script&gt;" in page
    assert holder(store, hid) == "ada"


def test_highlights_are_escaped_marks_at_the_right_offsets(env):
    app, _, tokens, _ = env
    c, _ = sign_in(app, tokens["rob"])
    page = c.get("/item?id=q-1").text
    marks = re.findall(r'<mark class="doubt" title="([^"]*)">([^<]*)</mark>', page)
    assert [m[1] for m in marks] == ["completed in 1899", "after a new antenna was added in 2022"]
    assert "the date 1899 is not in the context" in marks[0][0]
    assert '<mark class="support"' in page and "badge supporting" in page
    assert page.count('class="passage ') == 5
    for name in ("grounding", "numbers", "citations", "pii", "toxicity"):
        assert f'<td class="cname">{name}</td>' in page


def test_a_one_megabyte_answer_is_cut_for_display_and_downloadable(env):
    app, _, tokens, _ = env
    c, _ = sign_in(app, tokens["rob"])
    r = c.get("/item?id=big")
    assert r.status_code == 200
    assert len(r.content) < 100_000
    assert "Showing the first 20,000 of 1,048,576 characters" in r.text
    assert "Download the full answer" in r.text
    d = c.get("/item/answer.txt?id=big")
    assert d.status_code == 200 and d.text == "A" * 1_048_576
    assert d.headers["content-disposition"] == 'attachment; filename="answer.txt"'
    assert d.headers["content-type"].startswith("text/plain")


def test_host_allow_list(tmp_path):
    store = Store(tmp_path / "h.duckdb")
    try:
        app = create_app(store, allowed_hosts=["127.0.0.1"])
        c = TestClient(app, base_url="http://127.0.0.1")
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"host": "rebind.evil.example"}).status_code == 400
    finally:
        store.close()


# -- pure rendering ---------------------------------------------------------------------------------------
def test_highlight_overlaps_and_out_of_range_spans():
    text = "a<b>c&d"
    r = highlight(text, [Span(0, 4, "support", 's "1"'), Span(2, 6, "doubt", "<d>"), Span(5, 99, "flag", "f"),
                         Span(50, 60, "doubt", "beyond"), Span(3, 3, "doubt", "empty")])
    assert str(r.html) == ('<mark class="support" title="s &#34;1&#34;">a&lt;</mark>'
                           '<mark class="doubt" title="s &#34;1&#34; · &lt;d&gt;">b&gt;</mark>'
                           '<mark class="doubt" title="&lt;d&gt;">c</mark>'
                           '<mark class="doubt" title="&lt;d&gt; · f">&amp;</mark>'
                           '<mark class="flag" title="f">d</mark>')
    assert r.spans_hidden == 1 and not r.truncated


def test_visible_shows_bidi_and_controls_and_keeps_newlines():
    assert str(visible("x\r\ny\tz")) == "x\ny\tz"
    assert str(visible("a\u2066b\u200bc\u061c")).count('class="cc"') == 3


# -- the token command ------------------------------------------------------------------------------------
def test_token_cli_add_list_revoke(tmp_path):
    db = tmp_path / "t.duckdb"
    with Store(db, keep_open=False).connect():  # create and migrate the log
        pass
    run = CliRunner()
    r = run.invoke(token_app, ["add", "ada", "--role", "admin", "--db", str(db)])
    assert r.exit_code == 0, r.output
    token = r.stdout.splitlines()[0]
    assert token.startswith("cat_") and len(token) > 40
    again = run.invoke(token_app, ["add", "ada", "--db", str(db)])
    assert again.exit_code != 0 and "--replace" in str(again.exception)
    bad = run.invoke(token_app, ["add", "eve", "--role", "root", "--db", str(db)])
    assert "unknown role" in str(bad.exception)
    assert run.invoke(token_app, ["list", "--db", str(db)]).stdout.split() == ["ada", "admin", "active"]
    store = Store(db, keep_open=False)
    with store.connect() as con:
        assert auth.user_by_token(con, token) == auth.User("ada", "admin")
        assert con.execute("SELECT count(*) FROM review_users WHERE token_hash = ?", [token]).fetchone()[0] == 0
    assert run.invoke(token_app, ["revoke", "ada", "--db", str(db)]).exit_code == 0
    with store.connect() as con:
        assert auth.user_by_token(con, token) is None


def test_oversized_chunked_body_is_413(tmp_path):
    store = Store(tmp_path / "c.duckdb")
    try:
        c = TestClient(create_app(store, max_body=1000))

        def body():
            for _ in range(10):
                yield b"a=" + b"x" * 500 + b"&"

        r = c.post("/signin", content=body(), headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and "over 1,000 bytes" in r.text
    finally:
        store.close()


def test_serving_a_missing_log_says_what_to_do(tmp_path, capsys):
    from catalyst.review.web.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--db", str(tmp_path / "missing.duckdb")])
    assert e.value.code == 2
    assert "no Catalyst log at" in capsys.readouterr().err


def test_renew_extends_the_lease(env):
    app, _, tokens, clock = env
    c, csrf = sign_in(app, tokens["rob"])
    c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    clock.now += timedelta(seconds=500)
    r = c.post("/renew", data={"csrf_token": csrf, "id": "q-1"})
    assert r.status_code == 200 and "Lease renewed" in r.text
    clock.now += timedelta(seconds=500)  # past the first lease, inside the renewed one
    assert c.post("/decide", data={"csrf_token": csrf, "id": "q-1", "action": "approve"}).status_code == 200
    ria, csrf_ria = sign_in(app, tokens["ria"])
    assert ria.post("/renew", data={"csrf_token": csrf_ria, "id": "q-2"}).status_code == 409


def test_catalyst_review_token_add_through_the_main_cli(tmp_path):
    from catalyst.cli import app as cli_app

    db = tmp_path / "m.duckdb"
    with Store(db, keep_open=False).connect():  # create and migrate the log
        pass
    r = CliRunner().invoke(cli_app, ["review", "token", "add", "ada", "--role", "admin", "--db", str(db)])
    assert r.exit_code == 0, r.output
    token = r.stdout.splitlines()[0]
    with Store(db, keep_open=False).connect() as con:
        assert auth.user_by_token(con, token) == auth.User("ada", "admin")


def test_escalate_returns_the_item_with_higher_priority_and_decided_tab_lists_final_ones(env):
    app, store, tokens, _ = env
    c, csrf = sign_in(app, tokens["rob"])
    c.post("/claim", data={"csrf_token": csrf, "id": "q-2"})
    r = c.post("/decide", data={"csrf_token": csrf, "id": "q-2", "action": "escalate", "reason": "needs legal"})
    assert r.status_code == 200 and "Item escalated" in r.text
    row = store.query("SELECT status, severity, claimed_by FROM review_items WHERE id = 'q-2'")[0]
    assert row == {"status": "escalated", "severity": 4, "claimed_by": None}
    queue = c.get("/queue").text
    ids = re.findall(r'<td class="id"><a href="/item\?id=([^"]+)">', queue)
    assert ids[0] == "q-2"  # severity first
    c.post("/claim", data={"csrf_token": csrf, "id": "q-1"})
    c.post("/decide", data={"csrf_token": csrf, "id": "q-1", "action": "reject"})
    decided = c.get("/queue?show=decided").text
    assert re.findall(r'<td class="id"><a href="/item\?id=([^"]+)">', decided) == ["q-1"]
    bad = c.get("/queue?show=everything")
    assert bad.status_code == 422 and "Not a valid request" in bad.text and "show" in bad.text


def test_bidi_and_controls_in_ids_and_reasons_are_shown_not_obeyed(env):
    app, store, tokens, _ = env
    rid = "inv\u202eoice-7"
    rec, v = sample_pair(rid, confidence=0.01)
    v.reasons = ["grounding\u202e < 0.6", "bell\x07"]
    store.add([(rec, v)])
    store.flush()
    c, csrf = sign_in(app, tokens["ada"])
    queue = c.get("/queue").text
    assert "inv<span class=\"cc\" title=\"RIGHT-TO-LEFT OVERRIDE\">⟨U+202E⟩</span>oice-7" in queue
    r = c.post("/claim", data={"csrf_token": csrf, "id": rid}, follow_redirects=False)
    page = c.get(r.headers["location"]).text
    assert holder(store, rid) == "ada"
    visible_part = page.split('name="id" value=')[0]  # before the forms, which carry the raw id as data
    assert "\u202e" not in visible_part.split("<main>")[1] and "\x07" not in page
    assert "grounding<span class=\"cc\"" in page and "⟨U+0007⟩" in page
    assert "⟨U+202E⟩" in c.get("/audit").text
