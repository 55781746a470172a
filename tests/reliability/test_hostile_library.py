"""Hostile input against a real library (issue 6): every bad request gets a clear 4xx with a message, and afterwards
the stored speeches, their texts and the answers are exactly what they were (nothing stored is lost).

The app is the real one (``create_app`` + ``Assistant``) over an on-disk store with fake embeddings; uploads go
through the same function as the Gradio upload (``web.uploads.ingest_uploads``). Unit tests of each guard are in
tests/test_web_api.py, tests/test_web_security.py and tests/ingest/test_readers.py.
"""

from __future__ import annotations

import re
import zipfile

from conftest import HOSTILE, SAMPLES, FakeEmbeddings, ingest
from fastapi.testclient import TestClient

from answer.service import Assistant
from ingest.store import open_store
from settings import Settings
from web.server import create_app
from web.uploads import ingest_uploads

QUESTION = {"question": "生态环境保护要坚持什么？"}


def _snapshot(client: TestClient) -> dict:
    listed = client.get("/api/speeches").json()
    return {s["id"]: (s, client.get(f"/api/speeches/{s['id']}").json()["text"]) for s in listed}


def test_hostile_requests_and_uploads_are_refused_and_nothing_stored_is_lost(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", embedding="fake", llm="extractive", max_upload_mb=1,
                        _env_file=None)
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SAMPLES)
    assistant = Assistant(settings, store=store)
    client = TestClient(create_app(settings, assistant))
    before, answer_before = _snapshot(client), client.post("/api/ask", json=QUESTION).json()
    some_id = next(iter(before))

    bad_requests = [
        ("post", "/api/ask", {"content": b"{\"question\": \"\xe7\xbb\x8f",
                              "headers": {"Content-Type": "application/json"}}, 400),
        ("post", "/api/ask", {"content": b"not json at all", "headers": {"Content-Type": "application/json"}}, 400),
        ("post", "/api/ask", {"json": ["a", "list"]}, 400),
        ("post", "/api/ask", {"json": {"question": "长" * 100_000}}, 400),
        ("post", "/api/ask", {"json": {"question": "增长？", "speech_ids": ["../../etc/passwd"]}}, 404),
        ("post", "/api/ask", {"json": {"question": "增长？", "years": ["二〇二〇", None]}}, 400),
        ("post", "/api/ask", {"json": {"question": "增长？", "history": [{"role": "system", "content": "x"}]}}, 400),
        ("post", "/api/compare", {"json": {"speech_a": some_id, "speech_b": "nope", "topic": "生态"}}, 404),
        ("post", "/api/compare", {"json": {"speech_a": some_id, "speech_b": some_id, "topic": "生态"}}, 400),
        ("post", "/api/compare", {"json": {"speech_a": some_id, "speech_b": "x", "topic": "主" * 5000}}, 400),
        ("get", "/api/speeches/..%2F..%2Fetc%2Fpasswd", {}, 404),
        ("get", "/api/speeches/" + "x" * 5000, {}, 404),
        ("get", "/api/topic?topic=", {}, 400),
        ("post", "/api/verify", {"json": {"text": "\u200b"}}, 400),
        ("post", "/api/export/docx", {"json": {"sentences": "x"}}, 400),
        ("get", "/api/speeches/nope/outline", {}, 404),
        ("post", "/api/feedback", {"json": {"vote": "maybe", "answer": {}}}, 400),
    ]
    for method, path, kwargs, status in bad_requests:
        response = client.request(method, path, **kwargs)
        assert response.status_code == status, (path, kwargs, response.status_code, response.text[:300])
        said = response.json().get("error") or response.json().get("detail")
        assert said and "Traceback" not in response.text, (path, response.text[:300])

    # uploads: oversized, wrong extension, traversal name, a zip bomb disguised as DOCX, binary junk as .txt
    big = tmp_path / "big"
    big.write_bytes("同志们：".encode() * 200_000)
    bomb = tmp_path / "bomb"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * 20_000_000)  # 20 MB of zeros in ~20 kB
    junk = HOSTILE / "binary_junk.txt"
    exe = tmp_path / "exe"
    exe.write_bytes(b"MZ\x90\x00")
    traversal = tmp_path / "t"
    traversal.write_bytes(b"\x00\x01\x02 not a speech")
    results = ingest_uploads(assistant, [(big, "大文件.txt"), (exe, "tool.exe"), (traversal, "../../../etc/passwd.txt"),
                                         (bomb, "讲话.docx"), (junk, "binary_junk.txt"),
                                         (HOSTILE / "not_really.docx", "not_really.docx")],
                             settings.data_dir, settings.max_upload_mb)
    assert [r.ok for r in results] == [False] * 6, [(r.file, r.message) for r in results]
    assert all(r.message for r in results)
    for r in results:  # one plain line each: no technical English, no path, no setting (issue 12, item 8)
        assert not re.search(r"[A-Za-z]{4,}|/|SPEECHES_", r.message.replace(".docx", "").replace(".html", "")
                             .replace(".pdf", "").replace(".txt", "").replace(".md", "")), r.message
    assert not (tmp_path / "etc").exists() and not (settings.data_dir.parent / "etc").exists()
    uploads = settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []

    assert _snapshot(client) == before
    assert client.post("/api/ask", json=QUESTION).json() == answer_before
