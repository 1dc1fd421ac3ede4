"""Simulated traffic written straight into a Catalyst log with DuckDB SQL (no validator): for the monitoring
tests, the notebook and the 1M-row benchmark.

The simulation is explicit about its truth. Each answer gets a calibrated confidence ``c`` and is correct
with probability ``c`` — except where a scenario says otherwise:

* ``drift_at`` (a fraction of the span; until ``drift_until``, if given): from then on, confidence is lower
  (``drift`` shifts its distribution), outputs are longer, a new model name appears in metadata, and a share
  of questions talk
  about a new topic (billing words), so confidence, length, metadata and text drift all have a true answer.
* ``degrade_at`` / ``degrade_segment``: from then on answers in that region are right less often than
  their confidence says (``degrade`` lowers the truth; ``degrade_confidence`` is the part of it that the
  confidence also loses): concept drift that
  only labels reveal, plus a flag rate that rises in one segment.

Randomness comes from ``hash(64·i + salt)`` of the row number, so a log is the same for the same arguments,
whatever DuckDB's thread count. Decisions follow the default thresholds (accept ≥ 0.8, block < 0.3); review
items are created for ``review`` verdicts and for the audit sample of accepted ones (``audit_sample``);
items older than ``label_after_hours`` are decided, and their labels are the simulated truth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from catalyst.store import open_db

_TOPIC = ["what", "is", "the", "capital", "of", "france", "who", "wrote", "hamlet", "when", "did", "war", "end",
          "how", "many", "moons", "has", "mars", "which", "river", "longest", "in", "europe", "name", "author"]
_NEW_TOPIC = ["refund", "invoice", "charged", "twice", "billing", "subscription", "cancel", "payment", "card",
              "receipt"]


def _u(salt: int) -> str:
    """A uniform [0, 1) from the row number ``i`` and a salt."""
    return f"((hash(i * 64 + {salt}) >> 11)::DOUBLE / 9007199254740992.0)"


def _pick(words: list[str], salt: int) -> str:
    """SQL: one of ``words``, chosen by the row number."""
    listed = "[" + ", ".join(f"'{w}'" for w in words) + "]"
    return f"list_element({listed}, (1 + hash(i * 64 + {salt}) % {len(words)})::BIGINT)"


def simulate(db: str | duckdb.DuckDBPyConnection, n: int = 10_000, *, days: float = 30.0,
             end: datetime | None = None, drift_at: float | None = None, drift: float = 0.15,
             drift_until: float | None = None,
             degrade_at: float | None = None, degrade_segment: str = "APAC", degrade: float = 0.25,
             degrade_confidence: float = 0.5,
             audit_sample: float = 0.02, label_after_hours: float = 24.0, policy: str = "default@sim0001",
             offset: int = 0, checks: bool = True) -> int:
    """Append ``n`` simulated verdicts spread over ``days`` up to ``end`` (now); returns ``n``."""
    con = open_db(db) if isinstance(db, str) else db
    try:
        _generate(con, n, days=days, end=end or datetime.now(UTC), drift_at=drift_at, drift=drift,
                  drift_until=drift_until, degrade_at=degrade_at, degrade_segment=degrade_segment, degrade=degrade,
                  degrade_confidence=degrade_confidence,
                  audit_sample=audit_sample, label_after_hours=label_after_hours, policy=policy, offset=offset,
                  checks=checks)
    finally:
        if isinstance(db, str):
            con.close()
    return n


def _generate(con: duckdb.DuckDBPyConnection, n: int, *, days: float, end: datetime, drift_at: float | None,
              drift: float, drift_until: float | None, degrade_at: float | None, degrade_segment: str,
              degrade: float, degrade_confidence: float, audit_sample: float, label_after_hours: float,
              policy: str, offset: int, checks: bool) -> None:
    start = end - timedelta(days=days)
    span_s = days * 86400.0
    drift_frac = 2.0 if drift_at is None else drift_at
    drift_end = 2.0 if drift_until is None else drift_until
    degrade_frac = 2.0 if degrade_at is None else degrade_at
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sim AS
        WITH base AS (
            SELECT i, i - {offset} AS k,
                   ?::TIMESTAMPTZ + to_seconds(((i - {offset}) + {_u(1)}) / {n} * {span_s}) AS ts,
                   (i - {offset}) / {n}::DOUBLE AS frac,
                   {_u(2)} AS u_seg, {_u(3)} AS u_conf, {_u(4)} AS u_y, {_u(5)} AS u_len, {_u(6)} AS u_topic,
                   {_u(7)} AS u_ms, {_u(8)} AS u_judge, {_u(9)} AS u_err, {_u(10)} AS u_audit, {_u(11)} AS u_model
            FROM range({offset}, {offset + n}) t(i)
        ), shaped AS (
            SELECT *, frac >= {drift_frac} AND frac < {drift_end} AS drifted,
                   CASE WHEN u_seg < 0.5 THEN 'EU' WHEN u_seg < 0.85 THEN 'US' ELSE 'APAC' END AS region
            FROM base
        ), scored AS (
            SELECT *, region = '{degrade_segment}' AND frac >= {degrade_frac} AS degraded,
                   greatest(0.0, least(1.0, pow(u_conf, 0.2) - CASE WHEN drifted THEN {drift} ELSE 0 END
                        - CASE WHEN region = '{degrade_segment}' AND frac >= {degrade_frac}
                               THEN {degrade * degrade_confidence} ELSE 0 END)) AS conf
            FROM shaped
        )
        SELECT *, (u_y < greatest(0.0, conf - CASE WHEN degraded THEN {degrade * (1 - degrade_confidence)} ELSE 0 END))
                      ::TINYINT AS y,
               CASE WHEN conf >= 0.8 THEN 'accept' WHEN conf < 0.3 THEN 'block' ELSE 'review' END AS decision,
               'sim-' || i AS id, printf('sim%012x', i) AS verdict_id,
               CASE WHEN drifted AND u_model < 0.5 THEN 'm-2' ELSE 'm-1' END AS model,
               (CASE WHEN drifted THEN 260 ELSE 180 END + 240 * u_len)::INTEGER AS out_len,
               u_judge < 0.1 AS judged
        FROM scored""", [start])
    words, new = _TOPIC, _NEW_TOPIC
    con.execute(f"""
        INSERT INTO verdicts (verdict_id, id, created_at, policy, decision, confidence, attempts, reasons, output,
                              segment, ms)
        SELECT verdict_id, id, ts, '{policy}', decision, conf, 1, '[]', NULL,
               '{{"region": "' || region || '"}}',
               2.0 + 8.0 * pow(u_ms, 3) + CASE WHEN judged THEN 400 * u_ms ELSE 0 END
        FROM _sim""")
    con.execute(f"""
        INSERT INTO interactions (verdict_id, id, created_at, input, output, context, samples, logprobs, metadata,
                                  label)
        SELECT verdict_id, id, ts,
               to_json(CASE WHEN drifted AND u_topic < 0.4 THEN {_pick(new, 21)} || ' ' || {_pick(new, 22)} || ' ' ||
                            {_pick(words, 23)} || ' ' || {_pick(new, 24)}
                       ELSE {_pick(words, 21)} || ' ' || {_pick(words, 22)} || ' ' || {_pick(words, 23)} || ' ' ||
                            {_pick(words, 24)} END),
               'The answer is ' || {_pick(words, 25)} || '.' || repeat(' More detail.', out_len // 13),
               '[]', '[]', NULL,
               '{{"model": "' || model || '", "segment": {{"region": "' || region || '"}}}}', NULL
        FROM _sim""")
    if checks:
        con.execute("""
            INSERT INTO check_results (verdict_id, id, name, score, passed, ms, error, evidence, details)
            SELECT verdict_id, id, 'grounding', greatest(0.0, least(1.0, conf + 0.1 * (u_len - 0.5))),
                   conf >= 0.3, 1.0 + 4.0 * pow(u_ms, 2), NULL, '[]', '{}' FROM _sim
            UNION ALL
            SELECT verdict_id, id, 'non_empty', 1.0, true, 0.01, NULL, '[]', '{}' FROM _sim
            UNION ALL
            SELECT verdict_id, id, 'judge', CASE WHEN u_err < 0.02 THEN NULL ELSE conf END, u_err >= 0.02,
                   400 * u_ms, CASE WHEN u_err < 0.01 THEN 'timeout after 10s' WHEN u_err < 0.02
                   THEN 'HTTP 500' END, '[]', '{}' FROM _sim WHERE judged""")
        con.execute("""
            INSERT INTO model_calls (ts, model, base_url, endpoint, latency_ms, prompt_tokens, completion_tokens,
                                     status, http_status, attempt, key, error)
            SELECT ts, 'judge-1', 'http://127.0.0.1', 'chat', 400 * u_ms, 300, 20,
                   CASE WHEN u_err < 0.02 THEN 'error' ELSE 'ok' END, CASE WHEN u_err < 0.02 THEN 500 ELSE 200 END,
                   1, id, NULL FROM _sim WHERE judged""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sim_review AS
        SELECT *, decision = 'accept' AS audit,
               ts < ?::TIMESTAMPTZ - to_seconds(3600 * {label_after_hours}) AS decided
        FROM _sim WHERE decision = 'review' OR (decision = 'accept' AND u_audit < {audit_sample})""", [end])
    con.execute(f"""
        INSERT INTO review_items (id, verdict_id, status, policy, confidence, severity, reasons, created_at, updated_at,
                                  decided_at, decided_by, decision, audit)
        SELECT id, verdict_id, CASE WHEN decided THEN 'decided' ELSE 'pending' END, '{policy}', conf,
               CASE WHEN audit THEN 0 ELSE 2 END, CASE WHEN audit THEN '["audit sample"]' ELSE '[]' END, ts, ts,
               CASE WHEN decided THEN ts + to_seconds(3600 * (2 + 10 * u_ms)) END,
               CASE WHEN decided THEN 'sim-reviewer' END,
               CASE WHEN decided THEN CASE WHEN y = 1 THEN 'approve' ELSE 'reject' END END, audit
        FROM _sim_review""")
    con.execute(f"""
        INSERT INTO labels (id, label, corrected_output, reviewer, decided_at, source, decision_id, verdict_id, policy,
                            confidence, action)
        SELECT id, y, NULL, 'sim-reviewer', ts + to_seconds(3600 * (2 + 10 * u_ms)), 'review', NULL, verdict_id,
               '{policy}', conf, CASE WHEN y = 1 THEN 'approve' ELSE 'reject' END
        FROM _sim_review WHERE decided""")
    con.execute("DROP TABLE _sim")
    con.execute("DROP TABLE _sim_review")
