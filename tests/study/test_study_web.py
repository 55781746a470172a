"""The study tools on the web: their JSON routes (web/study_api.py) and UI handlers (web/study_ui.py), over the real
answering service (extractive) and a real library on disk (fake embeddings). Raw HTTP against a real app.py:
tests/security/; in a real browser: tests/browser/test_browser_study.py."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import gradio as gr
import pytest
from fastapi.testclient import TestClient

from answer.service import Assistant
from web import render
from web.server import create_app
from web.study_api import OutlineOut, TopicOut, VerifyOut
from web.study_ui import StudyHandlers
from web.word import MEDIA_TYPE

CITY, COUNTY = "2025-city-work-meeting", "2024-county-congress-closing"
DRAFT = ("书记强调：“今年全市经济增长的预期目标是5%左右。”还要求“研发经费投入强度提高到3%”，"
         "并说“这句话是起草人自己加的，讲话里没有”。")


@pytest.fixture(scope="module")
def assistant(study_library):
    settings, store, retriever = study_library
    return Assistant(settings, store=store, retriever=retriever)


@pytest.fixture(scope="module")
def client(assistant):
    return TestClient(create_app(assistant.settings, assistant))


def test_verify_returns_each_quote_as_documented(client, assistant):
    response = client.post("/api/verify", json={"text": DRAFT})
    assert response.status_code == 200
    body = VerifyOut.model_validate(response.json()).model_dump()
    assert [s["status"] for s in body["sentences"]] == ["exact", "altered", "not_found"]
    altered = body["sentences"][1]
    assert assistant.store.speech_text(altered["speech_id"])[altered["start"]:altered["end"]] == altered["source_text"]
    assert [op["source"] + ">" + op["text"] for op in altered["diff"] if op["significant"]] == ["2.5>3"]


def test_topic_and_outline_return_what_is_documented(client):
    topic = TopicOut.model_validate(client.get("/api/topic", params={"topic": "作风"}).json())
    assert [s.speech_id for s in topic.speeches][0] == COUNTY and topic.addressing == 2
    outline = OutlineOut.model_validate(client.get(f"/api/speeches/{COUNTY}/outline").json())
    assert outline.headings[0].text == "一、准确把握今年的目标任务"
    assert client.get("/api/speeches/nope/outline").status_code == 404


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"text": "  "}, 400, "请输入待核对的文字。"),
    ({"text": "字" * 10_001}, 400, "待核对的文字太长了（10001 字），最多 10000 字。"),
    ({"text": "“今年”", "extra": 1}, 400, "extra"),
    ({}, 400, "text"),
])
def test_verify_refuses_bad_input_with_one_line(client, body, status, words):
    response = client.post("/api/verify", json=body)
    assert response.status_code == status and words in response.json()["error"]


def test_every_result_posted_back_comes_back_as_a_word_document(client):
    results = {
        "answer": client.post("/api/ask", json={"question": "今年全市经济增长的预期目标是多少？"}).json(),
        "comparison": client.post("/api/compare", json={"speech_a": CITY, "speech_b": COUNTY,
                                                        "topic": "经济增长目标"}).json(),
        "verify": client.post("/api/verify", json={"text": DRAFT}).json(),
        "topic": client.get("/api/topic", params={"topic": "作风"}).json(),
    }
    for kind, result in results.items():
        response = client.post("/api/export/docx", json=result)
        assert response.status_code == 200, (kind, response.text[:300])
        assert response.headers["content-type"] == MEDIA_TYPE
        assert f'filename="speeches-{kind}.docx"' in response.headers["content-disposition"]
        document = docx.Document(io.BytesIO(response.content))
        assert document.core_properties.title and document.paragraphs[0].text == document.core_properties.title


@pytest.mark.parametrize(("body", "words"), [
    ({"hello": "world"}, "请求体不是可导出的结果（API 返回的回答、比较、引文核对或主题）"),
    ([1, 2], "请求体不是可导出的结果"),
    ({"question": "q", "segments": [{"kind": "table", "runs": []}]}, "kind"),
    ({"question": "q", "segments": [{"kind": "paragraph", "runs": [{"text": "x" * 20_001}]}]}, "20000"),
    ({"sentences": [{"text": "x", "status": "exact"}] * 2001}, "2000"),
    ({"topic": "t", "speeches": [{"speech_id": "x", "strength": 2}]}, "strength"),
])
def test_export_refuses_what_is_none_of_the_results(client, body, words):
    response = client.post("/api/export/docx", json=body)
    assert response.status_code == 400 and words in response.json()["error"], response.text[:300]


def test_the_openapi_schema_documents_the_new_routes(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/verify", "/api/topic", "/api/speeches/{speech_id}/outline", "/api/export/docx"} <= set(spec["paths"])
    export = spec["paths"]["/api/export/docx"]["post"]
    assert set(export["responses"]["200"]["content"]) == {MEDIA_TYPE}
    assert len(export["requestBody"]["content"]["application/json"]["schema"]["oneOf"]) == 4


# -- the UI's handlers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def on(assistant):
    return StudyHandlers(assistant, assistant.settings)


def downloaded(update) -> Path:
    assert update["interactive"] is True
    return Path(update["value"])


def test_the_verify_tab_shows_the_results_and_offers_them_as_word(on, assistant):
    html, check, download = on.verify(DRAFT)
    assert check["counts"] == {"exact": 1, "altered": 1, "not_found": 1}
    assert html.count('class="verify-item') == 3 and f"#cite:{CITY}:" in html
    assert '<del class="dropped significant"' in html and '<ins class="added significant"' in html
    assert downloaded(download).suffix == ".docx" and downloaded(download).stat().st_size > 10_000
    blank = on.verify("   ")
    assert "请先粘贴要核对的文字" in blank[0] and blank[1] is None and blank[2]["interactive"] is False
    assert "待核对的文字太长了（10001 字）" in on.verify("字" * 10_001)[0]


def test_the_topic_tab_lists_the_speeches_to_pick_two_for_the_comparison(on):
    html, view, pick, download = on.topic("作风")
    assert view["addressing"] == 2 and html.count('class="topic-speech"') == 2
    assert [value for _, value in pick["choices"]] == [s["speech_id"] for s in view["speeches"]]
    assert downloaded(download).suffix == ".docx"
    a, b, topic, tabs = on.compare_picked([COUNTY, CITY], " 作风 ")
    assert (a, b, topic, tabs.selected) == (COUNTY, CITY, "作风", "compare")
    with pytest.raises(gr.Error):
        on.compare_picked([COUNTY], "作风")


def test_a_formula_link_of_an_outline_opens_the_topic_view(on):
    outline_html, text_html = on.overview(COUNTY)
    assert 'href="#ol-h1"' in outline_html and 'id="ol-h1"' in text_html
    assert render.topic_href("三个一批") in outline_html  # another speech says it too
    tabs, topic = on.open_topic(gr.EventData(None, {"topic": render.topic_href("三个一批")}))
    assert (tabs.selected, topic) == ("topic", "三个一批")
    with pytest.raises(gr.Error):
        on.open_topic(gr.EventData(None, {"topic": "javascript:alert(1)"}))
    assert on.overview(None) == ("", "") and "资料库中没有这篇讲话" in on.overview("nope")[1]


def test_the_chat_and_the_comparison_download_as_word(on, assistant):
    answer = assistant.ask("今年全市经济增长的预期目标是多少？").as_json()
    path = downloaded(on.conversation_docx([{"question": "q", "answer": answer}, {"question": "x", "answer": None}]))
    assert "今年全市经济增长的预期目标" in "".join(p.text for p in docx.Document(path).paragraphs)
    assert on.conversation_docx([])["interactive"] is False
    comparison = assistant.compare(CITY, COUNTY, "经济增长目标").as_json()
    assert downloaded(on.comparison_docx(comparison)).exists()
    assert on.comparison_docx(None)["interactive"] is False


def test_every_study_event_is_a_read(assistant):
    """None of these events writes the library: a reader may call each (web/gradio_guard.py guards the writes)."""
    from web.gradio_guard import LIBRARY_WRITE
    from web.ui import build_ui

    blocks = build_ui(assistant, assistant.settings)
    names = {dep.get("api_name"): dep for dep in blocks.config["dependencies"]}
    for name in ("verify", "topic", "overview", "compare_picked", "open_topic", "conversation_docx",
                 "comparison_docx", "clear_outline"):
        assert name in names and names[name].get("concurrency_id") != LIBRARY_WRITE, name
