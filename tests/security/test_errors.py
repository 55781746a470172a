"""Issue 11, finding 7: one error shape. Every refusal of the JSON API is a 4xx ``{"error": "..."}`` naming what was
wrong (never a 500, a RecursionError, FastAPI's ``{"detail"}`` or a 200 for nonsense), replayed over raw HTTP against
a real ``python app.py``; the OpenAPI schema behind /docs lists only the responses the API sends."""

from __future__ import annotations

import json

import httpx
import pytest


pytestmark = pytest.mark.slow
QUESTION = "生态环境保护要坚持什么？"


@pytest.fixture(scope="module")
def url(open_app) -> str:
    return open_app.url


@pytest.fixture(scope="module")
def speech_id(url) -> str:
    return httpx.get(f"{url}/api/speeches", timeout=30).json()[0]["id"]


def assert_refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert list(body) == ["error"] and body["error"].strip(), body
    assert "Traceback" not in body["error"] and "\n" not in body["error"], body
    for word in words:
        assert word in body["error"], (word, body)


Q = QUESTION.encode()
RAW_ASK_BODIES = {
    "truncated UTF-8 inside a string": b'{"question": "\xe7\xbb\x8f"}'[:-3] + b'\xe7\xbb"}',
    "body cut in the middle of a character": b'{"question": "\xe7\xbb\x8f' + b"\xe6\xb5",
    "truncated JSON": b'{"question": "' + Q,
    "deeply nested JSON": b'{"question": "' + Q + b'", "history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested a little less deeply": b'{"question": "' + Q + b'", "years": ' + b"[" * 900 + b"]" * 900 + b"}",
    "a lone surrogate in the question": b'{"question": "\\ud800' + Q + b'"}',
    "a lone surrogate in the history":
        b'{"question": "' + Q + b'", "history": [{"role": "user", "content": "\\udfff"}]}',
    "a lone surrogate in a speech id": b'{"question": "' + Q + b'", "speech_ids": ["\\ud83d"]}',
}
RAW_WORDS = {"truncated UTF-8 inside a string": "UTF-8", "body cut in the middle of a character": "UTF-8",
             "truncated JSON": "JSON", "deeply nested JSON": "嵌套", "nested a little less deeply": "years",
             "a lone surrogate in the question": "question 里有无效的字符",
             "a lone surrogate in the history": "history.0.content 里有无效的字符",
             "a lone surrogate in a speech id": "speech_ids.0 里有无效的字符"}


@pytest.mark.parametrize("case", list(RAW_ASK_BODIES))
def test_malformed_bodies_are_a_400_with_a_reason(url, case):
    response = httpx.post(f"{url}/api/ask", content=RAW_ASK_BODIES[case],
                          headers={"Content-Type": "application/json"}, timeout=60)
    assert_refused(response, 400, RAW_WORDS[case])


ASK_BODIES = {  # case: (body, words the error names)
    "zero-width characters only": ({"question": "\u200b\u200b\ufeff\u2060"}, "请输入问题"),
    "blanks and a Hangul filler only": ({"question": "\u3000 \t\u00a0\u3164"}, "请输入问题"),
    "year 1e30": ({"question": QUESTION, "years": [1e30, None]}, "years"),
    "year 1899": ({"question": QUESTION, "years": [1899, None]}, "1900"),
    "year 2101": ({"question": QUESTION, "years": [None, 2101]}, "2100"),
    "a year as text": ({"question": QUESTION, "years": ["2020", None]}, "years"),
    "one year only": ({"question": QUESTION, "years": [2020]}, "years"),
    "a number as the question": ({"question": 5}, "question"),
    "a list as the question": ({"question": [QUESTION]}, "question"),
    "text as the history": ({"question": QUESTION, "history": "earlier"}, "history"),
    "a number as history content": ({"question": QUESTION, "history": [{"role": "user", "content": 7}]}, "content"),
    "text as the speech ids": ({"question": QUESTION, "speech_ids": "all"}, "speech_ids"),
    "an unknown field": ({"question": QUESTION, "top_k": 1000}, "top_k"),
    "an unknown history field": ({"question": QUESTION, "history": [{"role": "user", "content": "x", "weight": 9}]},
                                 "weight"),
    "a list as the body": (["a", "list"], "body"),
}


@pytest.mark.parametrize("case", list(ASK_BODIES))
def test_nonsense_is_a_400_naming_what_was_wrong(url, case):
    body, words = ASK_BODIES[case]
    for path in ("/api/ask", "/api/ask/stream"):
        assert_refused(httpx.post(f"{url}{path}", json=body, timeout=60), 400, words)


def test_compare_topic_verify_export_and_feedback_refuse_the_same_way(url, speech_id):
    other = "nope"
    for body, words in [({"speech_a": speech_id, "speech_b": other, "topic": "\u200b"}, "请输入主题"),
                        ({"speech_a": speech_id, "speech_b": other, "topic": "生态", "extra": 1}, "extra"),
                        ({"speech_a": speech_id, "speech_b": "", "topic": "生态"}, "speech_b")]:
        assert_refused(httpx.post(f"{url}/api/compare", json=body, timeout=60), 400, words)
    surrogate = b'{"speech_a": "x", "speech_b": "y", "topic": "\\udc00"}'
    assert_refused(httpx.post(f"{url}/api/compare", content=surrogate, headers={"Content-Type": "application/json"},
                              timeout=60), 400, "topic 里有无效的字符")
    assert_refused(httpx.get(f"{url}/api/topic", params={"topic": "\u200b\u2060"}, timeout=60), 400, "请输入主题")
    assert_refused(httpx.post(f"{url}/api/verify", json={"text": "\u3000\u200b"}, timeout=60), 400,
                   "请输入待核对的文字")
    assert_refused(httpx.post(f"{url}/api/verify", json={"text": "“引文”", "speech_ids": []}, timeout=60), 400,
                   "speech_ids")
    assert_refused(httpx.post(f"{url}/api/export/docx", json={"topic": "x"}, timeout=60), 400,
                   "请求体不是可导出的结果")
    assert_refused(httpx.post(f"{url}/api/export/docx", json={"sentences": [{"text": "x", "status": "maybe"}]},
                              timeout=60), 400, "status")
    assert_refused(httpx.post(f"{url}/api/feedback", json={"vote": "up", "answer": {}, "user": "x"}, timeout=60),
                   400, "user")


def test_unknown_routes_and_methods_answer_in_the_same_shape(url):
    assert_refused(httpx.get(f"{url}/api/ask", timeout=30), 405, "POST")
    assert_refused(httpx.delete(f"{url}/api/speeches", timeout=30), 405, "GET")
    assert_refused(httpx.get(f"{url}/api/no-such-thing", timeout=30), 404, "/api/no-such-thing")


def test_after_all_that_a_normal_question_is_answered(url):
    response = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 200 and response.json()["found"]


def test_the_openapi_schema_lists_only_responses_the_api_sends(url):
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    sent = {"/api/ask": {"200", "400", "404", "413", "503"}, "/api/ask/stream": {"200", "400", "404", "413", "503"},
            "/api/compare": {"200", "400", "404", "413", "503"},
            "/api/compare/stream": {"200", "400", "404", "413", "503"},
            "/api/speeches": {"200", "503"}, "/api/speeches/{speech_id}": {"200", "404", "503"},
            "/api/feedback": {"200", "400", "413"}, "/api/verify": {"200", "400", "413", "503"},
            "/api/topic": {"200", "400", "503"}, "/api/speeches/{speech_id}/outline": {"200", "404", "503"},
            "/api/export/docx": {"200", "400", "413"}}
    documented = {path: set(op["responses"]) for path, ops in spec["paths"].items() for op in ops.values()}
    assert documented == sent
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "422" not in json.dumps(spec)
