"""Abandoned answers free the LLM (issue 12, item 2): when the client of ``/api/ask/stream``, ``/api/compare/stream``,
the Gradio chat or the embed page goes away, or presses 停止, the generation stops.

The app is a real ``python app.py`` with ``SPEECHES_LLM=openai`` against a fake OpenAI-compatible server that
streams one character every 0.2 s for a minute and records when its client hangs up: an abandoned answer is one
whose LLM connection the app closes, long before the answer would have ended. One test drives the real local model:
an answer abandoned mid-stream stops early, and the next question finds the model free.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import httpx
import pytest
from conftest import FakeHTTPServer
from reliability_helpers import start_app, stop

pytestmark = pytest.mark.slow

QUESTION = "对破坏生态环境的行为要怎么办？"  # a sample answers it (the evidence passes the gate): the LLM is asked
CHUNKS = 300  # one a 0.2 s: a minute of answer
WAIT_S = 30  # how long a test waits for the app to hang up (the fixed app does within about a second)


class SlowLLM:
    """An OpenAI-compatible server streaming ``CHUNKS`` characters slowly; ``hung_up`` holds, per request, how many
    it had sent when the app closed the connection (a request that ran to its end is not there)."""

    def __init__(self) -> None:
        self.hung_up: list[int] = []
        self.changed = threading.Condition()
        self.server = FakeHTTPServer(self._reply)
        self.url = self.server.url

    def _reply(self, handler, server) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        sent = 0
        try:
            for sent in range(CHUNKS):
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "slow",
                         "choices": [{"index": 0, "delta": {"content": "要" if sent else "要坚持"},
                                      "finish_reason": None}]}
                handler.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                handler.wfile.flush()
                if server.release.wait(0.2):
                    return
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
        except OSError:  # the client hung up
            with self.changed:
                self.hung_up.append(sent)
                self.changed.notify_all()

    def wait_hang_up(self, count: int) -> list[int]:
        """Wait (at most WAIT_S) until ``count`` requests were hung up on."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.hung_up) >= count, timeout=WAIT_S)
            return list(self.hung_up)

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def slow_llm():
    llm = SlowLLM()
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, slow_llm):
    home = tmp_path_factory.mktemp("abandoned")
    process, url = start_app(home / "data", home / "app.log", SPEECHES_LLM="openai",
                             SPEECHES_OPENAI_BASE_URL=slow_llm.url, SPEECHES_LLM_TIMEOUT="60")
    yield url
    stop(process)


