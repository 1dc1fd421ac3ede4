"""The web reviewer: a FastAPI app serving server-rendered pages over the review queue.

Security model (answers are untrusted input, reviewers are authenticated people):

* **Sign-in** with a token an admin created (``catalyst review token add NAME --role reviewer|admin``).
  A session is a random id in an HttpOnly, SameSite=Strict cookie; only its hash is stored.
* **CSRF**: every POST carries the session's synchronizer token (hidden field ``csrf_token`` or header
  ``X-CSRF-Token``), compared in constant time; the sign-in form uses a double-submit cookie. A missing or
  wrong token, or a cross-site ``Origin`` / ``Sec-Fetch-Site``, is a 403 that says so.
* **Escaping**: Jinja2 with autoescape on for every template; answer highlighting escapes each piece
  before marking it (``render.py``); invisible and bidi characters are shown as visible tags.
* **Headers**: a strict Content-Security-Policy with no script at all (``default-src 'none'``), framing
  forbidden, ``nosniff``, ``no-referrer``, ``no-store``; an optional Host allow-list against DNS rebinding;
  request bodies over ``max_body`` bytes are refused with 413.
* **Roles**: reviewers claim and decide; admins also see the audit trail and reassign items.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalyst.errors import UserError
from catalyst.review.queue import (
    AlreadyDecidedError,
    ItemNotFoundError,
    LeaseExpiredError,
    NotHolderError,
    ReviewQueue,
)
from catalyst.review.web import auth
from catalyst.review.web.auth import Session
from catalyst.review.web.render import visible
from catalyst.review.web.view import item_view
from catalyst.store import Store

_HERE = Path(__file__).parent
SESSION_COOKIE = "catalyst_session"
PRE_COOKIE = "catalyst_presession"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
#: flash messages are picked by key from this table, never echoed from the URL
FLASH = {
    "claimed": "Item claimed. Your lease is running: decide, or release it for someone else.",
    "released": "Item released back to the queue.",
    "decided": "Decision saved.",
    "escalated": "Item escalated: it is back in the queue with a higher priority.",
    "reassigned": "Item reassigned.",
    "renewed": "Lease renewed.",
    "empty": "Nothing left to claim: the queue is empty.",
    "signedout": "You are signed out.",
}


class HttpError(Exception):
    """An error page: status, a title, and a message that says what happened and what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class _Redirect(Exception):
    """Raised by a dependency to send the browser elsewhere (e.g. to sign in)."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class _Headers:
    """ASGI middleware: security headers on every response, and a cap on request body size."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _plain(send, 413, f"request body over {self.max_body:,} bytes; send less (a corrected answer "
                                    "may be at most 100,000 characters)")
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # no length declared (chunked): read the body first, at most max_body bytes, then replay it
            chunks: list[bytes] = []
            size = 0
            while True:
                msg = await receive()
                if msg["type"] != "http.request":
                    return  # the client went away
                size += len(msg.get("body", b""))
                if size > self.max_body:
                    await _plain(send, 413, f"request body over {self.max_body:,} bytes; send less")
                    return
                chunks.append(msg.get("body", b""))
                if not msg.get("more_body"):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                return await receive()

            receive = replay

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *_SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(_HERE / "templates")), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.filters["v"] = lambda s: visible("" if s is None else str(s))  # escaped, hidden characters shown
    env.filters["ts"] = lambda t: "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    env.filters["age"] = _age
    env.filters["pct"] = lambda x: "—" if x is None else f"{100 * float(x):.0f}%"
    env.filters["jsonish"] = lambda v: "" if v is None else orjson.dumps(v, default=str).decode()
    return env


