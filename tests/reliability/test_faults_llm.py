"""Faults of the LLM endpoint (issues 6 and 12): with an OpenAI-compatible server that is slow or down, a question
is answered with its evidence alone within SPEECHES_LLM_TIMEOUT (3 s here), marked ``degraded`` with a one-line
reason; other users are not blocked meanwhile; once the server is back, the LLM is used again.

The app is the real one: ``create_app`` served by uvicorn on a loopback port in a thread, over a real on-disk library
(fake embeddings), and, for the endpoint going down and up, a ``python app.py`` process; the LLM endpoints are real
HTTP servers in threads.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from conftest import SAMPLES, FakeEmbeddings, FakeHTTPServer, free_port, ingest
from reliability_helpers import start_app, stop

from answer.service import Assistant
from answer.wording import phrase
from ingest.store import open_store
from settings import Settings
from web.server import create_app

pytestmark = pytest.mark.slow

FOUND = {"question": "全市森林覆盖率达到了多少？"}  # quotes found: the LLM is asked to sum them up
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
                assert response.status_code == 200, response.text
                answer = response.json()
                assert answer["found"] and answer["degraded"] and "46%" in answer["answer"], answer
                assert answer["degraded_reason"] == phrase("zh", "llm_timeout")  # one line, no URL or setting
            assert llm.requests == 4  # each question: the 3 s timeout, one retry, then the evidence alone
            lines = [json.loads(line) for line in httpx.post(f"{url}/api/ask/stream", json=FOUND,
                                                             timeout=60).text.splitlines()]
            assert "evidence" in lines[0] and lines[-1]["answer"]["degraded"] is True
            assert "SPEECHES_LLM_TIMEOUT" in caplog.text and llm.url in caplog.text  # the reason, in the log
    finally:
        llm.close()


def chat_completion(text: str):
    """A reply of an OpenAI-compatible server streaming ``text`` as one chat completion chunk."""
    def reply(handler, server):
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
        end = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        body = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in (chunk, end)) + "data: [DONE]\n\n"
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(body.encode())
    return reply


def test_llm_down_answers_with_the_evidence_and_uses_the_llm_again_once_it_is_back(tmp_path):
    """A real ``python app.py`` (real embeddings, the sample speeches) against an OpenAI-compatible endpoint that is
    down, then up, then down again: the evidence alone with a one-line notice, then the model's synthesis, then the
    evidence alone again; the technical reason goes to the app's log, never to the user."""
    port = free_port()
    down = f"http://127.0.0.1:{port}/v1"  # nothing listens there yet
    log = tmp_path / "app.log"
    process, url = start_app(tmp_path / "data", log, SPEECHES_LLM="openai", SPEECHES_OPENAI_BASE_URL=down,
                             SPEECHES_LLM_TIMEOUT="5")
    try:
        response = httpx.post(f"{url}/api/ask", json=FOUND, timeout=60)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["degraded"] and answer["degraded_reason"] == phrase("zh", "llm_unavailable")
        assert answer["found"] and "46%" in answer["answer"] and down not in response.text
        assert down in log.read_text(errors="replace")  # the reason, in the log
        lines = [json.loads(line) for line in httpx.post(f"{url}/api/ask/stream", json=FOUND, timeout=60).text
                 .splitlines() if line.strip()]
        assert "evidence" in lines[0] and lines[-1]["answer"]["degraded"] is True
        back = FakeHTTPServer(chat_completion("森林覆盖率达到46%[1]。"), port=port)
        try:
            again = httpx.post(f"{url}/api/ask", json=FOUND, timeout=60).json()
            assert back.requests == 1 and not again["degraded"] and again["degraded_reason"] is None
            assert again["answer"].endswith("森林覆盖率达到46%[1]。") and again["unsupported_sentences"] == []
        finally:
            back.close()
        gone = httpx.post(f"{url}/api/ask", json=FOUND, timeout=60).json()  # down again
        assert gone["degraded"] and gone["found"] and "46%" in gone["answer"]
    finally:
        stop(process)
