"""Faults of the Chroma server (issue 6): the app survives a server restart, and two app processes share one
library through it, keyword index included.

Each test starts its own ``chroma run`` on a free loopback port with its own folder.
"""

from __future__ import annotations


import httpx
import pytest
from conftest import SAMPLES, ChromaServer, FakeEmbeddings, ingest
from fastapi.testclient import TestClient
from reliability_helpers import NEW_SPEECH, start_app, stop

from answer.service import Assistant
from ingest.store import open_store
from settings import Settings
from web.server import create_app

pytestmark = pytest.mark.slow

QUESTION = {"question": "生态环境保护要坚持什么？"}


@pytest.fixture
def chroma(tmp_path):
    with ChromaServer(tmp_path / "chroma-server", tmp_path / "chroma-server.log") as server:
        yield server


def test_chroma_server_restart_gives_a_clear_error_then_recovers_without_restarting_the_app(tmp_path, chroma, caplog):
    settings = Settings(data_dir=tmp_path / "data", embedding="fake", llm="extractive", chroma_url=chroma.url,
                        _env_file=None)
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    client = TestClient(create_app(settings, Assistant(settings, store=store)))
    before = client.post("/api/ask", json=QUESTION)
    assert before.status_code == 200 and before.json()["found"]
    listed = client.get("/api/speeches").json()

    chroma.stop()
    for method, path, body in (("post", "/api/ask", QUESTION), ("get", "/api/speeches", None),
                               ("post", "/api/compare", {"speech_a": listed[0]["id"], "speech_b": listed[1]["id"],
                                                         "topic": "生态"}),
                               ("get", "/api/topic?topic=生态", None),
                               ("post", "/api/verify", {"text": "“今年全市经济增长的预期目标是5%左右”"}),
                               ("get", f"/api/speeches/{listed[0]['id']}/outline", None)):
        down = client.request(method, path, json=body)
        assert down.status_code == 503, (path, down.text)
        assert down.json()["error"] == "资料库暂时无法使用，请稍后再试。"  # the server's URL goes to the log
    streamed = client.post("/api/ask/stream", json=QUESTION)  # failed before its first line: a plain 503
    assert streamed.status_code == 503 and streamed.json()["error"] == "资料库暂时无法使用，请稍后再试。", streamed.text
    assert chroma.url in caplog.text  # for whoever runs the app

    chroma.start()  # same path, same port; the app is not restarted
    after = client.post("/api/ask", json=QUESTION)
    assert after.status_code == 200, after.text
    assert after.json()["answer"] == before.json()["answer"]
    assert client.get("/api/speeches").json() == listed  # nothing lost


def test_two_app_processes_share_one_library_and_keyword_index(tmp_path, chroma):
    """Upload through app A (the Gradio upload, as a user does); app B, with its own data dir (its own keyword
    index files), lists the new speech and its keyword search finds it."""
    from gradio_client import Client, handle_file

    env = {"SPEECHES_CHROMA_URL": chroma.url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    app_a, url_a = start_app(tmp_path / "a" / "data", tmp_path / "app-a.log", **env)  # adds the samples
    try:
        app_b, url_b = start_app(tmp_path / "b" / "data", tmp_path / "app-b.log", **env)
        try:
            before_b = httpx.get(f"{url_b}/api/speeches", timeout=30).json()
            assert len(before_b) == 3  # A's samples; B found the library filled and added nothing
            # B builds its keyword index now, before the upload, so the upload must reach it by sync
            warm = httpx.post(f"{url_b}/api/ask", json={"question": "琥珀湾跨海隧道工程什么时候开工？"}, timeout=120)
            assert warm.status_code == 200
            assert all(c["speech_id"] != "2026-amber-bay" for c in warm.json()["context"])

            speech = tmp_path / "2026-amber-bay.txt"
            speech.write_text(NEW_SPEECH, encoding="utf-8")
            Client(url_a + "/", verbose=False).predict([handle_file(str(speech))], api_name="/upload")

            listed = {s["id"] for s in httpx.get(f"{url_b}/api/speeches", timeout=30).json()}
            assert listed == {s["id"] for s in before_b} | {"2026-amber-bay"}
            asked = httpx.post(f"{url_b}/api/ask", json={"question": "琥珀湾跨海隧道工程什么时候开工？"}, timeout=120)
            assert asked.status_code == 200, asked.text
            answer = asked.json()
            assert answer["found"], answer
            assert answer["context"][0]["speech_id"] == "2026-amber-bay", answer["context"]
            assert "6月底前" in answer["answer"]
            assert not (tmp_path / "b" / "data" / "chroma").exists()  # B used the server, not a disk store
        finally:
            stop(app_b)
    finally:
        stop(app_a)
