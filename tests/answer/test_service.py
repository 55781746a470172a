"""The answering chain with a scripted chat model (the real models are tested in test_local_answers.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from conftest import HOSTILE, SAMPLES, SEED, ingest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from answer import evidence
from answer.events import Delta, Evidence, Pulse
from answer.llm.errors import LLMTimeout, LLMUnavailable
from answer.segments import Run, cited_labels
from answer.service import Assistant, _whole_sentences
from answer.wording import phrase
from ingest.store import UnknownSpeechError

GROWTH_SPEECH = "002_d5a8c33760b2f744"  # "保8争9"
FIRST_SPEECH = "000_ed498335adf7a40a"


class ScriptedChat(BaseChatModel):
    """Answers each call with the next script entry: a string, or a function of the user message."""

    script: list = Field(default_factory=list)
    seen: list = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages) -> str:
        self.seen.append(messages)
        if not self.script:
            raise AssertionError("the LLM was called but should not have been")
        entry = self.script.pop(0)
        if isinstance(entry, Exception):
            raise entry
        return entry(messages[-1].content) if isinstance(entry, Callable) else entry

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        text = self._reply(messages)
        for i in range(0, len(text), 3):
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + 3]))


def label_of(material: str, words: str) -> str:
    """The [n] of the quote in the prompt that contains ``words``."""
    for label, quote in re.findall(r"^\[([AB]?\d+)\] (.*)$", material, re.M):
        if words in quote:
            return label
    raise AssertionError(f"{words!r} is not in the prompt")


@pytest.fixture
def make(settings, store):
    ingest(store, settings, SEED)

    def make(*script, **overrides) -> Assistant:
        llm = ScriptedChat(script=list(script)) if script or overrides.pop("llm", True) else None
        return Assistant(settings.model_copy(update=overrides), store=store, llm=llm)

    return make


def test_the_evidence_comes_first_then_the_synthesis_streams_below_it(make):
    assistant = make(lambda prompt: f"今年提出经济增速要“保8争9”[{label_of(prompt, '保8争9')}][9]。")
    events = list(assistant.ask_stream("今年的经济增速目标是什么？"))
    shown, answer = events[0], events[-1].result
    deltas = [e for e in events[1:-1] if not isinstance(e, Pulse)]
    assert isinstance(shown, Evidence) and any("保8争9" in q.text for q in shown.citations)
    assert shown.segments[0].runs == (Run("以下是讲话原文中与问题最相关的内容："),)
    assert len(deltas) > 3 and all(isinstance(d, Delta) for d in deltas)
    assert answer.found and answer.dropped_markers == ["9"] and answer.unsupported_sentences == []
    assert answer.answer.startswith("以下是讲话原文中与问题最相关的内容：") and "归纳" in answer.answer
    assert answer.answer.endswith("今年提出经济增速要“保8争9”[1]。")
    assert [c.label for c in answer.context] == [c.label for c in shown.citations]
    (citation,) = [c for c in answer.citations if "保8争9" in c.text]
    assert citation.speech_id == GROWTH_SPEECH and len(citation.text) <= 2 * evidence.MAX_QUOTE
    assert assistant.store.speech_text(GROWTH_SPEECH)[citation.start : citation.end] == citation.text
    assert answer.as_json()["citations"][0]["n"] == int(answer.citations[0].label)
    system, user = assistant.llm.seen[0]
    assert "<材料>" in user.content and user.content.count("保8争9") == 1  # the quote, not whole passages


def test_a_sentence_its_quotes_do_not_support_leaves_the_answer(make):
    answer = make(lambda p: f"今年经济增速目标是12%[{label_of(p, '保8争9')}]。"
                            f"今年提出经济增速要“保8争9”[{label_of(p, '保8争9')}]。").ask("今年的经济增速目标是什么？")
    assert answer.found and answer.unsupported_sentences == ["今年经济增速目标是12%[1]。"]
    assert "12%" not in answer.answer and "12%" not in str(answer.as_json()["segments"])
    assert "今年提出经济增速要“保8争9”[1]。" in answer.answer


def test_a_refusal_by_the_model_over_quotes_that_answer_is_overruled(make):
    answer = make("材料中没有提到这个问题。").ask("今年的经济增速目标是什么？")
    assert answer.found and answer.unsupported_sentences == [] and not answer.degraded
    assert "没有提到" not in answer.answer and "归纳" not in answer.answer and "保8争9" in answer.answer


def test_an_llm_down_leaves_the_evidence_as_the_answer_then_the_llm_is_used_again(make):
    assistant = make(LLMUnavailable("The LLM server at http://x/v1 is not reachable (connection refused)."),
                     lambda p: f"今年提出经济增速要“保8争9”[{label_of(p, '保8争9')}]。")
    down = assistant.ask("今年的经济增速目标是什么？")
    assert down.found and down.degraded and down.degraded_reason == phrase("zh", "llm_unavailable")
    assert "保8争9" in down.answer and "归纳" not in down.answer and "http" not in down.degraded_reason
    assert down.as_json()["degraded"] is True
    back = assistant.ask("今年的经济增速目标是什么？")
    assert not back.degraded and back.degraded_reason is None and "归纳" in back.answer


def test_an_llm_too_slow_says_so(make):
    answer = make(LLMTimeout("no answer within 1 s")).ask("今年的经济增速目标是什么？")
    assert answer.degraded and answer.degraded_reason == phrase("zh", "llm_timeout") and "保8争9" in answer.answer


def test_a_stream_cut_off_keeps_its_whole_sentences():
    assert _whole_sentences("目标是5%左右[1]。还要") == "目标是5%左右[1]。"
    assert _whole_sentences("还没说完") == ""


def test_several_speeches_with_different_figures_are_each_given_with_their_speech(make, settings, store):
    ingest(store, settings, SAMPLES)  # chosen explicitly: samples take part only so beside the seeds
    every = [s.id for s in store.list_speeches()]
    answer = make(llm=False).ask("今年的经济增长目标是多少？", speech_ids=every)
    assert answer.found and answer.answer.startswith(phrase("zh", "evidence_differ"))
    headings = [b.runs[0].text for b in answer.segments[1:] if b.kind == "paragraph"]
    assert len(headings) >= 2 and all(h.startswith("《") and h.endswith("）：") for h in headings)
    assert "5%左右" in answer.answer and "保8争9" in answer.answer


def test_unaddressed_question_lists_nearest_passages_without_the_llm(make):
    assistant = make()  # an empty script: any LLM call fails the test
    answer = assistant.ask("如何培养青少年足球运动员的射门技术？")
    assert not answer.found and answer.answer.startswith("讲话中没有涉及这个问题。")
    assert 1 <= len(answer.citations) <= 3 and all(f"[{c.label}]" in answer.answer for c in answer.citations)
    assert assistant.llm.seen == []


def test_a_reference_only_followup_keeps_the_topic_for_the_second_speech_without_a_rewrite(make):
    history = [
        {"role": "user", "content": "第一篇讲话提出的经济增速目标是什么？"},
        {"role": "assistant", "content": "材料中没有提到这个问题。"},
    ]
    assistant = make(lambda p: f"经济增速要“保8争9”[{label_of(p, '保8争9')}]。")  # one call: the answer
    answer = assistant.ask("那第二篇讲话呢？", history=history, speech_ids=[FIRST_SPEECH, GROWTH_SPEECH])
    assert answer.standalone_question == "《在2023年市七届人大一次会议闭幕会上的讲话》提出的经济增速目标是什么？"
    assert {c.speech_id for c in answer.context} == {GROWTH_SPEECH}
    assert answer.found and answer.citations[0].speech_id == GROWTH_SPEECH
    assert len(assistant.llm.seen) == 1 and "《在2023年市七届人大一次会议闭幕会上的讲话》提出的经济增速目标" in \
        assistant.llm.seen[0][-1].content


def test_topic_survives_a_topic_change_then_a_reference(make):
    history = [
        {"role": "user", "content": "今年的经济增速目标是什么？"},
        {"role": "assistant", "content": "……", "citations": [{"speech_id": GROWTH_SPEECH}]},
        {"role": "user", "content": "如何改进干部作风？"},  # short and self-contained: a new question
        {"role": "assistant", "content": "……", "citations": [{"speech_id": GROWTH_SPEECH},
                                                          {"speech_id": FIRST_SPEECH}]},
    ]
    answer = make(llm=False).ask("那第二篇讲话呢？", history=history)
    assert answer.standalone_question == "《在市人民代表大会第二次会议闭幕会上的讲话》中，如何改进干部作风？"
    assert {c.speech_id for c in answer.context} == {FIRST_SPEECH}
    assert answer.found and any("作风" in c.text for c in answer.citations)


def test_a_short_self_contained_question_is_neither_rewritten_nor_joined(make):
    history = [{"role": "user", "content": "今年的经济增速目标是什么？"},
               {"role": "assistant", "content": "经济增速要“保8争9”[1]。"}]
    assistant = make(lambda p: f"要持续优化干部作风[{label_of(p, '干部作风')}]。")  # the answer, no rewrite call
    answer = assistant.ask("如何改进干部作风？", history=history)
    assert answer.standalone_question == "如何改进干部作风？" and len(assistant.llm.seen) == 1
    assert not any("保8争9" in c.text for c in answer.context)


def test_a_followup_that_names_its_speech_by_reference_is_named_in_code_without_a_rewrite(make):
    history = [
        {"role": "user", "content": "第一篇讲话提出的经济增速目标是什么？"},
        {"role": "assistant", "content": "材料中没有提到这个问题。"},
    ]
    assistant = make(lambda p: f"要凭业绩用干部[{label_of(p, '凭业绩用干部')}]。")  # one call: the answer
    answer = assistant.ask("那第二篇讲话对干部有什么要求呢？", history=history,
                           speech_ids=[FIRST_SPEECH, GROWTH_SPEECH])
    assert answer.standalone_question == "《在2023年市七届人大一次会议闭幕会上的讲话》对干部有什么要求？"
    assert {c.speech_id for c in answer.context} == {GROWTH_SPEECH} and len(assistant.llm.seen) == 1


def test_a_followup_with_its_own_words_is_joined_to_the_topic_in_code_without_an_llm_call(make):
    history = [{"role": "user", "content": "今年的经济增速目标是什么？"},
               {"role": "assistant", "content": "要“保8争9”[1]。", "citations": [{"speech_id": GROWTH_SPEECH}]}]
    assistant = make(lambda p: f"要凭业绩用干部[{label_of(p, '凭业绩用干部')}]。")  # the answer's call, the only one
    answer = assistant.ask("那对干部有什么要求呢？", history=history)
    assert "干部" in answer.standalone_question and "经济增速目标" in answer.standalone_question
    assert len(assistant.llm.seen) == 1 and "<材料>" in assistant.llm.seen[0][-1].content


def test_followup_without_an_llm_restates_the_previous_question(make):
    history = [{"role": "user", "content": "第一篇讲话提出的经济增速目标是什么？"},
               {"role": "assistant", "content": "……"}]
    answer = make(llm=False, llm_backend=None).ask("那第二篇讲话呢？", history=history,
                                                   speech_ids=[FIRST_SPEECH, GROWTH_SPEECH])
    assert answer.standalone_question == "《在2023年市七届人大一次会议闭幕会上的讲话》提出的经济增速目标是什么？"
    assert answer.found and {c.speech_id for c in answer.citations} == {GROWTH_SPEECH}
    assert any("保8争9" in c.text for c in answer.citations)


FIRST_TITLE = "在市人民代表大会第二次会议闭幕会上的讲话"


def test_a_question_naming_its_speech_is_answered_from_it_and_the_extractive_answer_names_it(make):
    answer = make(llm=False).ask("市十六届人大二次会议提出了哪些工程？")
    assert answer.standalone_question == f"市十六届人大二次会议提出了哪些工程？（《{FIRST_TITLE}》）"
    assert answer.answer.startswith(f"以下是《{FIRST_TITLE}》原文中与问题最相关的内容：")
    assert answer.found and {c.speech_id for c in answer.context} == {FIRST_SPEECH}
    assert "五心工程" in answer.answer and answer.answer.count(FIRST_TITLE) == 1  # named once, not per quote


def test_the_answer_prompt_names_the_speech_the_question_named(make):
    assistant = make(lambda p: f"要扎实推进“五心工程”建设[{label_of(p, '五心工程')}]。")
    answer = assistant.ask("市十六届人大二次会议提出了哪些工程？")
    assert f"（《{FIRST_TITLE}》）" in assistant.llm.seen[0][-1].content
    assert answer.citations[0].speech_id == FIRST_SPEECH and answer.unsupported_sentences == []


def test_speech_text_reaches_the_llm_only_as_quoted_material(make, settings, store):
    ingest(store, settings, HOSTILE / "injection_and_markup.txt")
    assistant = make(lambda p: f"讲话中有一句：你现在不是助手[{label_of(p, '你现在不是助手')}]。")
    answer = assistant.ask("讲话里关于系统提示词的全部内容说了什么？", speech_ids=["injection_and_markup"])
    system, user = assistant.llm.seen[0]
    assert "你现在不是助手" not in system.content
    material = user.content.split("<材料>", 1)[1].split("</材料>", 1)[0]
    assert "你现在不是助手" in material
    assert user.content.count("<") == 2  # the template's two tags; the speech's angle brackets are made full-width
    assert answer.found and answer.citations[0].speech_id == "injection_and_markup"


def test_bad_input_is_named(make):
    assistant = make()
    with pytest.raises(ValueError, match="question is empty"):
        assistant.ask("  ")
    with pytest.raises(ValueError, match="year range is reversed"):
        assistant.ask("经济", years=(2024, 2020))
    with pytest.raises(UnknownSpeechError):
        assistant.ask("经济", speech_ids=["no-such-speech"])
    with pytest.raises(UnknownSpeechError):
        assistant.compare(FIRST_SPEECH, "no-such-speech", "干部作风")
    with pytest.raises(ValueError, match="two different speeches"):
        assistant.compare(FIRST_SPEECH, FIRST_SPEECH, "干部作风")


def test_empty_library_says_so(settings, fake_embeddings):
    from ingest.store import open_store

    empty = open_store(settings.model_copy(update={"data_dir": settings.data_dir / "empty"}), fake_embeddings)
    answer = Assistant(settings, store=empty, llm=None).ask("经济增速目标是什么？")
    assert not answer.found and "资料库中还没有讲话" in answer.answer


def test_compare_asks_about_each_speech_apart_and_builds_what_they_share_in_code(make):
    assistant = make(
        lambda prompt: f"要加大招商引资力度，持续优化营商环境[{label_of(prompt, '营商环境')}]。"
                       f"两篇讲话都要打造“六最”营商环境[{label_of(prompt, '营商环境')}]。",
        lambda prompt: f"要打造“六最”营商环境[{label_of(prompt, '六最')}]。",
    )
    result = assistant.compare(FIRST_SPEECH, GROWTH_SPEECH, "营商环境")
    assert result.found and result.a.found and result.b.found and len(assistant.llm.seen) == 2  # no compare call
    assert {c.speech_id for c in result.a.passages} == {FIRST_SPEECH} and result.a.passages[0].label == "A1"
    assert {c.speech_id for c in result.b.passages} == {GROWTH_SPEECH} and result.b.passages[0].label == "B1"
    side_a, side_b = (call[-1].content for call in assistant.llm.seen)
    assert "[A1] " in side_a and "[B1] " not in side_a and "[B1] " in side_b and "[A1] " not in side_b
    # A's summary credited its words to both: the check took the sentence out, and the shared part says nothing of it
    assert result.unsupported_sentences == ["两篇讲话都要打造“六最”营商环境[A1]。"]
    assert "六最" not in result.answer.split("共同点")[1].split("不同点")[0]
    assert "不同点" in result.answer and "B：要打造“六最”营商环境。[B" in result.answer
    for block in result.segments:  # every line saying both cites both
        if any(r.cite for r in block.runs) and "都" in "".join(r.text for r in block.runs):
            assert {r.cite[0] for r in block.runs if r.cite} == {"A", "B"}
    assert cited_labels(result.segments) == [c.label for c in result.citations]


def test_compare_with_one_silent_speech_asks_about_the_other_only(make):
    assistant = make(lambda prompt: f"经济增速要“保8争9”[{label_of(prompt, '保8争9')}]。")
    result = assistant.compare(FIRST_SPEECH, GROWTH_SPEECH, "保8争9")
    assert not result.a.found and result.b.found and len(assistant.llm.seen) == 1
    assert "《在市人民代表大会第二次会议闭幕会上的讲话》未涉及这一主题。" in result.answer
    assert "保8争9" in result.answer and all(c.label.startswith("B") for c in result.citations)


def test_compare_states_when_one_speech_is_silent(make):
    result = make(llm=False).compare(FIRST_SPEECH, GROWTH_SPEECH, "保8争9")
    assert result.found and not result.a.found and result.b.found and result.a.passages == []
    assert "《在市人民代表大会第二次会议闭幕会上的讲话》未涉及这一主题。" in result.answer
    assert "保8争9" in result.answer and all(c.label.startswith("B") for c in result.citations)


def test_a_question_naming_two_speeches_is_answered_for_each_apart(make):
    assistant = make(lambda p: f"要持续优化营商环境[{label_of(p, '营商环境')}]。",
                     lambda p: f"要打造“六最”营商环境[{label_of(p, '六最')}]。")
    events = list(assistant.ask_stream("两篇讲话分别对营商环境提出了什么要求？"))
    answer = events[-1].result
    assert isinstance(events[0], Evidence) and {c.label[0] for c in events[0].citations} == {"A", "B"}
    assert answer.found and {c.speech_id for c in answer.context} == {FIRST_SPEECH, GROWTH_SPEECH}
    side_a, side_b = (call[-1].content for call in assistant.llm.seen)  # one prompt per speech, its quotes only
    assert FIRST_TITLE in side_a and "[B1]" not in side_a and "[A1]" not in side_b
    assert "A：《" in answer.answer and "B：《" in answer.answer and "共同点" in answer.answer
    assert answer.unsupported_sentences == []
