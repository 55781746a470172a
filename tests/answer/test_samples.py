"""The sample speeches (issue 12, item 6): marked as samples in their sidecars; once the library holds a speech of the
user's own they take no part in answers, comparisons or charts unless chosen explicitly; one action removes them,
and an emptied library does not get them back. And every list names a speech by one label (item 5)."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, SEED, FakeEmbeddings, ingest

from answer.service import Assistant
from ingest.store import open_store, speech_labels
from study.topic import follow_topic

GROWTH = "今年全市经济增长的预期目标是多少？"  # the sample 2025-city-work-meeting answers it
SAMPLE = "2025-city-work-meeting"


@pytest.fixture
def assistant(settings):
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    return Assistant(settings.model_copy(update={"llm": "extractive"}), store=store)


def cited(answer) -> set[str]:
    return {c.speech_id for c in answer.context}


def test_samples_are_marked_and_answer_while_they_are_all_there_is(assistant):
    assert all(s.is_sample for s in assistant.store.list_speeches())
    answer = assistant.ask(GROWTH)
    assert answer.found and SAMPLE in cited(answer)


def test_once_the_user_has_speeches_samples_answer_only_when_chosen(assistant, settings):
    ingest(assistant.store, settings, SEED)
    samples = {s.id for s in assistant.store.list_speeches() if s.is_sample}
    assert len(samples) == 3
    assert not cited(assistant.ask(GROWTH)) & samples
    assert not cited(assistant.ask(GROWTH, years=(2020, 2030))) & samples
    chosen = assistant.ask(GROWTH, speech_ids=[SAMPLE])
    assert chosen.found and cited(chosen) == {SAMPLE}
    mine = next(s.id for s in assistant.store.list_speeches() if not s.is_sample)
    compared = assistant.compare(SAMPLE, mine, "经济增长")
    assert compared.a.speech_id == SAMPLE and compared.a.found  # chosen explicitly: compared
    topic = {s.speech_id for s in follow_topic(assistant.retriever, "经济增长").speeches}  # the 主题 view
    assert topic and not topic & samples  # the samples say most about growth, yet only the user's own are listed


def test_one_action_removes_the_samples_for_good(assistant, settings, monkeypatch):
    import app
    import ingest.store

    removed = assistant.writer.remove_samples()
    assert sorted(removed) == ["2023-ecology-forum", "2024-county-congress-closing", SAMPLE]
    assert assistant.store.list_speeches() == []
    monkeypatch.setattr(ingest.store, "open_store", lambda settings: assistant.store)
    app.ensure_library(settings)  # the next start of the app, on the emptied library
    assert assistant.store.list_speeches() == []


def test_every_list_names_a_speech_by_title_date_and_its_id_where_those_repeat(settings, tmp_path):
    store = open_store(settings, FakeEmbeddings())
    folder = tmp_path / "same-title"
    folder.mkdir()
    for name, seed in (("甲", "000_ed498335adf7a40a.txt"), ("乙", "002_d5a8c33760b2f744.txt")):
        text = (SEED / seed).read_text(encoding="utf-8")
        (folder / f"{name}.txt").write_text("在全市工作会议上的讲话\n2024年3月1日\n" + text, encoding="utf-8")
    (folder / "丙.txt").write_text("在全市工作会议上的讲话\n2025年3月1日\n同志们：今天开会。", encoding="utf-8")
    ingest(store, settings, folder)
    labels = speech_labels(store.list_speeches())
    assert labels == {"甲": "在全市工作会议上的讲话（2024-03-01） · 甲",
                      "乙": "在全市工作会议上的讲话（2024-03-01） · 乙",
                      "丙": "在全市工作会议上的讲话（2025-03-01）"}
    from web.ui import Handlers

    on = Handlers(Assistant(settings.model_copy(update={"llm": "extractive"}), store=store), settings)
    table, speech_filter, low, high, a, b, picked, samples = on.refresh_library()
    for dropdown in (speech_filter, a, b, picked):
        assert sorted(dropdown["choices"]) == sorted((label, sid) for sid, label in labels.items())
    assert samples["visible"] is False


def test_the_library_tab_offers_librarians_alone_to_remove_the_samples(assistant, settings):
    from types import SimpleNamespace

    import gradio as gr

    from web.security import LIBRARIAN, READER, ROLE_KEY
    from web.ui import Handlers

    as_role = lambda role: SimpleNamespace(state=SimpleNamespace(**{ROLE_KEY: role}))  # noqa: E731
    on = Handlers(assistant, settings)
    assert on.refresh_library(request=as_role(LIBRARIAN))[-1]["visible"] is True
    assert on.refresh_library(request=as_role(READER))[-1]["visible"] is False
    with pytest.raises(gr.Error):
        on.remove_samples("删除示例讲话", as_role(READER))
    assert len(assistant.store.list_speeches()) == 3
    assert "已删除 3 篇示例讲话" in on.remove_samples("删除示例讲话", as_role(LIBRARIAN))
    assert assistant.store.list_speeches() == []
    assert on.refresh_library(request=as_role(LIBRARIAN))[-1]["visible"] is False
