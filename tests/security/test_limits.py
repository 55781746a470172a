"""Issue 11, finding 3: what one request may cost, replayed against a real ``python app.py`` (extractive answers,
the real embedder) over raw HTTP and gradio_client. A body over SPEECHES_MAX_BODY_KB is a 413 ``{"error"}`` at
once, declared or chunked, on our routes and Gradio's; an over-long history is a 400 at once, and the chat sends
only what fits; the text retrieval embeds is capped; /api/feedback takes only its schema. The app is the
package's ``open_app`` (tests/security/conftest.py: no credential configured). How long a normal
question waits behind the largest allowed request: bench/limits.py."""

from __future__ import annotations

import json
import random
import socket

import httpx
import pytest


pytestmark = pytest.mark.slow
QUESTION = "生态环境保护要坚持什么？"
TIMEOUT = 60  # seconds a refusal may take before the test gives up: today's code answered this attack after 262 s


def raw_post(url: str, path: str, head: dict[str, str], body: bytes = b"", chunks: list[bytes] | None = None,
             ) -> tuple[int, dict]:
    """POST over a plain socket: the headers as given, then ``body`` or ``chunks`` (chunked encoding); the
    status and the JSON body of the response."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as conn:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
                 *(f"{k}: {v}" for k, v in head.items())]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            for chunk in chunks or []:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if chunks is not None:
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may stop reading once it has answered
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
            got = conn.recv(65536)
            if not got:
                break
            reply += got
    head_bytes, _, payload = reply.partition(b"\r\n\r\n")
    return int(head_bytes.split()[1]), json.loads(payload)


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1


JSON_ROUTES = ["/api/ask", "/api/ask/stream", "/api/compare", "/api/feedback", "/gradio_api/queue/join",
               "/gradio_api/call/ask", "/gradio_api/run/ask"]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(open_app, path):
    url = open_app.url
    status, body = raw_post(url, path, {"Content-Length": str(2 * 1024 * 1024)})  # nothing follows the headers
    assert status == 413 and "SPEECHES_MAX_BODY_KB" in body["error"], body


@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback", "/gradio_api/queue/join"])
def test_a_chunked_body_over_the_limit_is_refused(open_app, path):
    url = open_app.url
    chunk = json.dumps({"question": "长" * 100_000}).encode()  # ~300 KB, well-formed on its own
    status, body = raw_post(url, path, {"Transfer-Encoding": "chunked"}, chunks=[chunk] * 8)
    assert status == 413 and "SPEECHES_MAX_BODY_KB" in body["error"], body


def test_gradio_file_uploads_keep_their_own_limit(open_app, tmp_path):
    """The upload route takes multipart files of up to SPEECHES_MAX_UPLOAD_MB each: over the JSON limit is fine."""
    url = open_app.url
    speech = tmp_path / "长讲话.txt"
    speech.write_text("同志们：今天召开大会。\n" * 120_000, encoding="utf-8")  # 3.2 MB
    with speech.open("rb") as handle:
        response = httpx.post(f"{url}/gradio_api/upload", files={"files": (speech.name, handle, "text/plain")},
                              timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()[0].endswith("长讲话.txt"), response.text


def long_history(chars_per_message: int, messages: int = 2) -> list[dict]:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    return [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "".join(rng.choices(alphabet, k=chars_per_message))} for i in range(messages)]


def test_the_issue_attack_a_700_kb_history_is_refused_and_a_normal_question_is_answered(open_app):
    url = open_app.url
    attack = json.dumps({"question": "那呢？", "history": long_history(120_000)}, ensure_ascii=False).encode()
    assert 700_000 < len(attack) < 1024 * 1024  # 240,000 characters of history, under the body limit
    refused = httpx.post(f"{url}/api/ask", content=attack, headers={"Content-Type": "application/json"},
                         timeout=TIMEOUT)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "对话太长了（超过 24000 字），请开始新对话。"
    turns = httpx.post(f"{url}/api/ask", json={"question": "那呢？", "history": long_history(10, 40)}, timeout=TIMEOUT)
    assert turns.status_code == 400, turns.text
    assert turns.json()["error"] == "对话太长了（40 条），最多带上最近的 20 条。"
    # the sample that answers it, chosen: other tests may have added speeches of their own, which set samples aside
    normal = httpx.post(f"{url}/api/ask", json={"question": QUESTION, "speech_ids": ["2023-ecology-forum"]},
                        timeout=TIMEOUT)
    assert normal.status_code == 200 and normal.json()["found"], normal.text


def test_the_text_retrieval_embeds_is_capped_keeping_the_question_words(open_app):
    url = open_app.url
    history = long_history(1000, 20)  # 20 messages, 20,000 characters: within the limits
    response = httpx.post(f"{url}/api/ask", json={"question": "那干部作风呢？", "history": history}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    standalone = response.json()["standalone_question"]
    assert len(standalone) <= 100 and standalone.endswith("干部作风"), standalone  # SPEECHES_MAX_QUERY_CHARS
    assert standalone.startswith(history[-2]["content"][:90])  # the previous question fills the rest


def test_the_chat_sends_only_the_recent_turns_that_fit(open_app):
    """Twelve questions in one Gradio chat session: 24 messages of history would be refused, so the chat sends the
    last ones that fit, and every question is answered."""
    from gradio_client import Client

    url = open_app.url
    client = Client(url + "/", verbose=False, httpx_kwargs={"timeout": httpx.Timeout(TIMEOUT)})
    messages: list = []
    for n in range(12):
        question = QUESTION if n % 2 == 0 else "那民生实事呢？"
        messages, *_ = client.predict(question, messages, [], None, None, api_name="/ask")
        answer = json.dumps(messages[-1], ensure_ascii=False)
        assert "输入有误" not in answer and "出了点问题" not in answer, (n, answer[:300])
    assert sum(1 for m in messages if m["role"] == "user") == 12


def test_feedback_takes_only_its_schema(open_app):
    url, data_dir = open_app.url, open_app.data_dir
    feedback = data_dir / "feedback.jsonl"
    before = feedback.read_text(encoding="utf-8") if feedback.exists() else ""
    broken = httpx.post(f"{url}/api/feedback", json={"vote": "up", "answer": {"citations": ["x"]}}, timeout=TIMEOUT)
    assert broken.status_code == 400 and "citations" in broken.json()["error"], broken.text
    huge = httpx.post(f"{url}/api/feedback", json={"vote": "up", "answer": {"answer": "长" * 30_000}}, timeout=TIMEOUT)
    assert huge.status_code == 400 and "answer" in huge.json()["error"], huge.text
    status, body = raw_post(url, "/api/feedback", {"Content-Length": str(60 * 1024 * 1024)},
                            b'{"vote":"up","answer":{"q')
    assert status == 413 and body["error"]
    assert (feedback.read_text(encoding="utf-8") if feedback.exists() else "") == before  # nothing was appended

    answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=TIMEOUT).json()
    ok = httpx.post(f"{url}/api/feedback", json={"vote": "down", "answer": answer}, timeout=TIMEOUT)
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert record["vote"] == "down" and record["question"] == QUESTION
    assert record["citations"][0]["speech_id"] == answer["citations"][0]["speech_id"]
