"""The evidence contract end to end (issue 11, item 1): only evidence checks make the confidence; an answer no
evidence check could score says `evidence: none`, has no confidence (never 1.0), and every consumer shows it
as "not verified": the verdict line, the DuckDB log (old logs migrate), the review queue and the web reviewer.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from catalyst import Decision, Store, Validator, Verdict, load_policy
from catalyst.records import confidence_text
from catalyst.review.queue import ReviewQueue
from catalyst.review.web import auth, create_app
from catalyst.review.web.sample import sample_pair
from catalyst.store.migrations import all_migrations

# one hand-made context, the answers of issue 11's report
CONTEXT = ["The Golden Gate Bridge opened to traffic on May 27, 1937. Its main span is 1,280 meters long; the "
           "bridge links San Francisco and Marin County and was designed by Joseph Strauss."]
CORRECT = "The Golden Gate Bridge opened to traffic on May 27, 1937."
NUMBERS = "The Golden Gate Bridge opened to traffic on June 3, 1952."
INVENTED = "The bridge was designed by Gustave Eiffel and painted blue for the 1901 World's Fair in Lyon."


def test_invented_answers_are_blocked_not_diluted_by_rule_checks():
    v = Validator("default")
    got = {name: v.validate({"output": text, "context": CONTEXT})
           for name, text in (("correct", CORRECT), ("numbers", NUMBERS), ("invented", INVENTED))}
    assert got["correct"].decision is Decision.ACCEPT and got["correct"].confidence > 0.9
    assert got["invented"].decision is not Decision.ACCEPT and got["numbers"].decision is not Decision.ACCEPT
    assert got["invented"].confidence < 0.3 and got["numbers"].confidence < 0.3  # no 0.7 from pass marks
    assert got["invented"].reasons[0].startswith("confidence 0.")
    calibrated = v.policy.calibrator
    for verdict in got.values():  # the confidence is the (calibrated) grounding evidence, not a mean with rules
        g = next(c.score for c in verdict.checks if c.name == "grounding")
        assert verdict.confidence == pytest.approx(calibrated(g, {"grounding": g}) if calibrated else g)


def test_the_verdict_line_says_not_verified_and_keeps_the_label():
    v = Validator("default").validate({"output": "It opened in 1937.", "label": 1})
    line = orjson.loads(v.to_json())
    assert line["confidence"] is None and line["evidence"] == "none" and line["label"] == 1
    assert list(line)[:2] == ["id", "confidence"]
    scored = orjson.loads(Validator("default").validate({"output": CORRECT, "context": CONTEXT}).to_json())
    assert scored["evidence"] == "scored" and 0 < scored["confidence"] <= 1 and "label" not in scored
    assert confidence_text(None) == "not verified" and confidence_text(0.5) == "0.50"


def test_confidence_and_evidence_must_agree():
    with pytest.raises(ValueError, match="exactly when evidence is `none`"):
        Verdict(id="a", confidence=None, decision=Decision.REVIEW, policy="p")
    with pytest.raises(ValueError, match="exactly when evidence is `none`"):
        Verdict(id="a", confidence=1.0, evidence="none", decision=Decision.ACCEPT, policy="p")


def test_the_log_stores_unverified_answers_with_null_confidence(tmp_path):
    db = tmp_path / "log.duckdb"
    with Store(db) as store:
        v = Validator("strict", store=store)
        v.validate_many([{"id": "plain", "output": "It opened in 1937."},
                         {"id": "grounded", "output": CORRECT, "context": CONTEXT}])
        store.flush()
        rows = {r["id"]: r for r in store.query("SELECT id, decision, confidence, evidence FROM verdicts")}
        assert rows["plain"]["confidence"] is None and rows["plain"]["evidence"] == "none"
        assert rows["plain"]["decision"] == "review"
        assert rows["grounded"]["evidence"] == "scored" and rows["grounded"]["confidence"] > 0.5
        [item] = store.query("SELECT id, confidence FROM review_items")
        assert item == {"id": "plain", "confidence": None}
        # SQL means skip unverified answers by themselves
        assert store.query("SELECT avg(confidence) AS m FROM verdicts")[0]["m"] == rows["grounded"]["confidence"]
        assert ReviewQueue(store).items()[0].confidence is None


def test_a_log_from_before_the_migration_keeps_its_rows_as_scored(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)")
    for name, sql in all_migrations():
        if name.startswith("m05"):
            continue
        con.execute(sql)
        con.execute("INSERT INTO _migrations VALUES (?, now())", [name])
    con.execute("INSERT INTO verdicts VALUES ('v1', 'old', now(), 'p@1', 'accept', 0.9, 1, NULL, NULL, NULL, 1.0)")
    con.close()
    with Store(db) as store:
        assert store.query("SELECT id, evidence, confidence FROM verdicts") == [
            {"id": "old", "evidence": "scored", "confidence": 0.9}]
        Validator("default", store=store).validate({"id": "new", "output": "x"})
        store.flush()
        assert store.query("SELECT evidence FROM verdicts WHERE id = 'new'") == [{"evidence": "none"}]


def test_the_web_reviewer_shows_not_verified(tmp_path):
    with Store(tmp_path / "log.duckdb") as store:
        store.add([sample_pair("plain", confidence=None), sample_pair("scored", confidence=0.42)])
        store.flush()
        with store.connect() as con:
            token = auth.add_user(con, "rob", "reviewer")
        c = TestClient(create_app(store, queue=ReviewQueue(store)))
        pre = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signin").text).group(1)
        assert c.post("/signin", data={"token": token, "csrf_token": pre}, follow_redirects=False).status_code == 303
        queue = c.get("/queue").text
        assert "not verified" in queue and "42%" in queue
        page = c.get("/item?id=plain").text
        assert "confidence <b>not verified</b>" in page
        assert "not verified" not in c.get("/item?id=scored").text


def test_the_summary_counts_unverified_answers_apart_from_the_mean():
    from catalyst.summary import Summary

    v = Validator("default")
    s = Summary()
    s.add([v.validate({"output": CORRECT, "context": CONTEXT}), v.validate("It opened in 1937."),
           v.validate("It opened in 1938.")])
    d = s.to_dict()
    assert d["verified"] == 1 and d["not_verified"] == 2 and d["mean_confidence"] > 0.5
    only_unverified = Summary()
    only_unverified.add([v.validate("x")])
    assert only_unverified.to_dict()["mean_confidence"] is None


def test_rescore_replays_the_engine_decision_for_every_kind_of_answer():
    """eval/tune replay a policy over stored scores: they must decide as the engine did (evidence-only confidence,
    rules, unverified answers with and without context)."""
    from importlib.resources import files

    from catalyst.evaluation import rescore, scored_from_records

    demo = [orjson.loads(line) for line in
            (files("catalyst") / "data" / "demo.jsonl").read_bytes().splitlines()[:120]]
    extra = [{"id": "plain", "output": "It opened in 1937.", "label": 1},
             {"id": "idk", "output": "As an AI language model, I cannot say.", "context": CONTEXT, "label": 0},
             {"id": "empty", "output": "   ", "context": CONTEXT, "label": 0}]
    policy = load_policy("default")
    data = scored_from_records(demo + extra, policy)
    conf, decision = rescore(data, policy)
    assert list(decision) == list(data.decision)
    np.testing.assert_allclose(conf, data.confidence, rtol=1e-9, equal_nan=True)
    assert np.isnan(conf[-3]) and decision[-3] == "accept"  # no context: on_unverified.no_context


def test_on_unverified_in_the_exported_schema_and_bad_values_fail_at_load():
    import jsonschema

    from catalyst.errors import PolicyError
    from catalyst.policy import loads_policy, schema

    s = schema()
    assert "description" in s["properties"]["on_unverified"]
    check = jsonschema.Draft202012Validator(s)  # (not the metaschema: test modules register undocumented checks)
    for ok in ("review", {"default": "block", "no_context": "accept"}):
        check.validate({"checks": ["non_empty"], "on_unverified": ok})
        assert loads_policy(f"checks: [non_empty]\non_unverified: {orjson.dumps(ok).decode()}\n")
    with pytest.raises(jsonschema.ValidationError):
        check.validate({"checks": ["non_empty"], "on_unverified": "maybe"})
    with pytest.raises(PolicyError, match="on_unverified"):
        loads_policy("checks: [non_empty]\non_unverified: maybe\n")