def _age(hours: float) -> str:
    if hours < 1:
        return f"{max(0, int(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def create_app(db: str | Path | Store, *, lease_seconds: float = 900.0, sla_hours: float = 24.0,
               session_hours: float = 12.0, cookie_secure: bool = False, allowed_hosts: Sequence[str] | None = None,
               max_body: int = 2_000_000, queue: ReviewQueue | None = None,
               dashboard_ttl: float = 60.0) -> FastAPI:
    """The web reviewer over the DuckDB log ``db`` (a path, or a :class:`Store` to share).

    With a path, the server opens the file once and keeps it (a long-running server owns the file;
    DuckDB allows one read-write process). ``allowed_hosts`` restricts the ``Host`` header (``serve``
    sets it to the bound address); ``cookie_secure`` marks cookies Secure (behind HTTPS). The monitoring
    dashboard's numbers are recomputed in the background once ``dashboard_ttl`` seconds old.
    """
    store = db if isinstance(db, Store) else Store(db, keep_open=True)
    q = queue or ReviewQueue(store, lease_seconds=lease_seconds, sla_hours=sla_hours)
    with store.connect() as con:  # migrate now, so a bad --db fails at start, not on the first request
        con.execute("SELECT 1")
    env = _templates()
    ttl = timedelta(hours=session_hours)
    app = FastAPI(title="Catalyst review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.queue = store, q
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, session: Session | None = None,
             **ctx: Any) -> HTMLResponse:
        flash = FLASH.get(request.query_params.get("msg", ""))
        html = env.get_template(name).render(session=session, flash=flash, **ctx)
        return HTMLResponse(html, status_code=status)

    def cookie(resp: Response, name: str, value: str, max_age: int | None) -> None:
        resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=cookie_secure,
                        path="/")

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> HTMLResponse:
        sess = getattr(request.state, "session", None)
        return page(request, "error.html", exc.status, session=sess, title=exc.title, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        sess = getattr(request.state, "session", None)
        return page(request, "error.html", 422, session=sess, title="Not a valid request",
                    message=f"This request has a missing or invalid field ({where[:300]}). Use the reviewer pages.")

    @app.exception_handler(UserError)
    async def _review_error(request: Request, exc: UserError) -> HTMLResponse:
        status = 404 if isinstance(exc, ItemNotFoundError) else 409 if isinstance(
            exc, NotHolderError | AlreadyDecidedError | LeaseExpiredError) else 400
        title = {404: "No such item", 409: "Not possible now", 400: "Cannot do that"}[status]
        sess = getattr(request.state, "session", None)
        return page(request, "error.html", status, session=sess, title=title, message=str(exc),
                    item_id=request.query_params.get("id") or getattr(request.state, "item_id", None))

    # -- dependencies ------------------------------------------------------------------------------
    def session_or_none(request: Request) -> Session | None:
        with store.connect() as con:
            s = auth.session_for(con, request.cookies.get(SESSION_COOKIE))
        request.state.session = s
        return s

    def signed_in(request: Request, s: Session | None = Depends(session_or_none)) -> Session:
        if s is None:
            if request.method == "GET":
                raise _Redirect("/signin")
            raise HttpError(401, "Signed out", "Your session has ended or you are not signed in. "
                                               "Sign in again with your token, then repeat the action.")
        return s

    def admin(s: Session = Depends(signed_in)) -> Session:
        if not s.user.is_admin:
            raise HttpError(403, "Admins only", f"{s.user.name} has the reviewer role; this page needs an admin. "
                                                "Ask an admin, or sign in with an admin token.")
        return s

    def same_origin(request: Request) -> None:
        site = request.headers.get("sec-fetch-site")
        if site and site not in ("same-origin", "none"):
            raise HttpError(403, "Cross-site request refused",
                            f"This form was sent from another site (Sec-Fetch-Site: {site}). Use the reviewer pages.")
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            if urlsplit(origin).netloc != host:
                raise HttpError(403, "Cross-site request refused",
                                "This form was sent from another origin. Use the reviewer pages directly.")

    def csrf(request: Request, s: Session = Depends(signed_in), csrf_token: str | None = Form(None)) -> Session:
        same_origin(request)
        given = csrf_token or request.headers.get("x-csrf-token")
        if not auth.csrf_ok(s.csrf, given):
            what = "missing" if not given else "not valid for this session"
            raise HttpError(403, "Form token rejected",
                            f"The form's CSRF token is {what}, so nothing was changed. Reload the page and try again; "
                            "if you did not send this form yourself, someone tried to act in your name.")
        return s

    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> RedirectResponse:
        return RedirectResponse(exc.to, status_code=303)

    def back(to: str, msg: str) -> RedirectResponse:
        sep = "&" if "?" in to else "?"
        return RedirectResponse(f"{to}{sep}msg={msg}", status_code=303)

    def item_url(item_id: str) -> str:
        return "/item?id=" + quote(item_id, safe="")

    # -- public ------------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/signin")
    def signin_form(request: Request, s: Session | None = Depends(session_or_none)) -> Response:
        if s is not None:
            return RedirectResponse("/queue", status_code=303)
        pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
        resp = page(request, "signin.html", pre_token=pre, error=None)
        cookie(resp, PRE_COOKIE, pre, 3600)
        return resp

    @app.post("/signin")
    def signin(request: Request, token: str | None = Form(None), csrf_token: str | None = Form(None)) -> Response:
        same_origin(request)
        pre = request.cookies.get(PRE_COOKIE)
        if not auth.csrf_ok(pre, csrf_token):
            raise HttpError(403, "Form token rejected", "The sign-in form's CSRF token is missing or does not match "
                                                        "your browser's. Reload the sign-in page and try again.")
        with store.connect() as con:
            user = auth.user_by_token(con, token or "")
            if user is None:
                return page(request, "signin.html", 401, pre_token=pre,
                            error="That token is not valid (wrong, revoked, or mistyped). Ask an admin for one: "
                                  "catalyst review token add NAME")
            sid, _ = auth.open_session(con, user, ttl)
        done = RedirectResponse("/queue", status_code=303)
        cookie(done, SESSION_COOKIE, sid, int(ttl.total_seconds()))
        done.delete_cookie(PRE_COOKIE, path="/", httponly=True, samesite="strict")
        return done

    @app.post("/signout")
    def signout(request: Request, s: Session = Depends(csrf)) -> Response:
        with store.connect() as con:
            auth.close_session(con, request.cookies.get(SESSION_COOKIE))
        resp = RedirectResponse("/signin?msg=signedout", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    # -- reviewer ----------------------------------------------------------------------------------
    @app.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue")
    def queue_page(request: Request, s: Session = Depends(signed_in),
                   show: str = Query("open", pattern="^(open|decided)$")) -> HTMLResponse:
        status = ("pending", "escalated") if show == "open" else ("decided",)
        rows = q.items(status=status, limit=200)
        return page(request, "queue.html", session=s, rows=rows, counts=q.counts(), show=show,
                    sla_hours=q.sla.total_seconds() / 3600)

    @app.post("/claim")
    def claim(request: Request, s: Session = Depends(csrf), id: str | None = Form(None)) -> Response:
        request.state.item_id = id
        c = q.claim(s.user.name, item_id=id or None)
        if c is None:
            return back("/queue", "empty")
        return back(item_url(c.item_id), "claimed")

    @app.get("/item")
    def item_page(request: Request, id: str = Query(..., max_length=1000),
                  s: Session = Depends(signed_in)) -> HTMLResponse:
        request.state.item_id = None
        view = item_view(q.get(id))
        reviewers: list[dict[str, Any]] = []
        if s.user.is_admin:
            with store.connect() as con:
                reviewers = [u for u in auth.list_users(con) if u["revoked_at"] is None]
        return page(request, "item.html", session=s, item=view, reviewers=reviewers,
                    mine=view.row.claimed_by == s.user.name)

    @app.get("/item/answer.txt")
    def answer_txt(id: str = Query(..., max_length=1000), s: Session = Depends(signed_in)) -> Response:
        text = q.get(id).output
        return PlainTextResponse(text, headers={"content-disposition": 'attachment; filename="answer.txt"'})

    @app.post("/release")
    def release(request: Request, s: Session = Depends(csrf), id: str = Form("")) -> Response:
        request.state.item_id = id
        q.release(id, s.user.name)
        return back("/queue", "released")

    @app.post("/renew")
    def renew(request: Request, s: Session = Depends(csrf), id: str = Form("")) -> Response:
        request.state.item_id = id
        q.renew(id, s.user.name)
        return back(item_url(id), "renewed")

    @app.post("/decide")
    def decide(request: Request, s: Session = Depends(csrf), id: str = Form(""), action: str = Form(""),
               reason: str = Form(""), corrected: str | None = Form(None), tags: str = Form("")) -> Response:
        request.state.item_id = id
        if action not in ("approve", "reject", "correct", "escalate"):
            raise HttpError(400, "Unknown decision", "Choose approve, reject, correct or escalate.")
        tag_list = [t.strip() for t in tags.split(",") if t.strip()]
        output = corrected if action == "correct" else None
        q.decide(id, reviewer=s.user.name, action=action, output=output, reason=reason.strip() or None,
                 tags=tag_list)
        return back(item_url(id), "escalated" if action == "escalate" else "decided")

    from catalyst.monitor.dashboard import DashboardCache  # monitoring: the report's cheap sections, alerts

    app.state.dashboard = DashboardCache(store, ttl=dashboard_ttl, sla_hours=sla_hours)

    @app.get("/dashboard")
    def dashboard_page(request: Request, s: Session = Depends(signed_in),
                       since: str = Query("7d", pattern="^(24h|7d|30d)$")) -> HTMLResponse:
        d = app.state.dashboard.get(since)
        return page(request, "dashboard.html", session=s, d=d, since=since, by=d["by"])

    # -- admin -------------------------------------------------------------------------------------
    @app.get("/audit")
    def audit_page(request: Request, s: Session = Depends(admin), id: str | None = Query(None, max_length=1000),
                   limit: int = Query(200, ge=1, le=2000)) -> HTMLResponse:
        rows = q.audit(item_id=id or None, limit=limit)
        return page(request, "audit.html", session=s, rows=rows, item_id=id)

    @app.post("/reassign")
    def reassign(request: Request, s: Session = Depends(csrf), id: str = Form(""), to: str = Form("")) -> Response:
        if not s.user.is_admin:
            raise HttpError(403, "Admins only", "Only admins can reassign items.")
        request.state.item_id = id
        with store.connect() as con:
            if auth.user_by_name(con, to) is None:
                raise HttpError(400, "Unknown reviewer", "Pick a reviewer who has an active token.")
        q.reassign(id, to=to, by=s.user.name)
        return back(item_url(id), "reassigned")

    app.add_middleware(_Headers, max_body=max_body)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8765, *, log_level: str = "warning",
          **options: Any) -> None:
    """Run the web reviewer with uvicorn until interrupted (``catalyst review --web``)."""
    import uvicorn

    hosts = options.pop("allowed_hosts", None)
    if hosts is None and host not in ("0.0.0.0", "::"):
        hosts = sorted({host, "127.0.0.1", "localhost", "[::1]"})
    app = create_app(db, allowed_hosts=hosts, **options)
    app.state.dashboard.warm("7d")  # the monitoring dashboard's first view need not compute in the request
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False)

