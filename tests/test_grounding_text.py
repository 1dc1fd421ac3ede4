"""Sentence and claim splitting with offsets, and the word-level signals the grounding features compare."""

from __future__ import annotations

from catalyst_checks.grounding.text import analyse, claims, entity_mentions, sentences, stem, windows


def test_sentences_keep_offsets_and_respect_abbreviations() -> None:
    text = ("Dr. Karin Lindqvist founded Nordvent in 1987 in Gothenburg. The U.S. branch opened in 2004, "
            "approx. ten years later!  Is it still open? Yes.\nNew paragraph without a full stop")
    got = sentences(text)
    assert [s.text for s in got] == [
        "Dr. Karin Lindqvist founded Nordvent in 1987 in Gothenburg.",
        "The U.S. branch opened in 2004, approx. ten years later!",
        "Is it still open?",
        "Yes.",
        "New paragraph without a full stop",
    ]
    for s in got:
        assert text[s.start:s.end] == s.text


def test_long_sentences_are_cut_into_clauses_with_offsets() -> None:
    text = ("The compressor is covered for five years by the manufacturer's standard warranty, and the "
            "remaining parts of the heat pump are covered for two years from the installation date; "
            "registration online within thirty days extends the compressor cover to seven years in total.")
    parts = claims(text)
    assert len(parts) >= 2
    for c in parts:
        assert text[c.start:c.end] == c.text
    assert any("two years" in c.text for c in parts) and any("seven years" in c.text for c in parts)


def test_numbers_names_negation_and_stems() -> None:
    u = analyse("Nordvent did not open its 2nd factory in Poznań until 2023, after 1,200 hires and three delays.")
    assert {"2", "2023", "1200", "3"} <= u.numbers
    assert stem("Poznań") in u.names and stem("Nordvent") not in u.names  # sentence-initial is not a name
    assert u.negated
    assert stem("published") == stem("publishing") == stem("publishes")
    assert "factory"[:7] in {w[:7] for w in u.content}


def test_named_things_are_runs_of_capitalised_words() -> None:
    text = ("Great! I know that RDJ starred in Zodiac with Tom Hanks. Snow Crash is similar, and so is "
            "Welcome to the Future by J.K. Rowling; Mr. Nobody is another one.")
    got = entity_mentions(text)
    as_stems = {tuple(stem(w) for w in ws.split()) for ws in (
        "RDJ", "Zodiac", "Tom Hanks", "Snow Crash", "Welcome Future", "J K Rowling", "Mr Nobody")}
    assert set(got) == as_stems  # "Great" (a lone sentence-initial word) and "I" are not named things
    u = analyse("Sure, Mr. Nobody is a similar movie.")
    assert stem("Nobody") in u.names  # an abbreviation does not end the sentence


def test_any_script_and_emoji_without_crashing() -> None:
    texts = ("東京は日本の首都です。人口は約1400万人です。", "Das ist gut 👍🏽. Wirklich?", "🙂🙂🙂", "", "   \n\n  ")
    for text in texts:
        for s in claims(text):
            assert text[s.start:s.end] == s.text
        analyse(text)
        entity_mentions(text)


def test_windows_cover_an_overlong_sentence() -> None:
    text = "word " * 400
    (span,) = sentences(text) or [None]
    assert span is not None
    parts = windows(span, max_chars=600, overlap=100)
    assert len(parts) >= 3 and parts[0].start == span.start and parts[-1].end == span.end
    for p in parts:
        assert text[p.start:p.end] == p.text and len(p.text) <= 600
