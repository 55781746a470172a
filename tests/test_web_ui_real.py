"""The UI's handlers (web/ui.py ``Handlers``) over the real Assistant and a small real library (the samples in Chroma
on disk, fake embeddings, no LLM unless a test brings one): what the filters, the topic chart, uploads and the queue
really do, where tests/test_web_ui.py checks what the handlers show over the fake."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from conftest import SAMPLES, FakeEmbeddings, GatedChat, ingest

from answer.events import Queued
from answer.service import Assistant
from ingest.store import open_store
from settings import Settings
from web import render
from web.security import LIBRARIAN, ROLE_KEY
from web.ui import Handlers

CITY, COUNTY, ECOLOGY = "2025-city-work-meeting", "2024-county-congress-closing", "2023-ecology-forum"
LIBRARIAN_REQUEST = SimpleNamespace(state=SimpleNamespace(**{ROLE_KEY: LIBRARIAN}))
GROWTH = "经济增长的目标是多少？"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-real")
    settings = Settings(data_dir=folder / "data", embedding="fake", llm="extractive", _env_file=None)
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    return settings, store


@pytest.fixture
def on(library) -> Handlers:
    settings, store = library
    return Handlers(Assistant(settings, store=store), settings)


def answered(on: Handlers, question: str, speech_ids=None, year_from=None, year_to=None) -> dict:
    *_, last = on.ask(question, [], [], speech_ids, year_from, year_to)
    return last[1][-1]["answer"]


def cited_speeches(answer: dict) -> set[str]:
    return {c["speech_id"] for c in answer["citations"]}


def test_the_chat_searches_only_the_chosen_speeches_and_years(on):
    everywhere = answered(on, GROWTH)
    assert {CITY, COUNTY} <= cited_speeches(everywhere)  # both speak of growth targets
    assert cited_speeches(answered(on, GROWTH, speech_ids=[COUNTY])) == {COUNTY}
    assert cited_speeches(answered(on, GROWTH, year_from="2025")) == {CITY}
    assert cited_speeches(answered(on, GROWTH, year_from="2024", year_to="2024")) == {COUNTY}
    nothing = answered(on, GROWTH, speech_ids=[CITY], year_from="2024", year_to="2024")
    assert nothing["citations"] == [] and nothing["answer"] == "没有符合筛选条件的讲话。"


def test_re_uploads_say_added_updated_unchanged_or_failed_and_keep_the_stored_speech(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data", embedding="fake", llm="extractive", _env_file=None)
    on = Handlers(Assistant(settings, store=open_store(settings, FakeEmbeddings())), settings)
    monkeypatch.setattr("web.ui.upload_folder", lambda: tmp_path)  # as if Gradio had received them
    speech = tmp_path / "2026-新讲话.txt"

    def upload(text: str) -> list[str]:
        speech.write_bytes(text.encode("utf-8") if text else b"")
        rows, cleared = on.upload([str(speech)], LIBRARIAN_REQUEST)
        assert cleared is None and len(rows) == 1
        return rows[0]

    first = "在全县春耕工作会议上的讲话\n同志们：今年要抓好春耕生产，粮食播种面积稳定在三十万亩。"
    assert upload(first) == ["2026-新讲话.txt", "成功", "已添加：2026-新讲话"]
    assert upload(first) == ["2026-新讲话.txt", "成功", "内容未变：2026-新讲话"]
    second = first.replace("三十万亩", "三十二万亩")
    assert upload(second) == ["2026-新讲话.txt", "成功", "已更新：2026-新讲话"]
    name, outcome, reason = upload("")  # a replacement that holds no text
    assert (name, outcome) == ("2026-新讲话.txt", "失败") and "文件是空的" in reason, reason
    assert "三十二万亩" in on.store.speech_text("2026-新讲话")  # the stored speech is the last good one
    assert [s.id for s in on.store.list_speeches()] == ["2026-新讲话"]


def test_a_waiting_question_shows_its_place_in_the_queue(library):
    settings, store = library
    local = settings.model_copy(update={"llm": "local"})  # the in-process model: one question at a time, queued
    chat = GatedChat(gate=threading.Event(), reply="经济增长的预期目标是5%左右[1]。", running=[], most=[0])
    on = Handlers(Assistant(local, store=store, llm=chat), local)
    shown: dict[str, list[str]] = {"first": [], "second": []}
    turns: dict[str, list] = {}

    def ask(name: str) -> None:
        for step in on.ask(GROWTH, [], [], None, None, None):
            shown[name].append(step[0][-1]["content"])
            turns[name] = step[1]

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    deadline = time.monotonic() + 30
    while not chat.running:  # the first question holds the model
        assert time.monotonic() < deadline, "the first question never reached the LLM"
        time.sleep(0.05)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    while not any("排队中" in html for html in shown["second"]):
        assert time.monotonic() < deadline, f"the second question never showed its place: {shown['second']}"
        time.sleep(0.05)
    chat.gate.set()
    first.join(30)
    second.join(30)
    assert render.streaming_html(Queued(1, 1).text()) in shown["second"]  # "（排队中：您是第 1 位，共 1 人…）"
    assert not any("排队中" in html for html in shown["first"])
    assert [turns[name][-1]["answer"]["answer"] for name in shown] == ["经济增长的预期目标是5%左右[1]。"] * 2
