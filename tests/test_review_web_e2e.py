"""End to end in real headless Chromium (Debian's ``chromium`` driven by Playwright, no downloaded browser):
the real server (``catalyst review --web``) in its own process on 127.0.0.1, sign in, claim, correct an
item, see the audit row; a hostile answer renders as text and runs nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from catalyst.review.web import auth
from catalyst.review.web.sample import HOSTILE, sample_pair
from catalyst.store import Store

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: set to a folder (e.g. docs/) to keep the item-page screenshot; by default it goes to the test's tmp dir
SHOTS_ENV = "CATALYST_SCREENSHOT_DIR"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path):
    db = tmp_path / "review.duckdb"
    with Store(db) as store:
        store.add([sample_pair("q-1", confidence=0.2, n_passages=8), sample_pair("hostile", answer=HOSTILE,
                                                                                 confidence=0.5)])
        store.flush()
        with store.connect() as con:
            token = auth.add_user(con, "ada", "admin")
    port = free_port()
    # the real command: `catalyst review --web` (through `python -m catalyst`, the same entry point)
    proc = subprocess.Popen([sys.executable, "-m", "catalyst", "review", "--web", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"web reviewer did not start:\n{out}")
            time.sleep(0.1)
        yield base, token, db
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_sign_in_claim_correct_and_see_the_audit_row(server, browser, tmp_path):
    base, token, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)

    page.goto(base + "/queue")
    assert page.url == base + "/signin"
    page.fill("#token", "cat_wrong")
    page.click("button[type=submit]")
    assert "token is not valid" in page.inner_text("[role=alert]")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/queue")
    assert page.locator("table.queue tbody tr").count() == 2
    assert page.locator(".user").inner_text() == "ada"
    # our own stylesheet loads under the CSP (no inline styles anywhere)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"

    # the hostile answer: shown as text, nothing injected, nothing run
    page.click("text=hostile")
    page.wait_for_url("**/item?id=hostile")
    answer = page.locator(".answer")
    assert '<script>alert("xss")</script>' in answer.inner_text()
    assert '<img src=x onerror="alert(1)">' in answer.inner_text()
    assert page.get_by_text('<iframe src="//evil"></iframe>', exact=False).first.is_visible()
    assert page.locator("script").count() == 0
    assert page.locator("img, iframe, a[href^='javascript']").count() == 0
    assert page.locator(".answer .cc").count() >= 4  # U+202E, U+202C, NUL, BEL, ESC made visible
    assert page.evaluate("typeof window.alert") == "function"  # nothing replaced it either

    # claim q-1 from its page, correct it
    page.goto(base + "/item?id=q-1")
    assert page.locator(".answer mark.doubt").count() == 2
    assert page.locator(".passage").count() == 8
    page.click("text=Claim this item")
    page.wait_for_url("**/item?id=q-1&msg=claimed")
    shot = Path(os.environ.get(SHOTS_ENV) or tmp_path) / "review-web-item.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    page.click("summary")
    page.fill("#corrected", "It was completed in 1889 and is 330 metres tall (with antennas) since 2022.")
    page.fill("#reason", "wrong completion year")
    page.fill("#tags", "date")
    page.click("button[value=correct]")
    page.wait_for_url("**/item?id=q-1&msg=decided")
    assert "Decision saved." in page.inner_text(".flash")
    assert "Decided: correct by ada" in page.inner_text(".decide")

    # the audit trail (admin) shows the decision
    page.click("text=Audit trail")
    page.wait_for_url(base + "/audit")
    first = page.locator("table.audit tbody tr").first
    cells = [first.locator("td").nth(i).inner_text() for i in range(5)]
    assert cells[2:5] == ["ada", "decide:correct", "q-1"]
    assert "wrong completion year" in first.inner_text()

    # sign out: the session is gone
    page.click("text=Sign out")
    page.wait_for_url("**/signin?msg=signedout")
    page.goto(base + "/queue")
    assert page.url == base + "/signin"

    assert dialogs == []
    expected = "status of 401"  # the wrong token, on purpose
    assert [m for m in console if expected not in m] == [], console  # no CSP violation, no script error
