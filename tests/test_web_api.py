"""The HTTP API, the embed and widget files and the API docs, against a fake Assistant; what the API refuses, against
the real one over a small real library (``real_client``). The browser tests run the real one too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from conftest import SAMPLES, FakeEmbeddings, ingest
from web_fakes import CITY, COUNTY, FakeAssistant

from answer.llm.errors import LLMUnavailable
from answer.service import Assistant
from answer.types import Answer, Citation, Comparison, SpeechSide
from ingest.store import listing_json
from ingest.store import open_store
from settings import Settings
from web import render
from web.api import AnswerOut, ComparisonOut, SpeechOut
from web.server import STATIC, create_app


@pytest.fixture
def assistant() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
def web_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None)


@pytest.fixture
def client(web_settings, assistant) -> TestClient:
    return TestClient(create_app(web_settings, assistant))


@pytest.fixture(scope="module")
def real_client(tmp_path_factory) -> TestClient:
    """The app over the real Assistant and a small real library: the samples in Chroma on disk (fake embeddings),
    answered without an LLM."""
    folder = tmp_path_factory.mktemp("real-api")
    settings = Settings(data_dir=folder / "data", embedding="fake", llm="extractive", _env_file=None)
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    return TestClient(create_app(settings, Assistant(settings, store=store)))


SAMPLE_CITY, SAMPLE_COUNTY = "2025-city-work-meeting", "2024-county-congress-closing"


def ndjson(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


# -- the same JSON as the CLI -----------------------------------------------------------------------------------


def test_speeches_are_listed_as_ingest_list_json(client, assistant):
    response = client.get("/api/speeches")
    assert response.status_code == 200
    assert response.json() == listing_json(assistant.store.list_speeches())


def test_ask_returns_the_answer_json_of_the_cli(client, assistant):
    response = client.post("/api/ask", json={"question": "今年的增长目标是多少？"})
    assert response.status_code == 200
    assert response.json() == assistant.answer("今年的增长目标是多少？").as_json()


def test_ask_passes_history_speech_filter_and_years(client, assistant):
    history = [{"role": "user", "content": "增长目标？"},
               {"role": "assistant", "content": "5%左右。[1]", "citations": [{"speech_id": CITY}]}]
    body = {"question": "那去年呢？", "history": history, "speech_ids": [CITY], "years": [2024, None]}
    assert client.post("/api/ask", json=body).status_code == 200
    assert assistant.calls[-1] == ("ask", "那去年呢？", history, [CITY], (2024, None))


def test_ask_stream_sends_deltas_then_the_answer_with_its_markdown(client, assistant):
    response = client.post("/api/ask/stream", json={"question": "增长目标？"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson(response)
    deltas = [line["delta"] for line in lines[:-1]]
    assert len(deltas) == 2 and "".join(deltas) == "今年全市经济增长的预期目标是5%左右。[1]"
    assert lines[-1]["answer"] == assistant.answer("增长目标？").as_json()
    assert lines[-1]["markdown"] == render.answer_markdown(lines[-1]["answer"])


def test_compare_returns_the_comparison_json_of_the_cli(client, assistant):
    response = client.post("/api/compare", json={"speech_a": CITY, "speech_b": COUNTY, "topic": "增长目标"})
    assert response.status_code == 200
    assert response.json() == assistant.comparison(CITY, COUNTY, "增长目标").as_json()
    streamed = ndjson(client.post("/api/compare/stream", json={"speech_a": CITY, "speech_b": COUNTY, "topic": "增长"}))
    assert streamed[0] == {"delta": "各自的论述："}
    assert streamed[-1]["comparison"]["speeches"]["B"]["speech_id"] == COUNTY


def test_one_speech_with_its_text(client, assistant):
    body = client.get(f"/api/speeches/{CITY}").json()
    assert body["speech"]["id"] == CITY and body["text"] == assistant.store.speech_text(CITY)
    assert client.get("/api/topic-strength", params={"topic": "营商环境"}).status_code == 404  # the old chart: gone


# -- errors: one friendly line, a status, never a traceback -------------------------------------------------------


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("ask", {"question": "   "}, 400, "请输入问题。"),
        ("ask", {"question": "\u200b\u3000\u3164"}, 400, "请输入问题。"),
        ("ask", {"question": "问" * 2001}, 400, "问题太长了（2001 字），最多 2000 字。"),
        ("ask", {"question": "增长？", "years": [2025, 2020]}, 400,
         "年份范围颠倒了：起始年份 2025 晚于截止年份 2020。"),
        ("ask", {"question": "增长？", "years": [1800, None]}, 400,
         "years"),
        ("ask", {"question": "增长？", "speech_ids": ["no-such-speech"]}, 404, "no-such-speech"),
        ("ask", {"question": "增长？", "history": [{"role": "robot", "content": "你好"}]}, 400,
         "history.0.role 的取值不对"),
        ("ask", {"question": 5}, 400, "请求有误：question 的类型不对。"),
        ("ask", {}, 400, "请求有误：缺少 question。"),
        ("compare", {"speech_a": SAMPLE_CITY, "speech_b": SAMPLE_CITY, "topic": "增长"}, 400,
         "请选择两篇不同的讲话来比较。"),
        ("compare", {"speech_a": SAMPLE_CITY, "speech_b": "nope", "topic": "增长"}, 404, "nope"),
        ("compare", {"speech_a": SAMPLE_CITY, "speech_b": SAMPLE_COUNTY, "topic": " "}, 400, "请输入主题。"),
    ],
)
def test_bad_input_is_a_400_or_404_with_a_message(real_client, path, body, status, words):
    response = real_client.post(f"/api/{path}", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert "Traceback" not in response.text and "the question" not in response.text
    streamed = real_client.post(f"/api/{path}/stream", json=body)  # refused before its first line: the same
    assert (streamed.status_code, streamed.json()) == (status, response.json())


def test_the_same_requests_well_formed_are_answered(real_client):
    asked = real_client.post("/api/ask", json={"question": "经济增长目标是多少？", "years": [2025, None],
                                               "speech_ids": [SAMPLE_CITY]})
    assert asked.status_code == 200 and {c["speech_id"] for c in asked.json()["citations"]} == {SAMPLE_CITY}
    compared = real_client.post("/api/compare", json={"speech_a": SAMPLE_CITY, "speech_b": SAMPLE_COUNTY,
                                                      "topic": "经济增长"})
    assert compared.status_code == 200 and compared.json()["speeches"]["B"]["speech_id"] == SAMPLE_COUNTY



def test_malformed_json_is_said_plainly(client):
    response = client.post("/api/ask", content=b'{"question": "x",,}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": "请求有误：请求体不是有效的 JSON。"}


def test_an_unreachable_llm_is_a_503_and_ends_a_stream_with_an_error_line(client, assistant):
    assistant.error = LLMUnavailable("cannot reach the LLM server at http://127.0.0.1:8080/v1 "
                                     "(SPEECHES_OPENAI_BASE_URL)")
    response = client.post("/api/ask", json={"question": "增长？"})
    assert response.status_code == 503
    assert response.json()["error"] == "回答服务暂时不可用，请稍后再试。"  # the URL and the setting: in the log
    lines = ndjson(client.post("/api/ask/stream", json={"question": "增长？"}))
    assert lines[0] == {"delta": "今年全市经济增长的预期目标是"}
    assert lines[-1]["status"] == 503 and "回答服务暂时不可用" in lines[-1]["error"]


def test_an_unexpected_error_is_a_500_without_details(client, assistant):
    assistant.error = RuntimeError("secret internal detail")
    response = client.post("/api/compare", json={"speech_a": CITY, "speech_b": COUNTY, "topic": "增长"})
    assert response.status_code == 500
    assert "secret" not in response.text and response.json()["error"]


def test_unknown_speech_is_404(real_client):
    response = real_client.get("/api/speeches/nope")
    assert response.status_code == 404 and "nope" in response.json()["error"]


# -- feedback ----------------------------------------------------------------------------------------------------


def test_feedback_is_appended_locally_with_question_answer_and_citations(client, assistant, web_settings):
    answer = client.post("/api/ask", json={"question": "增长？"}).json()
    assert client.post("/api/feedback", json={"vote": "up", "answer": answer}).json() == {"ok": True}
    assert client.post("/api/feedback", json={"vote": "down", "answer": answer}).status_code == 200
    assert client.post("/api/feedback", json={"vote": "meh", "answer": answer}).status_code == 400
    records = [json.loads(line) for line in (web_settings.data_dir / "feedback.jsonl").read_text().splitlines()]
    assert [r["vote"] for r in records] == ["up", "down"]
    assert records[0]["question"] == "增长？" and records[0]["answer"] == answer["answer"]
    assert records[0]["citations"][0]["speech_id"] == CITY and records[0]["timestamp"]


# -- the documented schema is the one returned --------------------------------------------------------------------


def test_the_documented_schemas_match_what_the_answer_types_serialise():
    cited = Citation("1", CITY, "标题", None, 0, 4, "今年全市", "一、", 0.5)
    AnswerOut.model_validate(Answer("q", "q", "a[1]", True, [cited], [cited], ["s"], ["9"], "local", 0.3).as_json())
    side = SpeechSide("A", CITY, "标题", "2025-02-10", True, [Citation("A1", CITY, "标题", None, 0, 4, "今年全市")])
    other = SpeechSide("B", COUNTY, "标题", None, False, [])
    ComparisonOut.model_validate(Comparison("t", side, other, "x[A1]", True, side.passages).as_json())
    assistant = FakeAssistant()
    for speech in listing_json(assistant.store.list_speeches()):
        SpeechOut.model_validate(speech)


def test_openapi_documents_the_api_and_docs_are_our_own_page(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/compare", "/api/speeches"} <= set(spec["paths"])
    assert "AnswerOut" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "app-static/docs.js" in docs.text
    assert not re.search(r"(src|href)=\"(https?:)?//", docs.text)


# -- the embed page and the widget ---------------------------------------------------------------------------------


def test_embed_page_widget_script_and_styles_are_served_from_the_repo(client):
    embed = client.get("/embed")
    assert embed.status_code == 200 and embed.headers["content-type"].startswith("text/html")
    assert 'src="app-static/embed.js"' in embed.text  # relative: works under a root path
    config = json.loads(embed.text.split('<script type="application/json" id="embed-config">')[1].split("</script>")[0])
    assert config == {"flagged_title": render.FLAGGED_TITLE, "flagged_note": render.FLAGGED_NOTE,
                      "snippet_chars": render.SNIPPET_CHARS, "stopped_note": render.STOPPED_NOTE,
                      "speech_label": {"title": "《{title}》", "dated": "（{date}）"}}  # defined once
    widget = client.get("/widget.js")
    assert widget.headers["content-type"].startswith("text/javascript")
    assert widget.text == (STATIC / "widget.js").read_text(encoding="utf-8")
    assert client.get("/widget.css").headers["content-type"].startswith("text/css")
    for name in ("embed.js", "embed.css", "docs.js", "docs.css", "ui.css"):
        assert client.get(f"/app-static/{name}").status_code == 200


def test_no_static_file_or_template_loads_anything_from_the_internet():
    url = re.compile(r"https?://[^\s'\"<>)]+")
    for path in [*Path(STATIC).iterdir(), *(Path(STATIC).parent / "templates").iterdir()]:
        found = [u for u in url.findall(path.read_text(encoding="utf-8")) if u != "http://www.w3.org/2000/svg"
                 and "intranet" not in u]
        assert not found, f"{path.name} refers to {found}"


def test_the_gradio_ui_is_served_at_the_root(client):
    page = client.get("/")
    assert page.status_code == 200 and "gradio" in page.text.lower()
    config = client.get("/config").json()
    assert config["title"] == "讲话助手"


@pytest.mark.parametrize("path", ["/embed", "/widget.js", "/widget.css", "/docs"])
def test_head_answers_like_get(client, path):
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content)) and head.content == b""