def read_then_leave(url: str, path: str, body: dict, deltas: int = 3) -> list[dict]:
    """POST a streamed request, read until ``deltas`` text pieces came, then hang up (as ``timeout 3 curl``)."""
    lines = []
    with httpx.Client(timeout=60) as client, client.stream("POST", url + path, json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(json.loads(line))
            if sum("delta" in item for item in lines) >= deltas:
                break
    return lines


def test_a_client_that_leaves_an_answer_stream_stops_the_generation(app, slow_llm):
    before = len(slow_llm.hung_up)
    lines = read_then_leave(app, "/api/ask/stream", {"question": QUESTION})
    assert "要坚持" in "".join(item.get("delta", "") for item in lines)
    hung_up = slow_llm.wait_hang_up(before + 1)
    assert len(hung_up) == before + 1, "the app kept reading the LLM after its client left"
    assert hung_up[-1] < CHUNKS // 2


def test_a_client_that_leaves_a_comparison_stream_stops_the_generation(app, slow_llm):
    listed = httpx.get(f"{app}/api/speeches", timeout=30).json()
    before = len(slow_llm.hung_up)
    read_then_leave(app, "/api/compare/stream",
                    {"speech_a": listed[0]["id"], "speech_b": listed[1]["id"], "topic": "生态环境保护"})
    hung_up = slow_llm.wait_hang_up(before + 1)
    assert len(hung_up) == before + 1 and hung_up[-1] < CHUNKS // 2
    asked = slow_llm.server.requests
    time.sleep(1.5)
    assert slow_llm.server.requests == asked  # and it goes no further: the other speech's summary is never asked


def gradio_dependency(url: str, api_name: str) -> int:
    config = httpx.get(f"{url}/config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def test_a_closed_chat_tab_stops_the_generation(app, slow_llm):
    """The Gradio chat as the browser drives it: join the queue, read its event stream, then close it."""
    fn_index = gradio_dependency(app, "ask")
    session = uuid.uuid4().hex[:10]
    before = len(slow_llm.hung_up)
    with httpx.Client(timeout=60) as client:
        joined = client.post(f"{app}/gradio_api/queue/join",
                             json={"data": [QUESTION, [], [], None, None, None], "fn_index": fn_index,
                                   "session_hash": session, "event_data": None, "trigger_id": None})
        assert joined.status_code == 200, joined.text
        streamed = 0
        with client.stream("GET", f"{app}/gradio_api/queue/data", params={"session_hash": session}) as events:
            for line in events.iter_lines():
                if '"process_generating"' in line and "要坚持" in line:
                    streamed += 1
                    if streamed >= 2:
                        break  # the tab is closed
    hung_up = slow_llm.wait_hang_up(before + 1)
    assert len(hung_up) == before + 1, "the chat kept generating for a closed tab"
    assert hung_up[-1] < CHUNKS // 2


@pytest.mark.browser
@pytest.mark.parametrize("path, box, bot, chip, again", [
    ("/", "#question textarea", "#chatbot", "a.cite-chip", "#regenerate"),
    ("/embed", "#question", ".msg.bot", "button.chip", ".msg.bot button.regenerate"),
], ids=["chat", "embed"])
def test_evidence_first_then_stop_keeps_it_and_regenerate_asks_again(app, slow_llm, page, path, box, bot, chip, again):
    """The evidence (quotes with working chips) shows before the LLM's first word; 停止 stops the generation and
    the evidence stays, the stopped synthesis marked; 重新生成 asks the same question again in its place."""
    page.goto(app + path)
    page.locator(box).fill(QUESTION)
    asked = slow_llm.server.requests
    page.locator("#send").click()
    answer = page.locator(bot).last
    answer.locator(chip).first.wait_for()  # the evidence, with its chips
    answer.filter(has_text="要坚持").wait_for()  # the synthesis streams below it
    assert "「" in answer.inner_text() and slow_llm.server.requests == asked + 1
    for attempt in (1, 2):
        before = len(slow_llm.hung_up)
        page.locator("#stop").click()
        hung_up = slow_llm.wait_hang_up(before + 1)
        assert len(hung_up) == before + 1 and hung_up[-1] < CHUNKS // 2
        answer = page.locator(bot).last
        answer.locator(".stopped-note").wait_for()  # what was shown stays, marked as stopped
        assert answer.locator(chip).count() >= 1  # the evidence stands as the answer
        page.locator("#send").wait_for()  # ready for the next question
        assert page.locator("#stop").is_hidden()
        if attempt == 2:
            break
        page.locator(again).last.click()  # 重新生成: the same question again, in its place
        page.locator(bot).last.locator(".stopped-note").wait_for(state="detached")
        page.locator(bot).last.filter(has_text="要坚持").wait_for()
        assert slow_llm.server.requests == asked + 2
    assert page.locator("#chatbot" if path == "/" else "#messages").inner_text().count(QUESTION) == 1


def test_the_local_model_is_free_for_the_next_question_after_an_abandoned_one(tmp_path, llm_model_dir):
    """With the real model: the first answer is abandoned after its first words; the model stops early (the log
    says after how many tokens: fewer than SPEECHES_MAX_ANSWER_TOKENS) and the next question finds it free (no
    queue line) and is answered."""
    log = tmp_path / "app.log"
    process, url = start_app(tmp_path / "data", log, SPEECHES_LLM="local", SPEECHES_MODEL_DIR=str(llm_model_dir),
                             SPEECHES_MAX_ANSWER_TOKENS="256")
    try:
        question = {"question": "今年全市经济工作的总体要求是什么？请详细说明。"}
        read_then_leave(url, "/api/ask/stream", question, deltas=2)
        deadline = time.monotonic() + 120
        while not (stopped := re.search(r"local model: stopped after (\d+) tokens", log.read_text(errors="replace"))):
            assert time.monotonic() < deadline, "the abandoned answer was not stopped"
            time.sleep(0.2)
        assert int(stopped.group(1)) < 256
        with httpx.Client(timeout=300) as client, \
                client.stream("POST", url + "/api/ask/stream", json={"question": QUESTION}) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
        assert not any("queue" in item for item in lines), lines[:3]  # the model was free
        assert "answer" in lines[-1] and lines[-1]["answer"]["found"], lines[-1]
    finally:
        stop(process)
