"""`catalyst report` and its sections over real DuckDB logs (simulated in SQL): numbers checked against an
independent count, the CLI outputs (terminal, JSON, HTML), the dashboard page, and every kind of bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalyst.cli import app
from catalyst.errors import ConfigError, NoDataError
from catalyst.monitor import Window, build_report
from catalyst.monitor.report import health
from catalyst.monitor.simulate import simulate
from catalyst.monitor.slices import slices
from catalyst.review.web import auth, create_app
from catalyst.store import Store, open_db

END = datetime(2026, 11, 30, tzinfo=UTC)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    """30 days, 12,000 verdicts ending now; drift from day 21 on; APAC degrades from day 15."""
    path = tmp_path_factory.mktemp("mon") / "month.duckdb"
    simulate(str(path), 12_000, end=datetime.now(UTC), drift_at=0.7, degrade_at=0.5, audit_sample=0.05)
    return path


def test_health_numbers_match_an_independent_count(month):
    con = open_db(month)
    w = Window.last("30d")
    rep = health(con, w, by="day")
    n, accept, review = con.execute("""SELECT count(*), count_if(decision = 'accept'), count_if(decision = 'review')
                                        FROM verdicts""").fetchone()
    assert rep["overview"]["n"] == n == 12_000
    assert rep["overview"]["accept_rate"] == pytest.approx(accept / n)
    assert rep["overview"]["review_rate"] == pytest.approx(review / n)
    assert sum(b["n"] for b in rep["timeline"]) == n
    assert len(rep["timeline"]) in (30, 31)  # day buckets (the first and last may be partial)
    judge = next(c for c in rep["checks"] if c["check"] == "judge")
    errors, timeouts, judged = con.execute("""SELECT count_if(error IS NOT NULL), count_if(error LIKE 'timeout%'),
                                              count(*) FROM check_results WHERE name = 'judge'""").fetchone()
    assert judge["error_rate"] == pytest.approx(errors / judged) and judge["error_rate"] > 0
    assert judge["timeout_rate"] == pytest.approx(timeouts / judged) and judge["timeout_rate"] > 0
    assert rep["model_calls"]["calls"] == judged
    assert rep["model_calls"]["tokens_per_verdict"] == pytest.approx(judged * 320 / n)
    backlog = con.execute("SELECT count(*) FROM review_items WHERE status = 'pending'").fetchone()[0]
    assert rep["review"]["backlog"] == backlog > 0
    assert rep["overturn"]["audit"]["n"] > 0 and rep["overturn"]["review"]["n"] > 0
    con.close()


def test_hourly_buckets_and_null_confidence_are_tolerated(tmp_path):
    path = tmp_path / "log.duckdb"
    simulate(str(path), 2_000, days=2, end=datetime.now(UTC))
    con = open_db(path)
    # migration m050 (evidence): confidence may be NULL, and verdicts.evidence says why
    con.execute("UPDATE verdicts SET confidence = NULL, evidence = 'none' "
                "WHERE id IN (SELECT id FROM verdicts LIMIT 100)")
    rep = health(con, Window.last("2d"), by="hour")
    assert 47 <= len(rep["timeline"]) <= 49
    assert rep["overview"]["unverified_rate"] == pytest.approx(100 / 2_000)
    assert rep["overview"]["no_evidence_rate"] == pytest.approx(100 / 2_000)
    assert build_report(con, window=Window.last("2d"), by="hour")["quality"]["expected"]
    assert rep["overview"]["mean_confidence"] is not None


def test_segments_are_ranked_by_evidence_and_small_ones_are_not_judged(month):
    con = open_db(month)
    con.execute("""UPDATE verdicts SET segment = '{"region": "TINY"}'
                   WHERE id IN (SELECT id FROM verdicts WHERE decision <> 'accept' LIMIT 20)""")
    s = slices(con, Window.last("30d"), min_size=200)
    assert s["ranked"][0]["value"] == "APAC"  # the degrading segment leads
    assert s["ranked"][0]["flagged"]
    tiny = next(x for x in s["too_small"] if x["value"] == "TINY")
    assert tiny["flag_rate"] == 1.0 and tiny["status"] == "too_small" and "200" in tiny["note"]
    assert all(x["value"] != "TINY" for x in s["ranked"])
    con.close()


def test_cli_report_terminal_json_and_html(month, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["report", "--db", str(month), "--since", "30d"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "validations by day" in r.output and "region=APAC" in r.output and "judge" in r.output
    r = runner.invoke(app, ["report", "--db", str(month), "--since", "7d", "--json"])
    data = orjson.loads(r.output)
    assert data["overview"]["n"] > 0 and "quality" in data and "drift" not in data
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "--db", str(month), "--since", "7d", "--html", str(out)],
                      env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 5 and "<h2>Drift</h2>" in page and "DRIFT" in page


def test_empty_log_window_without_data_and_bad_options(tmp_path, month):
    empty = tmp_path / "empty.duckdb"
    Store(empty).close()
    con = open_db(empty)
    with pytest.raises(NoDataError, match="holds no verdicts yet"):
        health(con, Window.last("7d"))
    con.close()
    con = open_db(month)
    old = Window(END - timedelta(days=400), END - timedelta(days=390))
    with pytest.raises(NoDataError, match=r"no verdicts between .* the log spans .* widen --since"):
        health(con, old)
    with pytest.raises(ConfigError, match="--since `7 days` is not a duration"):
        build_report(con, since="7 days")
    with pytest.raises(ConfigError, match="--by `week`"):
        health(con, Window.last("7d"), by="week")
    con.close()
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    r = CliRunner().invoke(app, ["report", "--db", str(plain)])
    assert r.exit_code != 0 and "not a Catalyst log" in str(r.exception)


def test_dashboard_page(month, tmp_path):
    import shutil

    path = tmp_path / "dash.duckdb"
    shutil.copy(month, path)
    store = Store(path)
    with store.connect() as con:
        token = auth.add_user(con, "ada", "admin")
        con.execute("INSERT INTO monitor_alerts VALUES (now(), 'flags', 'fired', 'flag_rate', 0.6, 0.5, now(), now(), "
                    "'ALERT flags: <b>x</b>', 0)")
    c = TestClient(create_app(store))
    pre = CSRF_RE.search(c.get("/signin").text).group(1)
    c.post("/signin", data={"token": token, "csrf_token": pre})
    r = c.get("/dashboard?since=30d")
    assert r.status_code == 200
    assert "<polyline" in r.text and "region=APAC" in r.text and "ALERT flags: &lt;b&gt;x&lt;/b&gt;" in r.text
    assert "script" not in r.headers["content-security-policy"]
    assert c.get("/dashboard?since=1y").status_code == 422
    store.close()
    empty = tmp_path / "empty.duckdb"
    store = Store(empty)
    with store.connect() as con:
        token = auth.add_user(con, "ada", "admin")
    c = TestClient(create_app(store))
    pre = CSRF_RE.search(c.get("/signin").text).group(1)
    c.post("/signin", data={"token": token, "csrf_token": pre})
    r = c.get("/dashboard")
    assert r.status_code == 200 and "holds no verdicts yet" in r.text
    store.close()


def test_dashboard_cache_serves_stale_numbers_while_it_recomputes(month, tmp_path):
    import shutil

    from catalyst.monitor.dashboard import DashboardCache

    path = tmp_path / "cache.duckdb"
    shutil.copy(month, path)
    now = [0.0]
    store = Store(path)
    cache = DashboardCache(store, ttl=60, clock=lambda: now[0])
    first = cache.get("7d")
    assert first["age_seconds"] == 0 and first["overview"]["n"] > 0
    with store.connect() as con:  # new traffic arrives
        simulate(con, 500, days=1, end=datetime.now(UTC), offset=10**7)
    now[0] = 30.0
    assert cache.get("7d")["overview"]["n"] == first["overview"]["n"]  # fresh enough: served as is
    now[0] = 90.0
    stale = cache.get("7d")  # too old: served, and a refresh starts in the background
    assert stale["overview"]["n"] == first["overview"]["n"] and stale["age_seconds"] == 90.0
    cache.threads["7d"].join(timeout=60)
    assert cache.get("7d")["overview"]["n"] == first["overview"]["n"] + 500 and not cache.errors
    store.close()
