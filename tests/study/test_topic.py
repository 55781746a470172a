"""A topic across the library (study/topic.py, ``KeywordIndex.covering``) over a real library on disk."""

from __future__ import annotations

import pytest

from study import topic as topic_module
from study.topic import follow_topic

CITY, COUNTY, ECOLOGY, NOTICE_ID = ("2025-city-work-meeting", "2024-county-congress-closing", "2023-ecology-forum",
                                    "notice")
FIRST, SECOND = "000_ed498335adf7a40a", "002_d5a8c33760b2f744"


@pytest.fixture(scope="module")
def retriever(study_library):
    return study_library[2]


def rows(view) -> dict:
    return {s.speech_id: s for s in view.speeches}


def test_every_speech_on_the_topic_in_date_order_with_a_strength_that_tells_them_apart(retriever):
    view = follow_topic(retriever, "作风")
    found = rows(view)
    assert set(found) == {COUNTY, FIRST} and view.addressing == 2
    assert [s.speech_id for s in view.speeches] == [COUNTY, FIRST]  # dated first, the undated seed last
    assert (found[COUNTY].on_topic, found[COUNTY].passages) == (1, 6)
    assert found[FIRST].on_topic >= 3 and found[FIRST].strength > found[COUNTY].strength
    assert ECOLOGY not in found  # nothing on 作风 there: no score at all


def test_two_words_apart_are_not_the_topic(retriever):
    found = rows(follow_topic(retriever, "生态环境"))
    assert ECOLOGY in found and found[ECOLOGY].strength >= 0.6
    assert NOTICE_ID not in found  # it says 生态保护 and 人居环境, never 生态环境


def test_a_title_naming_the_topic_does_not_put_every_passage_on_it(retriever):
    speech = rows(follow_topic(retriever, "经济工作会议"))[CITY]
    assert speech.on_topic < speech.passages


def test_quotes_are_the_sentences_that_say_it_with_exact_offsets(retriever):
    view = follow_topic(retriever, "作风")
    for speech in view.speeches:
        text = retriever.store.speech_text(speech.speech_id)
        assert 1 <= len(speech.quotes) <= topic_module.QUOTES_PER_SPEECH
        assert [q.label for q in speech.quotes] == [str(n) for n in range(1, len(speech.quotes) + 1)]
        for quote in speech.quotes:
            assert text[quote.start:quote.end] == quote.text and "作风" in quote.text
            assert len(quote.text) <= topic_module.LONG_QUOTE
        spans = sorted((q.start, q.end) for q in speech.quotes)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never the same words twice


def test_by_year_counts_every_speech_of_the_year(retriever):
    years = {y.year: y for y in follow_topic(retriever, "经济增长").years}
    assert (years[2023].speeches, years[2023].addressing) == (2, 1)  # the 2023 seed, not the ecology forum
    assert (years[None].speeches, years[None].addressing) == (1, 0)  # the undated seed
    assert sum(y.speeches for y in years.values()) == len(retriever.store.list_speeches())
    y = years[2024]
    assert y.strength == pytest.approx(y.on_topic / y.passages)


def test_the_strongest_are_listed_when_many_speeches_address_it(retriever, monkeypatch):
    monkeypatch.setattr(topic_module, "MAX_SPEECHES", 1)
    view = follow_topic(retriever, "作风")
    assert view.addressing == 2 and [s.speech_id for s in view.speeches] == [FIRST]
    assert view.as_json()["listed"] == 1


def test_a_topic_no_speech_addresses(retriever):
    view = follow_topic(retriever, "足球射门技术")
    assert view.speeches == [] and view.addressing == 0 and view.years


@pytest.mark.parametrize(("topic", "words"), [(" \u200b ", "empty"), ("主" * 101, "too long")])
def test_bad_topics_are_refused(retriever, topic, words):
    with pytest.raises(ValueError, match=words):
        follow_topic(retriever, topic)
