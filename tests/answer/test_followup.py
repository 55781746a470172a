import pytest

from answer.followup import (has_cue, is_followup, joined_question, mentioned_speeches, name_speech,
                             parse_history, recent_history, referenced_speech, restated, topic)

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


@pytest.mark.parametrize("question", ["那第二篇讲话呢？", "还有呢", "这篇讲话还说了什么？", "该讲话怎么说的？",
                                      "第3篇呢", "它提出了哪些措施？", "上述措施何时实施？", "其中最重要的是哪一项？",
                                      "那么营商环境方面",
                                      "What about the second speech?"])
def test_a_followup_needs_a_reference_cue(question):
    assert has_cue(question) and is_followup(question, parse_history(HISTORY))


@pytest.mark.parametrize("question", ["如何改进干部作风？", "今年的经济增速目标是什么？", "营商环境",
                                      "红旗渠精神是什么？",
                                      "2022年政府工作报告提出的目标是多少？", "人大代表要做到哪些？"])
def test_a_short_self_contained_question_is_not_a_followup(question):
    assert not has_cue(question) and not is_followup(question, parse_history(HISTORY))


def test_a_reference_only_followup_is_restated_with_the_topic():
    turns = parse_history([{"role": "user", "content": "如何改进干部作风？"}, {"role": "assistant", "content": "……"}])
    assert restated("那第二篇讲话呢？", turns, "乙讲话") == "《乙讲话》中，如何改进干部作风？"
    assert restated("那第二篇讲话呢？", turns) == "第二篇讲话中，如何改进干部作风？"  # unresolved: its own words
    assert restated("还有呢？", turns) == "如何改进干部作风？"
    assert restated("那第二篇讲话对营商环境怎么说？", turns, "乙讲话") is None  # words of its own: a rewrite
    assert restated("那第二篇讲话呢？", [], "乙讲话") is None  # nothing to follow


def test_the_topic_is_the_last_question_that_was_not_only_a_reference():
    turns = parse_history(HISTORY + [{"role": "user", "content": "那第二篇讲话呢？"},
                                     {"role": "assistant", "content": "……"}])
    assert topic(turns) == "第一篇讲话提出的经济增长目标是什么？"
    assert restated("这篇讲话呢", turns, "丙") == "《丙》提出的经济增长目标是什么？"
    turns += parse_history([{"role": "user", "content": "如何改进干部作风？"}])
    assert topic(turns) == "如何改进干部作风？"


def test_joined_question_supplies_the_left_out_topic():
    assert joined_question("那第二篇讲话呢？", parse_history(HISTORY)) == "提出的经济增长目标是什么？"
    assert joined_question("那干部作风呢？", parse_history(HISTORY)) == "提出的经济增长目标是什么？ 干部作风"


def test_a_new_year_takes_the_place_of_the_one_asked_before():
    turns = parse_history([{"role": "user", "content": "2021年政府工作报告提出的增长目标是多少？"},
                           {"role": "assistant", "content": "6%以上[1]。"}])
    assert joined_question("那2022年的呢？", turns) == "2022年政府工作报告提出的增长目标是多少？"


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


def test_the_referenced_speech_is_named_by_its_title():
    assert name_speech("第2篇讲话提出的经济增速目标是多少？", "甲讲话") == "《甲讲话》提出的经济增速目标是多少？"
    assert name_speech("这篇讲话说了什么？", "甲讲话") == "《甲讲话》说了什么？"
