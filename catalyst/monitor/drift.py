"""Drift between a reference window and the current one, each statistic judged by its own null distribution.

**Numbers** (confidence, each check's score, input and output length, latency) and **categories**
(metadata fields, including each ``metadata.segment`` key) are compared as histograms counted inside DuckDB:
bins at the reference window's quantiles (numbers) or the most frequent values plus ``other`` and ``∅``
(categories). The statistic is the population stability index (PSI, counts smoothed by ½) — the number
fixed-threshold tools compare to 0.1. Here its threshold comes from its **null distribution at the actual
sample sizes**: under "no drift" both windows draw from the pooled histogram, so we draw ``resamples``
pairs of multinomial histograms of sizes (n_ref, n_cur) from it and read the p-value as the share of null
PSIs at least as large as the observed one (a permutation test on the binned data; ``(1 + k) / (1 + B)``).
The work is on a histogram of ≤ 20 bins, so it costs the same for a thousand rows or a billion.

**Text** (inputs, outputs) is compared by a domain classifier: a logistic regression (SGD, 20 epochs) on hashed
word 1–2-grams learns to tell a bounded random sample of reference texts from current ones (``text_sample`` per side,
drawn by DuckDB's reservoir sampling); trained on half, it scores the other half, and a one-sided
Mann–Whitney test of the held-out scores gives an exact p-value at those sizes (AUC 0.5 = no drift). The
words with the largest weights and the most "current-looking" texts say what changed.

All p-values of one run are adjusted together (Benjamini–Hochberg): a metric drifts when its q-value is
under ``alpha``, so testing twenty metrics does not raise twenty chances of a false alarm.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from catalyst.monitor._sql import Schema, Window, benjamini_hochberg, prepare

__all__ = ["DriftSettings", "drift_report", "psi", "psi_null_test"]


@dataclass(frozen=True)
class DriftSettings:
    alpha: float = 0.05           #: false-discovery rate over all tests of one run
    resamples: int = 999          #: null draws per statistic (smallest p-value: 1 / (resamples + 1))
    bins: int = 10                #: quantile bins for numbers
    categories: int = 20          #: most frequent values kept for categories (the rest is ``other``)
    text_sample: int = 2000       #: texts per side for the domain classifier
    min_rows: int = 30            #: per side; fewer and the test is reported as too small
    seed: int = 0
    fixed_psi: float = 0.1        #: the conventional fixed rule, reported beside (never used to decide)


def psi(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """PSI of histogram pairs (last axis = bins), counts smoothed by ½; works on stacks of histograms."""
    r = (ref + 0.5) / (ref + 0.5).sum(axis=-1, keepdims=True)
    c = (cur + 0.5) / (cur + 0.5).sum(axis=-1, keepdims=True)
    return ((c - r) * np.log(c / r)).sum(axis=-1)


def psi_null_test(ref: np.ndarray, cur: np.ndarray, resamples: int = 999,
                  rng: np.random.Generator | None = None) -> tuple[float, float, float]:
    """(PSI, p-value, 95th percentile of its null) for two histograms over the same bins."""
    rng = rng or np.random.default_rng(0)
    ref = np.asarray(ref, dtype=np.int64)
    cur = np.asarray(cur, dtype=np.int64)
    obs = float(psi(ref.astype(float), cur.astype(float)))
    pooled = (ref + cur) / (ref.sum() + cur.sum())
    null_r = rng.multinomial(int(ref.sum()), pooled, size=resamples).astype(float)
    null_c = rng.multinomial(int(cur.sum()), pooled, size=resamples).astype(float)
    null = psi(null_r, null_c)
    p = (1 + int((null >= obs - 1e-12).sum())) / (resamples + 1)
    return obs, p, float(np.quantile(null, 0.95))


def _side(ref: Window, cur: Window, col: str = "created_at") -> tuple[str, list[Any]]:
    sql = (f"CASE WHEN {col} >= ? AND {col} < ? THEN 1 WHEN {col} >= ? AND {col} < ? THEN 0 END")
    return sql, [*cur.params(), *ref.params()]


def _span(ref: Window, cur: Window, col: str = "created_at") -> tuple[str, list[Any]]:
    lo, hi = min(ref.start, cur.start), max(ref.end, cur.end)
    return f"{col} >= ? AND {col} < ?", [lo, hi]


def _numeric(con: duckdb.DuckDBPyConnection, name: str, value: str, source: str, ref: Window, cur: Window,
             s: DriftSettings, kind: str = "number") -> dict[str, Any]:
    side, sp = _side(ref, cur)
    span, pp = _span(ref, cur)
    base = f"SELECT {value} AS x, {side} AS side FROM {source} WHERE {span}"
    qs = [i / s.bins for i in range(1, s.bins)]
    got = con.execute(f"SELECT quantile_disc(x, {qs}) FROM ({base}) WHERE side = 0 AND x IS NOT NULL",
                      [*sp, *pp]).fetchone()
    edges = sorted({float(e) for e in (got[0] if got and got[0] else [])})
    counts = con.execute(f"""
        SELECT side, len(list_filter(?::DOUBLE[], lambda e: e <= x)) AS bin, count(*) AS n
        FROM ({base}) WHERE side IS NOT NULL AND x IS NOT NULL GROUP BY ALL""", [edges, *sp, *pp]).fetchall()
    return _judge(name, kind, counts, len(edges) + 1, s, detail={"edges": edges})


def _check_scores(con: duckdb.DuckDBPyConnection, ref: Window, cur: Window, s: DriftSettings) -> list[dict[str, Any]]:
    """Every check's score at once: one join of check_results with the two windows' verdicts, bins per check."""
    side, sp = _side(ref, cur)
    span, pp = _span(ref, cur)
    name = f"_drift_checks_{uuid.uuid4().hex[:8]}"
    qs = [i / s.bins for i in range(1, s.bins)]
    con.execute(f"""CREATE TEMP TABLE {name} AS
                    SELECT c.name AS g, c.score AS x, v.side FROM check_results c
                    JOIN (SELECT verdict_id, {side} AS side FROM verdicts WHERE {span}) v ON c.verdict_id = v.verdict_id
                    WHERE v.side IS NOT NULL AND c.score IS NOT NULL""", [*sp, *pp])
    try:
        edges = {g: sorted({float(x) for x in e or []}) for g, e in con.execute(
            f"SELECT g, quantile_disc(x, {qs}) FILTER (WHERE side = 0) FROM {name} GROUP BY g ORDER BY g").fetchall()}
        counts = con.execute(f"""
            SELECT t.g, t.side, len(list_filter(e.edges, lambda q: q <= t.x)) AS bin, count(*) AS n
            FROM {name} t JOIN (SELECT unnest(?::VARCHAR[]) AS g, unnest(?::DOUBLE[][]) AS edges) e ON e.g = t.g
            GROUP BY ALL""", [list(edges), list(edges.values())]).fetchall()
    finally:
        con.execute(f"DROP TABLE {name}")
    per: dict[str, list[tuple[int, int, int]]] = {g: [] for g in edges}
    for g, sd, b, n in counts:
        per[g].append((sd, b, n))
    return [_judge(f"check:{g}", "number", per[g], len(e) + 1, s, detail={"edges": e}) for g, e in edges.items()]


def _judge(name: str, kind: str, counts: list[tuple[int, int, int]], k: int, s: DriftSettings,
           detail: dict[str, Any]) -> dict[str, Any]:
    hist = np.zeros((2, max(k, 1)), dtype=np.int64)
    for side, b, n in counts:
        hist[int(side), int(b)] += int(n)
    n_ref, n_cur = int(hist[0].sum()), int(hist[1].sum())
    out: dict[str, Any] = {"metric": name, "kind": kind, "n_ref": n_ref, "n_cur": n_cur, **detail,
                           "ref_hist": hist[0].tolist(), "cur_hist": hist[1].tolist()}
    if min(n_ref, n_cur) < s.min_rows or k < 2:
        return {**out, "status": "too_small", "p": None,
                "note": f"needs {s.min_rows} values per window (has {n_ref} / {n_cur})"}
    rng = np.random.default_rng([s.seed, zlib.crc32(name.encode())])
    stat, p, thr = psi_null_test(hist[0], hist[1], s.resamples, rng)
    return {**out, "status": "ok", "statistic": stat, "threshold": thr, "p": p, "fixed_rule": stat > s.fixed_psi}


def _categorical(con: duckdb.DuckDBPyConnection, name: str, value: str, params: list[Any], table: str,
                 s: DriftSettings) -> dict[str, Any]:
    """``table`` holds (metadata, side, n): one row per distinct metadata value and window."""
    got = con.execute(f"SELECT side, coalesce({value}, '∅') AS v, sum(n) AS n FROM {table} GROUP BY ALL",
                      params).fetchall()
    totals: dict[str, int] = {}
    per: dict[tuple[int, str], int] = {}
    for sd, v, n in got:
        totals[v] = totals.get(v, 0) + int(n)
        per[(int(sd), v)] = int(n)
    keep = sorted(totals, key=lambda v: -totals[v])[:s.categories]
    index = {v: i for i, v in enumerate(keep)}
    counts = [(sd, index.get(v, len(keep)), n) for (sd, v), n in per.items()]
    appeared = sorted(v for v in totals if per.get((0, v), 0) == 0)
    vanished = sorted(v for v in totals if per.get((1, v), 0) == 0)
    return _judge(name, "category", counts, len(keep) + 1, s,
                  detail={"values": keep, "appeared": appeared[:20], "vanished": vanished[:20]})


def _meta_table(con: duckdb.DuckDBPyConnection, ref: Window, cur: Window) -> str:
    """A temp table of (metadata, side, n): JSON is then parsed once per distinct metadata value, not per row."""
    side, sp = _side(ref, cur)
    span, pp = _span(ref, cur)
    name = f"_drift_meta_{uuid.uuid4().hex[:8]}"
    con.execute(f"""CREATE TEMP TABLE {name} AS
                    SELECT metadata, side, count(*) AS n FROM (
                        SELECT metadata, {side} AS side FROM interactions WHERE {span} AND metadata IS NOT NULL)
                    WHERE side IS NOT NULL GROUP BY ALL""", [*sp, *pp])
    return name


def _metadata_fields(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, int, int]]:
    """(field, JSON path, rows with it in ref, in cur): top-level metadata keys and ``segment.*`` keys."""
    got = con.execute(f"""
        SELECT k, side, sum(n) FROM (SELECT unnest(json_keys(metadata)) AS k, side, n FROM {table}
                                     WHERE json_type(metadata) = 'OBJECT')
        WHERE k <> 'segment' GROUP BY ALL
        UNION ALL
        SELECT 'segment.' || k, side, sum(n) FROM (
            SELECT unnest(json_keys(metadata -> '$.segment')) AS k, side, n FROM {table}
            WHERE json_type(metadata -> '$.segment') = 'OBJECT') GROUP BY ALL""").fetchall()
    seen: dict[str, list[int]] = {}
    for k, sd, n in got:
        seen.setdefault(k, [0, 0])[int(sd)] += int(n)
    out = []
    for field, (nr, nc) in sorted(seen.items()):
        parts = field.split(".", 1) if field.startswith("segment.") else [field]
        path = "$" + "".join('."' + p.replace('"', '\\"') + '"' for p in parts)
        out.append((field, path, nr, nc))
    return out


def _text(con: duckdb.DuckDBPyConnection, name: str, value: str, ref: Window, cur: Window,
          s: DriftSettings) -> dict[str, Any]:
    from scipy.stats import mannwhitneyu
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import SGDClassifier

    def sample(w: Window, salt: int) -> list[str]:
        got = con.execute(f"""
            SELECT {value} AS t FROM (
                SELECT * FROM (SELECT input, output FROM interactions WHERE created_at >= ? AND created_at < ?)
                USING SAMPLE reservoir({int(s.text_sample)} ROWS) REPEATABLE ({int(s.seed) * 31 + salt}))""",
                          w.params()).fetchall()
        return [r[0] for r in got if r[0]]  # sampled first, parsed after: JSON work on the sample only

    a, b = sample(ref, 1), sample(cur, 2)
    out: dict[str, Any] = {"metric": name, "kind": "text", "n_ref": len(a), "n_cur": len(b)}
    if min(len(a), len(b)) < s.min_rows:
        return {**out, "status": "too_small", "p": None,
                "note": f"needs {s.min_rows} texts per window (has {len(a)} / {len(b)})"}
    texts = a + b
    y = np.array([0] * len(a) + [1] * len(b))
    rng = np.random.default_rng(s.seed)
    train = np.zeros(len(texts), dtype=bool)
    for cls in (0, 1):  # stratified half split
        idx = np.flatnonzero(y == cls)
        train[rng.permutation(idx)[: len(idx) // 2]] = True
    vec = HashingVectorizer(ngram_range=(1, 2), n_features=2 ** 16, alternate_sign=False, norm="l2")
    X = vec.transform(texts)
    clf = SGDClassifier(loss="log_loss", alpha=1e-3, max_iter=20, tol=None, random_state=s.seed)
    clf.fit(X[train], y[train])
    test = ~train
    score = clf.decision_function(X[test])
    yt = y[test]
    res = mannwhitneyu(score[yt == 1], score[yt == 0], alternative="greater")
    auc = float(res.statistic) / (int((yt == 1).sum()) * int((yt == 0).sum()))
    coef = clf.coef_[0]
    analyzer = vec.build_analyzer()
    terms: dict[int, str] = {}
    for t in texts[:4000]:
        for g in analyzer(t):
            terms.setdefault(_index(vec, g), g)
    ranked = sorted(terms.items(), key=lambda kv: coef[kv[0]])
    order = np.argsort(-score)
    test_texts = [t for t, m in zip(texts, test, strict=True) if m]
    cur_ex = [test_texts[i] for i in order if yt[i] == 1][:3]
    ref_ex = [test_texts[i] for i in order[::-1] if yt[i] == 0][:3]
    return {**out, "status": "ok", "statistic": auc, "p": float(res.pvalue), "threshold": None,
            "words_current": [w[:40] for i, w in ranked[::-1][:10] if coef[i] > 0],
            "words_reference": [w[:40] for i, w in ranked[:10] if coef[i] < 0],
            "examples_current": [e[:200] for e in cur_ex], "examples_reference": [e[:200] for e in ref_ex]}


def _index(vec: Any, term: str) -> int:
    from sklearn.utils import murmurhash3_32

    return int(abs(murmurhash3_32(term, seed=0)) % vec.n_features)


def drift_report(con: duckdb.DuckDBPyConnection, ref: Window, cur: Window,
                 settings: DriftSettings | None = None, *, text: bool = True) -> dict[str, Any]:
    """Every drift test between ``ref`` and ``cur``, BH-adjusted; ``drifted`` lists the metrics that moved."""
    s = settings or DriftSettings()
    schema: Schema = prepare(con)
    tests: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    tests.append(_numeric(con, "confidence", "confidence", "verdicts", ref, cur, s))
    tests.append(_numeric(con, "latency_ms", "ms", "verdicts", ref, cur, s))
    tests += _check_scores(con, ref, cur, s)
    if schema.has("interactions"):
        tests.append(_numeric(con, "input_length", "length(input::VARCHAR)", "interactions", ref, cur, s))
        tests.append(_numeric(con, "output_length", "length(output)", "interactions", ref, cur, s))
        meta = _meta_table(con, ref, cur)
        fields = _metadata_fields(con, meta)
        changes = [{"field": f, "ref_rows": nr, "cur_rows": nc,
                    "change": "appeared" if nr == 0 else "vanished" if nc == 0 else "present"}
                   for f, _p, nr, nc in fields]
        for field, path, _nr, _nc in fields:
            tests.append(_categorical(con, f"metadata:{field}", "json_extract_string(metadata, ?)", [path], meta, s))
        con.execute(f"DROP TABLE {meta}")
        if text:
            tests.append(_text(con, "text:input", "(CASE WHEN json_type(input) = 'VARCHAR' THEN input ->> '$' "
                                                  "ELSE input::VARCHAR END)", ref, cur, s))
            tests.append(_text(con, "text:output", "output", ref, cur, s))
    judged = [t for t in tests if t.get("p") is not None]
    for t, q in zip(judged, benjamini_hochberg([t["p"] for t in judged]), strict=True):
        t["q"] = q
        t["drift"] = q < s.alpha
    return {"reference": {"start": ref.start, "end": ref.end}, "current": {"start": cur.start, "end": cur.end},
            "alpha": s.alpha, "resamples": s.resamples, "tests": tests,
            "fields": [c for c in changes if c["change"] != "present"],
            "drifted": [t["metric"] for t in judged if t["drift"]],
            "method": "PSI on DuckDB histograms with a multinomial null at the actual sizes; text: held-out "
                      "domain classifier with a Mann-Whitney test on bounded samples; Benjamini-Hochberg FDR"}
