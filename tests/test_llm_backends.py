"""The LLM backends against real servers: the bundled model in process, llama.cpp's HTTP server in a subprocess,
and small stdlib HTTP servers that fail in chosen ways. Slow tests share one loaded model (the module cache) and
ask for 32 tokens at most."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from answer.llm import LLMUnavailable, load_chat_model
from answer.llm.local import stream_chat
from settings import Settings

from conftest import ROOT, FakeHTTPServer, stop_process

SYSTEM = "你是讲话材料问答助手。只根据材料回答，用中文，简短。"
QUESTION = [
    SystemMessage(SYSTEM),
    HumanMessage("材料：[1] 今年经济增长目标是保8争9，任务异常艰巨。\n问题：今年的经济增长目标是什么？"),
]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _settings(**values) -> Settings:
    return Settings(_env_file=None, **{"max_answer_tokens": 32, **values})


# -- choosing a backend ------------------------------------------------------------------------------------------


def test_extractive_has_no_model(tmp_path):
    assert load_chat_model(_settings(llm="extractive")) is None


@pytest.mark.parametrize("url", ["localhost:8080/v1", "ftp://127.0.0.1/v1", "http://", "http://127.0.0.1:99999/v1", ""])
def test_malformed_base_url_is_refused_at_load(url):
    with pytest.raises(LLMUnavailable, match="SPEECHES_OPENAI_BASE_URL=.* is not an http"):
        load_chat_model(_settings(llm="openai", openai_base_url=url))


def test_missing_model_name_is_refused_at_load():
    with pytest.raises(LLMUnavailable, match="SPEECHES_OPENAI_MODEL is empty"):
        load_chat_model(_settings(llm="openai", openai_model=" "))


# -- openai backend: failures ------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_named_as_such():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    llm = load_chat_model(_settings(llm="openai", openai_base_url=url))
    with pytest.raises(LLMUnavailable, match=rf"{re.escape(url)} is not reachable \(connection refused\)") as e:
        llm.invoke(QUESTION)  # refused, not timed out
    assert "SPEECHES_LLM=extractive" in str(e.value)
    with pytest.raises(LLMUnavailable, match="not reachable"):
        list(llm.stream(QUESTION))


def _send(handler, status: int, body: bytes, content_type: str = "application/json"):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def http_server():
    servers = []

    def start(reply):
        servers.append(FakeHTTPServer(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_server_error_status_and_body_are_reported(http_server, mode):
    server = http_server(lambda h, s: _send(h, 500, b'{"error": {"message": "model crashed: out of memory"}}'))
    llm = load_chat_model(_settings(llm="openai", openai_base_url=server.url))
    with pytest.raises(LLMUnavailable, match=r"answered HTTP 500: .*model crashed: out of memory") as e:
        llm.invoke(QUESTION) if mode == "invoke" else list(llm.stream(QUESTION))
    assert server.url in str(e.value)


def test_async_calls_are_wrapped_too(http_server):
    server = http_server(lambda h, s: _send(h, 503, b"loading model"))
    llm = load_chat_model(_settings(llm="openai", openai_base_url=server.url))

    async def both():
        with pytest.raises(LLMUnavailable, match="HTTP 503: loading model"):
            await llm.ainvoke(QUESTION)
        with pytest.raises(LLMUnavailable, match="HTTP 503: loading model"):
            async for _ in llm.astream(QUESTION):
                pass

    # in a thread of its own: a session-scoped Playwright browser may hold this thread's event loop
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, both()).result()


def test_wrong_api_key_points_at_the_setting(http_server):
    server = http_server(lambda h, s: _send(h, 401, b'{"error": {"message": "Invalid API Key"}}'))
    llm = load_chat_model(_settings(llm="openai", openai_base_url=server.url))
    with pytest.raises(LLMUnavailable, match=r"HTTP 401: .*Invalid API Key.*SPEECHES_OPENAI_API_KEY"):
        llm.invoke(QUESTION)
    assert server.requests == 1  # 4xx is not retried


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_garbage_answer_is_reported(http_server, mode):
    server = http_server(lambda h, s: _send(h, 200, b"<html>this is not an API</html>", "text/html"))
    llm = load_chat_model(_settings(llm="openai", openai_base_url=server.url))
    with pytest.raises(LLMUnavailable, match=rf"{re.escape(server.url)} sent no OpenAI chat completion"):
        llm.invoke(QUESTION) if mode == "invoke" else list(llm.stream(QUESTION))


def test_silent_server_times_out(http_server):
    server = http_server(lambda h, s: s.release.wait(30))
    llm = load_chat_model(_settings(llm="openai", openai_base_url=server.url, llm_timeout=1))
    with pytest.raises(LLMUnavailable, match=r"did not answer within 1 s \(SPEECHES_LLM_TIMEOUT\)"):
        llm.invoke(QUESTION)
    assert server.requests == 2  # one retry, then give up


# -- local backend: the thread bridge, on a stand-in for xllamacpp's Server ---------------------------------------


class _PushServer:
    """Calls the callback like xllamacpp does (from the calling thread, blocking); remembers what it returned."""

    def __init__(self, chunks, delay=0.0):
        self.chunks, self.delay, self.returned = chunks, delay, []

    def handle_chat_completions(self, request, callback):
        for chunk in self.chunks:
            time.sleep(self.delay)
            self.returned.append(callback(chunk))
            if self.returned[-1]:
                return


def _delta(text):
    return {"choices": [{"delta": {"content": text}, "finish_reason": None}]}


def test_bridge_stops_generation_when_the_consumer_leaves():
    server = _PushServer([_delta(str(i)) for i in range(50)], delay=0.01)
    stream = stream_chat(server, {}, timeout=5)
    assert next(stream) == _delta("0")
    stream.close()
    time.sleep(0.2)
    assert server.returned[-1] is True and len(server.returned) < 50


def test_bridge_gives_up_after_timeout_without_a_token():
    server = _PushServer([_delta("late")], delay=3)
    with pytest.raises(LLMUnavailable, match=r"nothing for 1 s \(SPEECHES_LLM_TIMEOUT\)"):
        list(stream_chat(server, {}, timeout=1))
    assert server.returned == []  # it gave up before the server's first (3 s late) chunk


def test_bridge_reports_llama_cpp_errors():
    error = {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}}
    with pytest.raises(LLMUnavailable, match=r"5000 tokens.*4096 tokens.*SPEECHES_LLM_CONTEXT"):
        list(stream_chat(_PushServer([error]), {}, timeout=5))


# -- local backend: the real model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_llm(llm_model_dir):
    return load_chat_model(_settings(llm="local", model_dir=llm_model_dir))


@pytest.mark.slow
def test_local_streams_an_answer_from_the_passage(local_llm):
    chunks = [c for c in local_llm.stream(QUESTION) if c.content]
    text = "".join(c.content for c in chunks)
    assert len(chunks) > 1
    assert "8" in text  # the passage's target, 保8争9, in whatever words the model chose


@pytest.mark.slow
def test_local_invoke_is_deterministic_and_loaded_once(local_llm, llm_model_dir, monkeypatch):
    from answer.llm import local, model_file

    first = local_llm.invoke(QUESTION)

    def never(*args, **kwargs):
        raise AssertionError("the model file was hashed or loaded again")

    for module, name in ((model_file, "_existing_file_good"), (model_file, "_build"), (local, "_load")):
        monkeypatch.setattr(module, name, never)
    again = load_chat_model(_settings(llm="local", model_dir=llm_model_dir))  # cached: neither rehashed nor reloaded
    second = again.invoke(QUESTION)
    assert first.content == second.content and first.content
    assert first.usage_metadata["output_tokens"] <= 32
    assert second.response_metadata["timings"]["cache_n"] > 0  # the shared prompt was reused


@pytest.mark.slow
def test_local_prompt_too_long_names_the_setting(local_llm):
    with pytest.raises(LLMUnavailable, match="SPEECHES_LLM_CONTEXT"):
        local_llm.invoke([HumanMessage("经济" * 5000)])


@pytest.mark.slow
def test_local_abandoned_stream_leaves_the_model_usable(local_llm):
    stream = local_llm.stream([HumanMessage("写一篇关于春天的文章。")], max_tokens=200)
    next(stream)
    stream.close()
    assert local_llm.invoke(QUESTION).content


# -- openai backend against llama.cpp's own HTTP server --------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_http(llm_model_dir, tmp_path_factory):
    """``python -m answer.llm.serve`` on a free port, serving the same GGUF; yields its base URL."""
    env = {**os.environ, "SPEECHES_MODEL_DIR": str(llm_model_dir), "SPEECHES_LLM_CONTEXT": "2048",
           "SPEECHES_DATA_DIR": str(tmp_path_factory.mktemp("serve"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "answer.llm.serve", "--port", "0", "--api-key", "test-key"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # printed once the model is loaded; "" if it died
        assert line.startswith("listening on http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        yield line.split()[-1] + "/v1"
    finally:
        stop_process(proc, timeout=30)


@pytest.mark.slow
def test_openai_backend_streams_and_invokes_against_llama_cpp_http(llama_http):
    llm = load_chat_model(_settings(llm="openai", openai_base_url=llama_http, openai_api_key="test-key"))
    chunks = [c.content for c in llm.stream(QUESTION) if c.content]
    assert len(chunks) > 1 and CHINESE.search("".join(chunks))
    answer = llm.invoke(QUESTION)
    assert CHINESE.search(answer.content)
    assert answer.content == "".join(chunks)  # temperature 0


@pytest.mark.slow
def test_openai_backend_honours_max_tokens_and_reports_a_bad_key(llama_http):
    llm = load_chat_model(
        _settings(llm="openai", openai_base_url=llama_http, openai_api_key="test-key", max_answer_tokens=16)
    )
    answer = llm.invoke([HumanMessage("写一篇关于春天的长文章。")])
    assert answer.response_metadata["finish_reason"] == "length"
    wrong = load_chat_model(_settings(llm="openai", openai_base_url=llama_http, openai_api_key="wrong"))
    with pytest.raises(LLMUnavailable, match="HTTP 401.*SPEECHES_OPENAI_API_KEY"):
        wrong.invoke(QUESTION)
