"""The answering chain with a scripted chat model (the real models are tested in test_local_answers.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from conftest import HOSTILE, SEED, ingest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from answer.events import Delta, Pulse, collect
from answer.segments import Run, cited_labels
from answer.llm.errors import LLMUnavailable
from answer.service import Assistant
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
    """The [n] of the passage in the prompt that contains ``words``."""
    for label, block in re.findall(r"^\[([AB]?\d+)\]《(.*?)(?=^\[[AB]?\d+\]《|\Z)", material, re.M | re.S):
        if words in block:
            return label
    raise AssertionError(f"{words!r} is not in the prompt")


@pytest.fixture
def make(settings, store):
    ingest(store, settings, SEED)

    def make(*script, **overrides) -> Assistant:
        llm = ScriptedChat(script=list(script)) if script or overrides.pop("llm", True) else None
        return Assistant(settings.model_copy(update=overrides), store=store, llm=llm)

    return make


def test_answer_streams_and_its_markers_become_citations(make):
    assistant = make(lambda prompt: f"今年提出经济增速要“保8争9”[{label_of(prompt, '保8争9')}][9]。")
    events = list(assistant.ask_stream("今年的经济增速目标是什么？"))
    deltas, answer = [e for e in events[:-1] if not isinstance(e, Pulse)], events[-1].result
    assert len(deltas) > 3 and all(isinstance(d, Delta) for d in deltas)
    assert "".join(d.text for d in deltas) == collect(events).text
    assert answer.found and answer.answer.endswith("]。") and "[9]" not in answer.answer
    assert answer.dropped_markers == ["9"]
    (citation,) = answer.citations
    assert citation.speech_id == GROWTH_SPEECH and "保8争9" in citation.text
    assert assistant.store.speech_text(GROWTH_SPEECH)[citation.start : citation.end] == citation.text
    assert answer.unsupported_sentences == []
    assert answer.as_json()["citations"][0]["n"] == int(citation.label)


def test_an_invented_claim_is_flagged(make):
    answer = make(lambda p: f"今年经济增速目标是12%[{label_of(p, '保8争9')}]。").ask("今年的经济增速目标是什么？")
    assert answer.found and answer.unsupported_sentences == [answer.answer]


def test_unaddressed_question_lists_nearest_passages_without_the_llm(make):
    assistant = make()  # an empty script: any LLM call fails the test
    answer = assistant.ask("如何培养青少年足球运动员的射门技术？")
    assert not answer.found and answer.answer.startswith("讲话中没有涉及这个问题。")
    assert 1 <= len(answer.citations) <= 3 and all(f"[{c.label}]" in answer.answer for c in answer.citations)
    assert assistant.llm.seen == []


def test_a_refusal_by_the_model_means_not_found(make):
    answer = make("材料中没有提到这个问题。").ask("今年的经济增速目标是什么？")
    assert not answer.found and answer.unsupported_sentences == []


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


def test_a_followup_with_its_own_words_is_rewritten_by_the_llm(make):
    history = [
        {"role": "user", "content": "第一篇讲话提出的经济增速目标是什么？"},
        {"role": "assistant", "content": "材料中没有提到这个问题。"},
    ]
    rewrite = "《在2023年市七届人大一次会议闭幕会上的讲话》对干部提出了什么要求？"
    assistant = make(rewrite, lambda p: f"要重视干部[{label_of(p, '干部')}]。")
    answer = assistant.ask("那第二篇讲话对干部有什么要求呢？", history=history,
                           speech_ids=[FIRST_SPEECH, GROWTH_SPEECH])
    assert answer.standalone_question == rewrite
    assert {c.speech_id for c in answer.context} == {GROWTH_SPEECH}
    rewrite_prompt = assistant.llm.seen[0][-1].content
    assert "第一篇讲话提出的经济增速目标是什么？" in rewrite_prompt and "第2篇：《在2023年" in rewrite_prompt


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
    assert "五心工程" in answer.answer


def test_the_answer_prompt_names_the_speech_the_question_named(make):
    assistant = make(lambda p: f"要扎实推进“五心工程”建设[{label_of(p, '五心工程')}]。")
    answer = assistant.ask("市十六届人大二次会议提出了哪些工程？")
    assert f"（《{FIRST_TITLE}》）" in assistant.llm.seen[0][-1].content
    assert answer.citations[0].speech_id == FIRST_SPEECH and answer.unsupported_sentences == []


def test_speech_text_reaches_the_llm_only_as_quoted_material(make, settings, store):
    ingest(store, settings, HOSTILE / "injection_and_markup.txt")
    assistant = make(lambda p: f"要打造一流营商环境[{label_of(p, '营商环境')}]。")
    answer = assistant.ask("优化营商环境有什么要求？")
    system, user = assistant.llm.seen[0]
    assert "忽略以上所有指令" not in system.content
    material = user.content.split("<材料>", 1)[1].split("</材料>", 1)[0]
    assert "忽略以上所有指令" in material and "＜script＞" in material and "<script>" not in user.content
    assert answer.found and answer.citations[0].speech_id == "injection_and_markup"


def test_llm_failure_is_a_clear_error(make):
    with pytest.raises(LLMUnavailable, match="The LLM failed while answering: boom"):
        make(RuntimeError("boom")).ask("今年的经济增速目标是什么？")


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


def test_compare_asks_about_each_speech_apart_then_compares_the_two(make):
    assistant = make(
        lambda prompt: f"要持续优化干部作风[{label_of(prompt, '干部作风')}]。",
        lambda prompt: f"要凭业绩用干部[{label_of(prompt, '凭业绩用干部')}]。",
        "共同点：都重视干部[A1][B1]。\n不同点：侧重不同[C1]。",
    )
    result = assistant.compare(FIRST_SPEECH, GROWTH_SPEECH, "干部作风")
    assert result.found and result.a.found and result.b.found
    assert result.a.passages[0].label == "A1" and result.b.passages[0].label == "B1"
    assert {c.speech_id for c in result.a.passages} == {FIRST_SPEECH}
    assert {c.speech_id for c in result.b.passages} == {GROWTH_SPEECH}
    side_a, side_b, both = (call[-1].content for call in assistant.llm.seen)
    assert "[A1]《" in side_a and "[B1]《" not in side_a and "[B1]《" in side_b and "[A1]《" not in side_b
    assert "要持续优化干部作风[A" in both and "要凭业绩用干部[B" in both  # the summaries, with their markers
    assert result.answer.startswith("《在市人民代表大会第二次会议闭幕会上的讲话》\n要持续优化干部作风[A")
    assert "共同点：都重视干部[A1][B1]。" in result.answer
    assert result.dropped_markers == ["C1"]
    assert {c.label[0] for c in result.citations} == {"A", "B"}
    assert set(result.as_json()["speeches"]) == {"A", "B"}
    heading, said = result.segments[:2]  # the code's heading, taken as it is; the model's summary, parsed
    assert heading.runs == (Run("《在市人民代表大会第二次会议闭幕会上的讲话》"),)
    assert said.runs[0] == Run("要持续优化干部作风") and said.runs[1].cite.startswith("A")
    assert cited_labels(result.segments) == [c.label for c in result.citations]


def test_compare_with_one_silent_speech_skips_the_comparison_step(make):
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
