"""Faults of the LLM endpoint (issue 6): an OpenAI-compatible server that is slow or down gives a clear message
within SPEECHES_LLM_TIMEOUT (3 s here), and other users are not blocked meanwhile.

The app is the real one (``create_app``) served by uvicorn on a loopback port in a thread, over a real on-disk
library (fake embeddings); the slow LLM is a real HTTP server in a thread.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import SAMPLES, FakeEmbeddings, FakeHTTPServer, free_port, ingest

from answer.service import Assistant
from ingest.store import open_store
from settings import Settings
from web.server import create_app

pytestmark = pytest.mark.slow

FOUND = {"question": "生态环境保护要坚持什么？"}  # needs the LLM
NOT_FOUND = {"question": "火星基地的氧气供应怎么保障？"}  # the relevance gate answers: no LLM


def slow_llm() -> FakeHTTPServer:
    """Accepts every request and answers nothing until released (longer than any timeout here)."""
    return FakeHTTPServer(lambda handler, server: server.release.wait(60))


@pytest.fixture
def serve_app(tmp_path):
    servers = []

    def start(settings: Settings) -> str:
        store = open_store(settings, FakeEmbeddings())
        ingest(store, settings, SAMPLES)
        app = create_app(settings, Assistant(settings, store=store))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.should_exit = True


def _settings(tmp_path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding="fake", llm="openai", openai_base_url=url, llm_timeout=3,
                    _env_file=None)


def test_slow_llm_times_out_with_a_clear_message_and_does_not_block_other_users(tmp_path, serve_app, caplog):
    llm = slow_llm()
    try:
        url = serve_app(_settings(tmp_path, llm.url))
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(httpx.post, f"{url}/api/ask", json=FOUND, timeout=60) for _ in range(2)]
            deadline = time.monotonic() + 20
            while llm.requests < 2:  # both questions are waiting on the LLM now
                assert time.monotonic() < deadline, "the questions never reached the LLM"
                time.sleep(0.05)
            # meanwhile, requests that need no LLM are answered, before either slow question is
            for _ in range(3):
                listed = httpx.get(f"{url}/api/speeches", timeout=10)
                assert listed.status_code == 200 and len(listed.json()) == 3
                other = httpx.post(f"{url}/api/ask", json=NOT_FOUND, timeout=10)
                assert other.status_code == 200 and other.json()["found"] is False
                assert not any(f.done() for f in slow), "a request that needs no LLM waited on the slow LLM"
            for future in slow:
                response = future.result()
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "回答服务暂时不可用，请稍后再试。"
            assert llm.requests == 4  # each question: the 3 s timeout, one retry, then the message; not the LLM's 60 s
            streamed = httpx.post(f"{url}/api/ask/stream", json=FOUND, timeout=60)  # no first line: a plain 503
            assert streamed.status_code == 503, streamed.text
            assert streamed.json()["error"] == "回答服务暂时不可用，请稍后再试。"
            assert "SPEECHES_LLM_TIMEOUT" in caplog.text and llm.url in caplog.text  # the reason, in the log
    finally:
        llm.close()


def test_llm_down_is_named_at_once(tmp_path, serve_app, caplog):
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    url = serve_app(_settings(tmp_path, down))
    response = httpx.post(f"{url}/api/ask", json=FOUND, timeout=60)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "回答服务暂时不可用，请稍后再试。"
    assert down in caplog.text and "not reachable" in caplog.text
    assert httpx.get(f"{url}/api/speeches", timeout=10).status_code == 200
