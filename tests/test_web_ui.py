"""The Gradio UI's handlers (web/ui.py ``Handlers``) called directly, over the fake assistant: what each event
shows, passes on and stores. The browser tests (tests/browser/) drive the same handlers through the real page."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from web_fakes import CITY, COUNTY, TEXTS, FakeAssistant

from answer.llm.errors import LLMUnavailable
from settings import Settings
from web import render
from web.security import LIBRARIAN, READER, ROLE_KEY
from web.ui import Handlers

SKIP = gr.skip()


@pytest.fixture
def assistant() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
def ui_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding="fake", trusted_user_header="X-Remote-User", _env_file=None)


@pytest.fixture
def on(assistant, ui_settings) -> Handlers:
    return Handlers(assistant, ui_settings)


def request_as(role: str | None) -> SimpleNamespace:
    """A request as the access-control middleware leaves it: its role in the state."""
    return SimpleNamespace(state=SimpleNamespace(**{ROLE_KEY: role}))


LIBRARIAN_REQUEST = request_as(LIBRARIAN)


def ask(on, question, turns=(), messages=(), speech_ids=None, year_from=None, year_to=None) -> list[tuple]:
    return list(on.ask(question, list(messages), list(turns), speech_ids, year_from, year_to))


# -- chat ---------------------------------------------------------------------------------------------------------


def test_an_answer_streams_then_shows_chips_sources_and_its_markdown(on, assistant):
    steps = ask(on, "增长目标？")
    first, *streaming, last = steps
    assert first[0][0] == {"role": "user", "content": render.question_html("增长目标？")}
    assert "streaming" in first[0][1]["content"] and first[2] == ""  # the question box is emptied at once
    shown = assistant.evidence().as_json()["evidence"]  # the quotes, drawn at once, the synthesis below them
    assert [s[0][-1]["content"] for s in streaming] == [
        render.streaming_html("", evidence=shown),
        render.streaming_html("今年全市经济增长的预期目标是", evidence=shown),
        render.streaming_html("今年全市经济增长的预期目标是5%左右。[1]", evidence=shown)]
    assert 'class="cite-chip"' in streaming[0][0][-1]["content"]  # the evidence's chips work while it streams
    messages, turns, box, markdown, download = last
    answer = assistant.answer("增长目标？").as_json()
    assert turns == [{"question": "增长目标？", "answer": answer}] and box == ""
    body, sources = messages[1:]
    assert body["content"].count('class="cite-chip"') == 1 and f"#cite:{CITY}:" in body["content"]
    assert "streaming" not in body["content"] and sources["metadata"] == {"title": "来源（1）"}
    assert markdown == render.answer_markdown(answer) and download["interactive"] is True
    assert Path(download["value"]).read_text(encoding="utf-8") == render.conversation_markdown([answer])


def test_follow_ups_carry_the_conversation_and_the_filters(on, assistant):
    *_, last = ask(on, "增长目标？")
    messages, turns = last[0], last[1]
    *_, second = ask(on, "那去年呢？", turns, messages, speech_ids=[CITY], year_from="2024", year_to="2025")
    _, _, history, speech_ids, years = assistant.calls[-1]
    assert history == [{"role": "user", "content": "增长目标？"},
                       {"role": "assistant", "content": "今年全市经济增长的预期目标是5%左右。[1]",
                        "citations": [{"speech_id": CITY}]}]
    assert (speech_ids, years) == ([CITY], (2024, 2025))
    assert [t["question"] for t in second[1]] == ["增长目标？", "那去年呢？"]
    assert second[4]["value"].endswith(".md") and "那去年呢？" in Path(second[4]["value"]).read_text(encoding="utf-8")


def test_the_question_is_shown_as_plain_text(on):
    question = "![t](http://127.0.0.1:9/x.png) <img src=x onerror=alert(1)> $$\\rule{3000px}{3000px}$$\n第二行"
    shown = ask(on, question)[0][0][0]["content"]
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert shown.startswith('<div class="question">') and "\n" not in shown and "<br>第二行" in shown


def test_a_blank_question_does_nothing_and_a_failure_is_one_friendly_line(on, assistant):
    assert ask(on, "   ") == [(SKIP,) * 5]
    assistant.error = LLMUnavailable("cannot reach the LLM server")
    *_, last = ask(on, "增长目标？")
    assert 'class="app-error"' in last[0][-1]["content"] and "回答服务暂时不可用" in last[0][-1]["content"]
    assert last[1] == [{"question": "增长目标？", "answer": None}]  # kept in the chat, left out of the history
    assistant.error = RuntimeError("secret detail")
    *_, last = ask(on, "增长目标？")
    assert "secret" not in last[0][-1]["content"] and "出了点问题" in last[0][-1]["content"]


def test_new_chat_empties_the_conversation_and_the_export(on):
    chatbot, turns, export_text, question, export_file, viewer = on.reset()
    assert (chatbot, turns, export_text, question) == ([], [], "", None)
    assert export_file == {"__type__": "update", "value": None, "interactive": False}
    assert viewer == render.viewer_placeholder()


def test_a_stopped_answer_keeps_its_evidence_and_is_no_turn_of_the_conversation(on, assistant):
    steps = ask(on, "增长目标？")
    messages, turns = steps[2][0], steps[2][1]  # stopped while the synthesis streams
    assert turns[-1]["partial"] == "今年全市经济增长的预期目标是" and turns[-1]["evidence"]
    shown, kept = on.stopped(messages, turns)
    html = shown[-1]["content"]
    assert 'class="cite-chip"' in html and "「" in html  # the evidence stands, its chips working
    assert "今年全市经济增长的预期目标是" in html and render.STOPPED_NOTE in html and "cursor" not in html
    assert kept == [{"question": "增长目标？", "answer": None}] and on.keep(kept) == []
    assert on.stopped(messages, kept) == (gr.skip(), gr.skip())  # nothing streams: nothing to stop


def test_regenerate_asks_the_last_question_again_in_its_place(on, assistant):
    *_, (messages, turns, *_rest) = ask(on, "增长目标？")
    *_, (messages, turns, *_rest) = ask(on, "营商环境？", turns, messages)
    *_, (again, again_turns, box, markdown, _) = list(on.regenerate(messages, turns, [COUNTY], None, None))
    assert [t["question"] for t in again_turns] == ["增长目标？", "营商环境？"]
    assert assistant.calls[-1][:2] == ("ask", "营商环境？") and assistant.calls[-1][3] == [COUNTY]
    assert [m["role"] for m in again] == [m["role"] for m in messages]  # the last answer replaced, not added
    assert len(assistant.calls[-1][2]) == 2  # its history: the first turn only
    assert list(on.regenerate([], [], None, None, None)) == [(gr.skip(),) * 5]


def test_the_conversation_survives_a_reload_until_new_chat(on, assistant):
    *_, (messages, turns, *_rest) = ask(on, "增长目标？")
    kept = on.keep([*turns, {"question": "失败的问题", "answer": None}])
    assert kept == turns  # answered turns only
    restored, restored_turns, markdown, download = on.restore(json.loads(json.dumps(kept)))
    assert restored == messages and restored_turns == turns
    assert markdown == render.answer_markdown(turns[0]["answer"]) and download["interactive"] is True
    assert on.restore(kept, turns) == (gr.skip(),) * 4  # a page holding its conversation is not redrawn
    assert on.keep(on.reset()[1]) == []  # 新对话 empties what the browser keeps


@pytest.mark.parametrize("saved", [
    [{"question": "q", "answer": {"answer": "<img src=x>"}}],  # no answer: fields missing
    [{"question": "q", "answer": None}], "not a list", [{"question": 1}],
])
def test_a_saved_conversation_that_is_no_conversation_is_dropped(on, saved):
    assert on.restore(saved) == (gr.skip(),) * 4


def test_a_restored_answer_is_drawn_escaped(on, assistant):
    answer = assistant.answer("q").as_json()
    answer["segments"] = [{"kind": "paragraph", "runs": [{"text": "<script>alert(1)</script>"}]}]
    messages, *_ = on.restore([{"question": "<img src=x onerror=alert(1)>", "answer": answer}])
    html = messages[0]["content"] + messages[1]["content"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_a_chip_opens_its_passage_highlighted_in_the_whole_speech(on, assistant):
    cited = assistant.answer("q").citations[0].as_json()
    html = on.open_citation(gr.EventData(None, {"cite": render.cite_href(cited)}))
    assert '<mark class="cited" id="viewer-1"' in html and cited["text"] in html
    assert "&lt;script&gt;" in html and "<script>" not in html  # the speech holds markup: shown as text
    assert "这个引用链接无效" in on.open_citation(gr.EventData(None, {"cite": "javascript:alert(1)"}))
    gone = on.open_citation(gr.EventData(None, {"cite": "#cite:nope:0:3:1"}))
    assert "资料库中没有这篇讲话（nope）" in gone


def test_thumbs_are_recorded_with_the_answer_and_the_user(on, ui_settings):
    *_, last = ask(on, "增长目标？")
    messages, turns = last[0], last[1]
    on.feedback(turns, messages, gr.LikeData(None, {"index": 1, "value": "", "liked": False}),
                gr.Request(headers={"X-Remote-User": "zhang.san"}))
    on.feedback(turns, messages, gr.LikeData(None, {"index": -5, "value": "", "liked": True}), gr.Request())
    records = [json.loads(line) for line in (ui_settings.data_dir / "feedback.jsonl").read_text().splitlines()]
    assert [(r["vote"], r["question"], r["user"], r["source"]) for r in records] == [
        ("down", "增长目标？", "zhang.san", "ui")]


# -- compare ------------------------------------------------------------------------------------------------------


def test_compare_shows_both_speeches_then_the_comparison_with_jump_chips(on, assistant):
    first, *streaming, last = list(on.compare(CITY, COUNTY, "增长"))
    assert 'class="compare-col"' in first[0] and "A：《在全市经济工作会议上的讲话》" in first[0]
    assert "<mark" not in first[0] and "streaming" in first[2]
    assert streaming[-1][2] == render.streaming_html("各自的论述：A 定了目标[A1]；B 也定了目标[B1]。")
    assert first[4] is None  # the previous comparison's Word download goes
    column_a, column_b, body, markdown, result = last
    assert result == assistant.comparison(CITY, COUNTY, "增长").as_json()  # kept for the Word download
    assert 'id="cmp-A1"' in column_a and 'id="cmp-B1"' in column_b
    assert body.count('href="#cmp-A1"') == 2 and "<h4>所引段落</h4>" in body  # in the text and in the sources
    assert markdown == render.comparison_markdown(assistant.comparison(CITY, COUNTY, "增长").as_json())
    missing = list(on.compare(CITY, "", "增长"))
    assert missing == [(SKIP, SKIP, render.error_html("请选择两篇讲话，并输入要比较的主题。"), SKIP, SKIP)]


# -- library ------------------------------------------------------------------------------------------------------


def test_upload_reports_each_file_and_the_library_refreshes(on, tmp_path, monkeypatch):
    monkeypatch.setattr("web.ui.upload_folder", lambda: tmp_path)  # as if Gradio had received them
    new, empty = tmp_path / "2026-new.txt", tmp_path / "empty.txt"
    new.write_text("新的讲话\n同志们：今天开会。", encoding="utf-8")
    empty.write_text("", encoding="utf-8")
    rows, cleared = on.upload([str(new), str(empty)], LIBRARIAN_REQUEST)
    assert cleared is None
    assert [row[:2] for row in rows] == [["2026-new.txt", "成功"], ["empty.txt", "失败"]]
    assert rows[0][2] == "已添加：2026-new" and rows[1][2] == "文件是空的，没有文字。"
    new.write_text("新的讲话\n同志们：今天再开会。", encoding="utf-8")
    assert on.upload([str(new)], LIBRARIAN_REQUEST)[0] == [["2026-new.txt", "成功", "已更新：2026-new"]]
    table, speeches, *_ = on.refresh_library()
    assert "2026-new" in [row[0] for row in table["value"]]
    assert ("新的讲话", "2026-new") in speeches["choices"]


def test_delete_removes_the_speech(on, assistant):
    assert on.delete(CITY, LIBRARIAN_REQUEST) == render.deleted_html("在全市经济工作会议上的讲话", "2025-02-10")
    assert CITY not in assistant.store.records
    assert "资料库中没有这篇讲话" in on.delete(CITY, LIBRARIAN_REQUEST)


@pytest.mark.parametrize("role", [READER, None])
def test_library_writes_refuse_anyone_but_a_librarian(on, assistant, tmp_path, monkeypatch, role):
    monkeypatch.setattr("web.ui.upload_folder", lambda: tmp_path)
    new = tmp_path / "2026-new.txt"
    new.write_text("新的讲话\n同志们：今天开会。", encoding="utf-8")
    with pytest.raises(gr.Error):
        on.upload([str(new)], request_as(role))
    with pytest.raises(gr.Error):
        on.delete(CITY, request_as(role))
    assert CITY in assistant.store.records and "2026-new" not in assistant.store.records
    shown = on.library_controls(request_as(role))
    assert [u["visible"] for u in shown] == [False, False, False, True]
    assert [u["visible"] for u in on.library_controls(LIBRARIAN_REQUEST)] == [True, True, True, False]


def test_refresh_keeps_the_selections_that_still_exist(on, assistant):
    assistant.delete(COUNTY)
    table, speech_filter, low, high, a, b, picked, samples = on.refresh_library(
        [CITY, COUNTY], "2024", "2025", COUNTY, CITY, COUNTY)
    assert [row[0] for row in table["value"]] == [CITY]
    assert speech_filter["value"] == [CITY] and (a["value"], b["value"], picked["value"]) == (None, CITY, None)
    assert (low["value"], high["value"], low["choices"]) == (None, "2025", ["2025"])
    assert len(TEXTS[CITY]) == table["value"][0][4]


def test_the_library_table_shows_each_speechs_state(on, assistant):
    """Keywords first: a speech whose vectors are being embedded shows a bar and its count, then 完成."""
    from dataclasses import replace

    assistant.store.records[CITY] = replace(assistant.store.records[CITY], vectors=1)
    table, *_ = on.refresh_library()
    rows = {row[0]: row for row in table["value"]}
    total = assistant.store.records[CITY].passages
    assert rows[CITY][-1].startswith("可关键词检索") and rows[CITY][-1].endswith(f"1/{total}"), rows[CITY]
    assert "█" in rows[CITY][-1] or total > 20
    assert all(row[-1] == "完成" for sid, row in rows.items() if sid != CITY)
