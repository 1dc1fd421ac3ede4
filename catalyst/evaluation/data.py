"""Labelled, scored records as columns: what evaluation and calibration read.

An :class:`EvalData` is a set of numpy columns — labels, the aggregate confidence, one score column per
check, answer length, segment values — built without a per-record Python loop: JSONL files are parsed by
DuckDB (``read_ndjson_objects``) and pivoted with numpy, so 100k scored records load in about a second.

Accepted line shapes (one JSON object per line):

* a *scored* line: a verdict with ``checks`` (and/or ``confidence``) plus ``label``, and ideally ``output``
  (for the length baseline; ``output_chars`` will do) and ``metadata.segment`` (or ``segment``);
* a *raw* record (the Interaction contract) with ``label``; it has no scores yet, so the caller validates it
  first (see :func:`catalyst.evaluation.run.scored_from_records`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from catalyst.errors import RecordError
from catalyst.evaluation.errors import MissingLabelsError

__all__ = ["EvalData", "from_columns", "load_jsonl", "load_store"]


@dataclass
class EvalData:
    """Columns of scored records. Missing values are NaN (floats) or None (objects); ``label`` uses -1."""

    ids: np.ndarray
    label: np.ndarray  # int8: 1 correct, 0 incorrect, -1 unlabelled
    confidence: np.ndarray  # float, NaN when the line carried none
    decision: np.ndarray  # object: "accept"/"review"/"block"/"retry" or None
    check_names: list[str]
    scores: np.ndarray  # (n, k) float, NaN when the check did not run or errored
    passed: np.ndarray  # (n, k) float 1/0, NaN when unknown
    output_chars: np.ndarray  # float, NaN when the output text is absent
    segments: dict[str, np.ndarray] = field(default_factory=dict)  # key -> object array of str | None
    outputs: np.ndarray | None = None  # object array of output text, when kept (benchmarks)
    has_context: np.ndarray | None = None  # float 1/0: the record had a non-blank context passage; NaN unknown

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def has_raw_only(self) -> bool:
        """True when no line carries scores: the records must be validated before they can be evaluated."""
        return bool(np.isnan(self.confidence).all() and not self.check_names)

    def labelled(self) -> EvalData:
        """Only the rows with a 0/1 label; raises when there are none."""
        keep = self.label >= 0
        if not keep.any():
            raise MissingLabelsError(
                f"none of the {len(self)} records has a `label`; add `\"label\": 1` (answer correct) or "
                "`\"label\": 0` (incorrect) to each line, or label answers in the review queue")
        return self.take(keep)

    def take(self, mask: np.ndarray) -> EvalData:
        """The rows where ``mask`` is true (a boolean array) or at the given indices."""
        return replace(
            self, ids=self.ids[mask], label=self.label[mask], confidence=self.confidence[mask],
            decision=self.decision[mask], scores=self.scores[mask], passed=self.passed[mask],
            output_chars=self.output_chars[mask], segments={k: v[mask] for k, v in self.segments.items()},
            outputs=None if self.outputs is None else self.outputs[mask],
            has_context=None if self.has_context is None else self.has_context[mask])

    def score(self, name: str) -> np.ndarray:
        return self.scores[:, self.check_names.index(name)]

    @property
    def verified(self) -> np.ndarray:
        """True where the row has a confidence (evidence scored it); False for ``evidence: none`` rows."""
        return np.isfinite(self.confidence)


def _label_sql(col: str) -> str:
    """SQL mapping a label column to 1 / 0 / -1 (absent) / -2 (invalid)."""
    t = f"lower(trim(CAST({col} AS VARCHAR)))"
    return (f"CASE WHEN {col} IS NULL OR {t} IN ('', 'null', 'none') THEN -1 "
            f"WHEN {t} IN ('1', '1.0', 'true') THEN 1 WHEN {t} IN ('0', '0.0', 'false') THEN 0 ELSE -2 END")


def _labels(code: Any, raw: Any, source: str) -> np.ndarray:
    out = np.asarray(code, dtype=np.int8)
    bad = np.flatnonzero(out == -2)
    if bad.size:
        i = int(bad[0])
        raise RecordError(f"`label` must be 1 (correct), 0 (incorrect) or absent, got {_obj_col(raw)[i]!r} in "
                          f"{source}", line=i + 1, field="label")
    return out


def _float_col(raw: Any) -> np.ndarray:
    arr = np.asarray(raw)
    if np.ma.isMaskedArray(raw):
        return np.ma.filled(np.ma.asarray(raw).astype(float), np.nan)
    return arr.astype(float)


def _obj_col(raw: Any) -> np.ndarray:
    if np.ma.isMaskedArray(raw):
        data = np.asarray(np.ma.getdata(raw), dtype=object)
        out = data.copy()
        out[np.ma.getmaskarray(raw)] = None
        return out
    return np.asarray(raw, dtype=object)


_COLUMNS = ("{id: 'VARCHAR', label: 'VARCHAR', confidence: 'VARCHAR', decision: 'VARCHAR', output: 'VARCHAR', "
            "output_chars: 'VARCHAR', metadata: 'JSON', segment: 'JSON', context: 'JSON', "
            "checks: 'STRUCT(name VARCHAR, score DOUBLE, passed BOOLEAN, error VARCHAR)[]'}")


def load_jsonl(path: str | Path, *, keep_outputs: bool = False) -> EvalData:
    """Read scored or raw labelled records from JSONL with DuckDB (see the module docstring for shapes).

    The file is parsed once into typed columns (unknown keys ignored); when that fails, a second, slower pass
    finds the offending line so the error names it.
    """
    p = Path(path)
    if not p.is_file():
        raise RecordError(f"data file `{p}` not found; give a JSONL file of labelled records or verdicts")
    con = duckdb.connect()
    try:
        try:
            con.execute("CREATE TEMP TABLE raw AS SELECT (row_number() OVER ())::BIGINT AS line, * "
                        f"FROM read_json(?, format='newline_delimited', columns={_COLUMNS})", [str(p)])
        except duckdb.Error as e:
            _explain(con, p, e)
        n = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
        if n == 0:
            raise MissingLabelsError(f"`{p}` has no records")
        return _from_connection(con, n, str(p), keep_outputs)
    finally:
        con.close()


def _explain(con: duckdb.DuckDBPyConnection, p: Path, e: duckdb.Error) -> None:
    """Find the line the typed parse choked on and raise a RecordError naming it."""
    try:
        con.execute("CREATE TEMP TABLE objs AS SELECT (row_number() OVER ())::BIGINT AS line, json AS j "
                    "FROM read_ndjson_objects(?)", [str(p)])
    except duckdb.Error as e2:
        raise RecordError(f"`{p}` is not JSONL (one JSON object per line): {str(e2).splitlines()[0]}") from None
    bad = con.execute("SELECT min(line) FROM objs WHERE json_type(j) <> 'OBJECT'").fetchone()[0]  # type: ignore[index]
    if bad is not None:
        raise RecordError("each line must be a JSON object", line=int(bad))
    bad = con.execute("""SELECT min(line) FROM objs WHERE json_type(j->'checks') NOT IN ('ARRAY', 'NULL')
                         OR list_contains(json_transform(j->'checks', '["JSON"]')
                                          .list_transform(lambda c: json_type(c->'score') IN ('VARCHAR', 'OBJECT',
                                                                                               'ARRAY')), true)"""
                      ).fetchone()[0]  # type: ignore[index]
    if bad is not None:
        raise RecordError("`checks` must be a list of {name, score (a number or null), passed}", line=int(bad),
                          field="checks")
    raise RecordError(f"`{p}`: {str(e).splitlines()[0]}") from None


def _from_connection(con: duckdb.DuckDBPyConnection, n: int, source: str, keep_outputs: bool) -> EvalData:
    cols = con.execute("""
        SELECT line, COALESCE(id, 'line-' || line::VARCHAR) AS id, label, {label_code} AS label_code,
               TRY_CAST(confidence AS DOUBLE) AS conf,
               COALESCE(confidence IS NOT NULL AND confidence <> 'null'
                        AND TRY_CAST(confidence AS DOUBLE) IS NULL, false) AS conf_bad,
               decision, COALESCE(length(output), TRY_CAST(output_chars AS BIGINT)) AS out_len,
               CASE WHEN context IS NULL THEN NULL WHEN json_type(context) = 'VARCHAR'
                    THEN (trim(context->>'$') <> '')::DOUBLE WHEN json_type(context) = 'ARRAY'
                    THEN (len(list_filter(json_transform(context, '["VARCHAR"]'), lambda p: trim(p) <> '')) > 0)::DOUBLE
                    ELSE 0.0 END AS has_ctx {outputs}
        FROM raw ORDER BY line""".format(outputs=", output" if keep_outputs else "", label_code=_label_sql("label"))
    ).fetchnumpy()
    conf = _float_col(cols["conf"])
    bad = np.flatnonzero(np.asarray(cols["conf_bad"], dtype=bool))
    if bad.size:
        raise RecordError("`confidence` must be a number in [0, 1]", line=int(bad[0]) + 1, field="confidence")
    checks = con.execute("""
        SELECT line, c.name AS name, c.score AS score, c.passed AS passed, c.error AS error
        FROM (SELECT line, unnest(checks) AS c FROM raw WHERE checks IS NOT NULL)""").fetchnumpy()
    names, scores, passed = _pivot_checks(checks, n)
    segs = con.execute("""
        SELECT line, k AS key, json_extract_string(seg, '$."' || replace(k, '"', '\\"') || '"') AS value
        FROM (SELECT line, seg, unnest(json_keys(seg)) AS k FROM (
              SELECT line, COALESCE(metadata->'segment', segment) AS seg FROM raw)
              WHERE json_type(seg) = 'OBJECT')""").fetchnumpy()
    return EvalData(
        ids=_obj_col(cols["id"]), label=_labels(cols["label_code"], cols["label"], source),
        confidence=conf, decision=_obj_col(cols["decision"]), check_names=names, scores=scores, passed=passed,
        output_chars=_float_col(cols["out_len"]), segments=_segment_columns(segs, n),
        outputs=_obj_col(cols["output"]) if keep_outputs else None, has_context=_float_col(cols["has_ctx"]))


def _segment_columns(segs: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    segments: dict[str, np.ndarray] = {}
    if segs["line"].size:
        keys, vals = _obj_col(segs["key"]), _obj_col(segs["value"])
        lines = np.asarray(segs["line"], dtype=np.int64) - 1
        for key in sorted(set(keys.tolist())):
            col = np.full(n, None, dtype=object)
            m = keys == key
            col[lines[m]] = vals[m]
            segments[str(key)] = col
    return segments


def _pivot_checks(checks: dict[str, Any], n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not checks["line"].size:
        return [], np.full((n, 0), np.nan), np.full((n, 0), np.nan)
    name_col = _obj_col(checks["name"]).astype(str)
    names, inv = np.unique(name_col, return_inverse=True)
    rows = np.asarray(checks["line"], dtype=np.int64) - 1
    scores = np.full((n, names.size), np.nan)
    passed = np.full((n, names.size), np.nan)
    scores[rows, inv] = _float_col(checks["score"])
    passed[rows, inv] = _float_col(checks["passed"])
    errored = _obj_col(checks["error"])
    has_err = np.array([e is not None for e in errored], dtype=bool)
    scores[rows[has_err], inv[has_err]] = np.nan  # a broken check carries no evidence about the answer
    return [str(x) for x in names], scores, passed


def from_columns(label: Any, confidence: Any = None, *, checks: dict[str, Any] | None = None,
                 output_chars: Any = None, segments: dict[str, Any] | None = None,
                 ids: Any = None, has_context: Any = None) -> EvalData:
    """Build an :class:`EvalData` from arrays (the notebook and tests use this)."""
    y = np.asarray(label, dtype=float)
    n = y.size
    lab = np.where(np.isnan(y), -1, y).astype(np.int8)
    cols: dict[str, Any] = checks or {}
    names = sorted(cols)
    sc = np.column_stack([np.asarray(cols[k], dtype=np.float64) for k in names]) if names else np.full((n, 0), np.nan)
    return EvalData(
        ids=np.asarray(ids if ids is not None else [f"r-{i}" for i in range(n)], dtype=object), label=lab,
        confidence=np.full(n, np.nan) if confidence is None else np.asarray(confidence, dtype=float),
        decision=np.full(n, None, dtype=object), check_names=names, scores=sc,
        passed=np.full(sc.shape, np.nan),
        output_chars=np.full(n, np.nan) if output_chars is None else np.asarray(output_chars, dtype=float),
        segments={k: np.asarray(v, dtype=object) for k, v in (segments or {}).items()},
        has_context=None if has_context is None else np.asarray(has_context, dtype=float))


def load_store(con: duckdb.DuckDBPyConnection, *, policy: str | None = None) -> EvalData:
    """Labelled verdicts from the DuckDB log: reviewer labels when the review tables provide them, else
    ``interactions.label``; check scores from ``check_results``; the latest verdict per interaction id."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()}
    label_sql = "i.label"
    join = ""
    if "labels" in tables:  # the review queue's labels (m013): one row per decision, latest wins
        lcols = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'labels'").fetchall()}
        when = next((c for c in ("decided_at", "created_at") if c in lcols), None)
        if "label" in lcols and "id" in lcols:
            pick = f"arg_max(label, {when})" if when else "any_value(label)"
            join = f"LEFT JOIN (SELECT id AS k, {pick} AS label FROM labels GROUP BY id) rl ON rl.k = v.id"
            label_sql = "COALESCE(rl.label, i.label)"
    where = "WHERE v.policy LIKE ? " if policy else ""
    params = [f"{policy}@%"] if policy and "@" not in policy else ([policy] if policy else [])
    if policy and "@" in policy:
        where = "WHERE v.policy = ? "
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _eval_rows AS
        SELECT row_number() OVER (ORDER BY v.created_at, v.verdict_id)::BIGINT AS line, v.verdict_id, v.id,
               {label_sql}::VARCHAR AS label, v.confidence, v.decision, length(i.output) AS out_len,
               v.segment AS seg
        FROM (SELECT * FROM verdicts QUALIFY row_number() OVER (PARTITION BY id ORDER BY created_at DESC) = 1) v
        JOIN interactions i ON i.verdict_id = v.verdict_id
        {join}
        {where}""", params)
    n = con.execute("SELECT count(*) FROM _eval_rows").fetchone()[0]  # type: ignore[index]
    if n == 0:
        raise MissingLabelsError("the log has no verdicts" + (f" for policy `{policy}`" if policy else "")
                                 + "; validate some answers first")
    cols = con.execute(f"SELECT line, id, label, {_label_sql('label')} AS label_code, confidence, decision, "
                       "out_len FROM _eval_rows ORDER BY line").fetchnumpy()
    checks = con.execute("""
        SELECT r.line, c.name, c.score, c.passed, c.error FROM check_results c
        JOIN _eval_rows r ON r.verdict_id = c.verdict_id""").fetchnumpy()
    names, scores, passed = _pivot_checks(checks, n)
    segs = con.execute("""
        SELECT line, k AS key, json_extract_string(seg, '$."' || replace(k, '"', '\\"') || '"') AS value
        FROM (SELECT line, seg, unnest(json_keys(seg)) AS k FROM _eval_rows WHERE json_type(seg) = 'OBJECT')
        """).fetchnumpy()
    segments = _segment_columns(segs, n)
    return EvalData(
        ids=_obj_col(cols["id"]), label=_labels(cols["label_code"], cols["label"], "the log"),
        confidence=_float_col(cols["confidence"]), decision=_obj_col(cols["decision"]), check_names=names,
        scores=scores, passed=passed, output_chars=_float_col(cols["out_len"]), segments=segments)
