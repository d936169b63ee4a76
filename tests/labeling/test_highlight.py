"""Highlighting the model's terms in the merchant's own text: a pure function."""

from __future__ import annotations

from labeling.pages.highlight import Segment, highlight, terms_in


def test_segments_join_back_to_the_text():
    text = "Buy Peptides now!\nNo prescription, no questions."
    segments = highlight(text, ["peptides", "no prescription", "questions"])
    assert "".join(s.text for s in segments) == text


def test_terms_match_whole_tokens_case_insensitively_and_across_punctuation():
    segments = highlight("Vape-pens and VAPES; no, prescription", ["vape pens", "no prescription"])
    marked = [(s.text, s.rank) for s in segments if s.term]
    assert marked == [("Vape-pens", 1), ("no, prescription", 2)]
    assert not [s for s in highlight("vapes", ["vape"]) if s.term]  # not inside a word


def test_a_higher_ranked_term_keeps_its_span():
    segments = highlight("cheap peptides", ["peptides", "cheap peptides"])
    assert [s for s in segments if s.term] == [Segment("peptides", "peptides", 1)]


def test_terms_in_finds_a_phrase_whose_words_are_marked_by_others():
    assert terms_in("cheap peptides", ["peptides", "cheap peptides", "absent"]) == {
        "peptides",
        "cheap peptides",
    }


def test_markup_stays_text_in_the_segments():
    segments = highlight("<b>peptides</b>", ["peptides", "<b>"])
    assert [s.text for s in segments] == ["<b>", "peptides", "</b>"]
