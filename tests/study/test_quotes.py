"""The quote check (study/quotes.py) over a real library on disk (the seeds, the samples and a notice that repeats
one of their sentences; fake embeddings: the check reads the keyword index and the stored texts only)."""

from __future__ import annotations

import pytest

from study.align import Key
from study.quotes import MIN_QUOTE, check_quotes, draft_units

CITY, COUNTY, NOTICE_ID = "2025-city-work-meeting", "2024-county-congress-closing", "notice"


@pytest.fixture(scope="module")
def retriever(study_library):
    return study_library[2]


def units(text: str) -> list[str]:
    draft = Key.of(text)
    return [text[u.start:u.end] for u in draft_units(draft)]


def test_a_draft_with_quotations_is_checked_quotation_by_quotation():
    text = ("会议强调，要抓好“三个一批”。书记指出：“今年全市经济增长的预期目标是5%左右。我们提出新的布局。”"
            "此外，「要持续优化营商环境」。")
    assert units(text) == ["今年全市经济增长的预期目标是5%左右。我们提出新的布局", "要持续优化营商环境"]
    assert len(Key.of("三个一批").chars) < MIN_QUOTE  # a name in quotation marks is no quotation


def test_a_text_without_quotations_is_checked_sentence_by_sentence_without_its_lead_in():
    text = "习近平总书记指出，要持续优化营商环境。\n同志们：\n今年全县地区生产总值增长6%左右！"
    assert units(text) == ["要持续优化营商环境", "今年全县地区生产总值增长6%左右"]


def test_nested_and_unclosed_quotation_marks():
    quoted = units("他说：“要‘马上就办、办就办好’，以实干实绩取信于民。”")
    assert quoted == ["要‘马上就办、办就办好’，以实干实绩取信于民"]
    # an unclosed mark makes no quotation: the sentence is checked, its lead-in left out
    assert units("他说：“要马上就办、办就办好，以实干实绩取信于民。") == ["要马上就办、办就办好，以实干实绩取信于民"]


def test_a_long_quotation_is_checked_sentence_by_sentence():
    sentence = "要坚持稳中求进工作总基调，" * 30 + "把扩大内需作为战略基点。"
    assert len(units(f"“{sentence}{sentence}”")) >= 4


def test_a_verbatim_quote_is_exact_with_offsets_into_the_stored_text(retriever):
    check = check_quotes(retriever, "会议指出：“今年全县经济社会发展的主要预期目标是：地区生产总值增长6%左右”。")
    [quote] = check.sentences
    assert quote.status == "exact" and quote.speech_id == COUNTY and quote.quoted
    assert retriever.store.speech_text(COUNTY)[quote.start:quote.end] == quote.source_text
    assert quote.source_text == "今年全县经济社会发展的主要预期目标是：地区生产总值增长6%左右"
    assert [op.op for op in quote.diff] == ["same"] and check.all_exact


def test_punctuation_spacing_and_full_width_forms_do_not_make_a_quote_altered(retriever):
    [quote] = check_quotes(retriever, "“今年全县经济社会发展的主要预期目标是 地区生产总值增长６％左右”").sentences
    assert quote.status == "exact"


def test_a_changed_number_is_altered_and_marked_as_changing_the_meaning(retriever):
    check = check_quotes(retriever, "“今年全县经济社会发展的主要预期目标是：地区生产总值增长7%左右”")
    [quote] = check.sentences
    assert quote.status == "altered" and quote.speech_id == COUNTY and not check.all_exact
    [change] = [op for op in quote.diff if op.op != "same"]
    assert (change.op, change.source, change.text, change.why) == ("changed", "6", "7", ("number",))
    assert retriever.store.speech_text(COUNTY)[quote.start:quote.end] == quote.source_text
    assert 0.9 < quote.similarity < 1


def test_dropped_added_and_negated_words_are_shown(retriever):
    [quote] = check_quotes(retriever, "“各级干部要力戒形式主义，多到基层一线解决问题，不少开会”").sentences
    assert quote.status == "altered" and quote.speech_id == COUNTY
    changes = [(op.op, op.source, op.text, op.significant) for op in quote.diff if op.op != "same"]
    assert any(op == "dropped" and "官僚" in source and not strong for op, source, _, strong in changes)
    assert any(op == "added" and text == "不" and strong for op, _, text, strong in changes)


def test_an_ellipsis_leaves_words_out_without_altering_the_quote(retriever):
    [quote] = check_quotes(retriever, "“要坚持稳中求进工作总基调……把扩大内需作为战略基点”").sentences
    assert quote.status == "exact" and quote.speech_id == CITY
    assert [op.op for op in quote.diff] == ["same", "elided", "same"]
    assert "坚持以人民为中心的发展思想" in quote.diff[1].source
    assert retriever.store.speech_text(CITY)[quote.start:quote.end] == quote.source_text


def test_a_quote_found_in_two_speeches_names_the_other(retriever):
    [quote] = check_quotes(retriever, "“今年全市经济增长的预期目标是5%左右”").sentences
    assert quote.status == "exact" and {quote.speech_id, *quote.also_in} == {CITY, NOTICE_ID}


def test_words_of_the_writer_are_not_found_and_come_with_the_nearest_passages(retriever):
    [quote] = check_quotes(retriever, "“这是起草人自己写的一句话，和任何经济工作讲话都没有关系”").sentences
    assert quote.status == "not_found" and quote.speech_id is None and quote.start is None
    assert 1 <= len(quote.nearest) <= 3
    for passage in quote.nearest:
        assert retriever.store.speech_text(passage["speech_id"])[passage["start"]:passage["end"]] == passage["text"]


def test_a_draft_mixes_all_three_and_the_json_keeps_the_order(retriever):
    draft = ("书记强调：“今年全市经济增长的预期目标是5%左右。”他还要求“研发经费投入强度提高到3%”，"
             "并说“这一句话在讲话里根本找不到，是起草人加的”。")
    result = check_quotes(retriever, draft).as_json()
    assert [s["status"] for s in result["sentences"]] == ["exact", "altered", "not_found"]
    assert result["counts"] == {"exact": 1, "altered": 1, "not_found": 1}
    for sentence in result["sentences"]:
        start, end = sentence["at"]
        assert draft[start:end] == sentence["text"]


@pytest.mark.parametrize(("text", "words"), [
    ("   \u3000\u200b", "empty"),
    ("“同志们”", "no sentence"),
    ("字" * 10_001, "too long (10001 characters; at most 10000, SPEECHES_MAX_VERIFY_CHARS)"),
    (None, "must be text"),
])
def test_bad_input_is_refused_naming_what_was_wrong(retriever, text, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_quotes(retriever, text)
