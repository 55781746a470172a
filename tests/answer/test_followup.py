import pytest

from answer.followup import (clean_rewrite, is_followup, joined_question, mentioned_speeches, name_speech,
                             parse_history, recent_history, referenced_speech)

HISTORY = [
    {"role": "user", "content": "第一篇讲话提出的经济增长目标是什么？"},
    {"role": "assistant", "content": "目标是5%左右[1]。", "citations": [{"speech_id": "a"}]},
]


def test_history_is_validated_with_clear_errors():
    with pytest.raises(ValueError, match="role 'system'"):
        parse_history([{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="item 0 has no text"):
        parse_history([{"role": "user"}])
    with pytest.raises(ValueError, match="must be an object"):
        parse_history(["hello"])


def test_ordinals_pick_from_the_candidates():
    assert referenced_speech("那第二篇讲话呢？", ["a", "b"], ["a"]) == "b"
    assert referenced_speech("第1篇呢", ["a", "b"], []) == "a"
    assert referenced_speech("What about the second speech?", ["a", "b"], []) == "b"
    assert referenced_speech("第三篇讲话呢？", ["a", "b"], []) is None
    assert referenced_speech("这篇讲话还说了什么？", ["a", "b"], ["a", "b"]) == "b"
    assert referenced_speech("经济目标是什么？", ["a", "b"], ["a"]) is None


def test_mentioned_speeches_in_order_of_first_appearance():
    turns = parse_history(HISTORY + [{"role": "user", "content": "《乙讲话》和《甲讲话》有什么不同？"}])
    assert mentioned_speeches(turns, {"a": "甲讲话", "b": "乙讲话"}) == ["a", "b"]


def test_followups_are_recognised_only_with_a_conversation():
    turns = parse_history(HISTORY)
    assert is_followup("那第二篇讲话呢？", turns)
    assert is_followup("还有呢", turns)
    assert not is_followup("那第二篇讲话呢？", [])
    assert not is_followup("两篇讲话对干部作风的要求有什么不同？", turns)


def test_joined_question_supplies_the_left_out_topic():
    assert joined_question("那第二篇讲话呢？", parse_history(HISTORY)) == "提出的经济增长目标是什么？"
    assert joined_question("那干部作风呢？", parse_history(HISTORY)) == "提出的经济增长目标是什么？ 干部作风"


def test_history_over_its_limits_is_refused_and_the_recent_part_that_fits_is_accepted():
    long = [{"role": "user" if i % 2 == 0 else "assistant", "content": "讲" * 100} for i in range(30)]
    with pytest.raises(ValueError, match="30 messages; at most 20 .*SPEECHES_MAX_HISTORY_TURNS"):
        parse_history(long, max_turns=20, max_chars=10_000)
    with pytest.raises(ValueError, match="over 1000 characters .*SPEECHES_MAX_HISTORY_CHARS"):
        parse_history(long[:20], max_turns=20, max_chars=1000)
    recent = recent_history(long, max_turns=20, max_chars=1000)
    assert recent == long[-10:]
    assert len(parse_history(recent, max_turns=20, max_chars=1000)) == 10
    assert recent_history(long, max_turns=8, max_chars=10_000) == long[-8:]


def test_joined_question_keeps_the_question_words_first_within_the_limit():
    turns = parse_history([{"role": "user", "content": "长" * 1000}, {"role": "assistant", "content": "答"}])
    joined = joined_question("那干部作风呢？", turns, limit=50)
    assert joined == "长" * 45 + " 干部作风"
    assert joined_question("那" + "问" * 80 + "呢？", turns, limit=50) == "问" * 50


def test_rewrite_output_is_cleaned_or_refused():
    assert clean_rewrite("改写后的问题：第二篇讲话提出的经济增长目标是什么？\n解释……", "那第二篇呢") == \
        "第二篇讲话提出的经济增长目标是什么？"
    assert clean_rewrite("   ", "那第二篇呢") is None
    assert clean_rewrite("很" * 500, "那第二篇呢") is None


def test_the_referenced_speech_is_named_by_its_title():
    assert name_speech("第2篇讲话提出的经济增速目标是多少？", "甲讲话") == "《甲讲话》提出的经济增速目标是多少？"
    assert name_speech("这篇讲话说了什么？", "甲讲话") == "《甲讲话》说了什么？"
