"""Issue 11, finding 2: readers read, librarians write. The readers' token (the one every intranet page that embeds
the widget holds) must not upload or delete through any route: Gradio's /gradio_api/call/NAME, queue/join, run/NAME,
the upload route, gradio_client. A librarian (SPEECHES_ADMIN_TOKEN, or a single sign-on user in
SPEECHES_ADMIN_USERS) can; an anonymous caller gets 401. The Library tab's write controls are shown per request.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from gradio_client import Client, handle_file
from web_fakes import CITY, FakeAssistant

from security.conftest import (
    ADMIN,
    ADMIN_AUTH,
    READER,
    READER_AUTH,
    call,
    delete_speech,
    file_data,
    fn_index,
    queue_join,
    queue_result,
    upload_route,
)
from settings import Settings
from web.security import NEED_LIBRARIAN, NO_LIBRARIAN
from web.server import create_app

SAMPLE = "2025-city-work-meeting"


def _speech(tmp_path, name: str) -> tuple:
    path = tmp_path / f"{name}.txt"
    path.write_text(f"在{name}会议上的讲话\n同志们：\n今天研究{name}的有关工作，要抓好落实。\n", encoding="utf-8")
    return path, name


def _write_attempts(app, headers: dict, received_path: str, speech_id: str) -> list[tuple[str, int]]:
    """Every route to the two library writes, with these headers: (route, HTTP status)."""
    config = app.config()
    upload_id, delete_id = fn_index(config, "upload"), fn_index(config, "delete")
    uploaded = [[file_data(received_path)]]
    attempts = [
        ("call/upload", call(app.url, headers, "upload", uploaded)[0]),
        ("call/delete", call(app.url, headers, "delete", [speech_id])[0]),
        ("queue/join upload", queue_join(app.url, headers, upload_id, uploaded).status_code),
        ("queue/join delete", queue_join(app.url, headers, delete_id, [speech_id]).status_code),
    ]
    for route, fn, data in (("run/delete", delete_id, [speech_id]), ("run/overview", delete_id, [speech_id]),
                            ("api/overview", upload_id, uploaded)):
        response = httpx.post(f"{app.url}/gradio_api/{route}", headers=headers, json={"data": data, "fn_index": fn},
                              timeout=60)
        attempts.append((f"{route} fn_index={fn}", response.status_code))
    return attempts


@pytest.mark.slow
def test_anonymous_callers_get_401_everywhere(roles_app, tmp_path):
    path, _ = _speech(tmp_path, "匿名")
    config_ids = roles_app.config()
    for method, route, kwargs in [
        ("GET", "/", {}), ("GET", "/config", {}), ("GET", "/api/speeches", {}), ("GET", f"/api/speeches/{SAMPLE}", {}),
        ("POST", "/gradio_api/upload", {"files": [("files", (path.name, path.read_bytes()))]}),
        ("POST", "/gradio_api/call/delete", {"json": {"data": [SAMPLE]}}),
        ("POST", "/gradio_api/queue/join", {"json": {"data": [SAMPLE], "fn_index": fn_index(config_ids, "delete"),
                                                     "session_hash": "anonymous"}}),
    ]:
        response = httpx.request(method, roles_app.url + route, timeout=30, **kwargs)
        assert response.status_code == 401, (route, response.status_code)
    assert SAMPLE in roles_app.speeches()


@pytest.mark.slow
def test_a_reader_reads_but_cannot_write_through_any_route(roles_app, tmp_path):
    # reading: ask (the API and the Gradio chat), view, feedback
    answer = httpx.post(f"{roles_app.url}/api/ask", headers=READER_AUTH, json={"question": "经济增长目标是多少？"},
                        timeout=60)
    assert answer.status_code == 200
    assert httpx.post(f"{roles_app.url}/api/feedback", headers=READER_AUTH, timeout=30,
                      json={"vote": "up", "answer": answer.json()}).status_code == 200
    assert httpx.get(f"{roles_app.url}/api/speeches/{SAMPLE}", headers=READER_AUTH, timeout=30).status_code == 200
    status, kind, chat = call(roles_app.url, READER_AUTH, "ask", ["经济增长目标是多少？", [], None, None, None, None])
    assert (status, kind) == (200, "complete") and "5%左右" in json.dumps(chat, ensure_ascii=False)

    # writing: a file a librarian uploaded, named by a reader, and the delete event, on every route
    path, name = _speech(tmp_path, "读者上传")
    assert upload_route(roles_app.url, READER_AUTH, path).status_code == 403
    received = upload_route(roles_app.url, ADMIN_AUTH, path).json()[0]
    before = roles_app.speeches(), roles_app.uploads()
    attempts = _write_attempts(roles_app, READER_AUTH, received, SAMPLE)
    assert all(status == 403 for _, status in attempts), attempts
    refusal = httpx.post(f"{roles_app.url}/gradio_api/call/delete", headers=READER_AUTH, json={"data": [SAMPLE]})
    assert refusal.json()["error"].startswith(NEED_LIBRARIAN) and "Bearer" in refusal.json()["error"]
    assert (roles_app.speeches(), roles_app.uploads()) == before and name not in before[0]


@pytest.mark.slow
def test_the_study_tools_are_reads_open_to_readers_and_closed_to_strangers(roles_app):
    """The quote check, the topic view, the outline and the Word export (JSON routes and Gradio events): a reader
    uses each, a caller without the token gets 401 from each, and none changes the library."""
    draft = "书记强调：“今年全市经济增长的预期目标是5%左右。”"
    routes = [("POST", "/api/verify", {"json": {"text": draft}}),
              ("GET", "/api/topic", {"params": {"topic": "经济增长"}}),
              ("GET", f"/api/speeches/{SAMPLE}/outline", {}),
              ("POST", "/gradio_api/call/verify", {"json": {"data": [draft]}}),
              ("POST", "/gradio_api/call/topic", {"json": {"data": ["经济增长"]}})]
    before = roles_app.speeches(), roles_app.uploads()
    for method, route, kwargs in routes:
        refused = httpx.request(method, roles_app.url + route, timeout=60, **kwargs)
        assert refused.status_code == 401, (route, refused.status_code)
    checked = httpx.post(f"{roles_app.url}/api/verify", headers=READER_AUTH, json={"text": draft}, timeout=60)
    assert checked.status_code == 200 and checked.json()["sentences"][0]["status"] == "exact"
    topic = httpx.get(f"{roles_app.url}/api/topic", headers=READER_AUTH, params={"topic": "经济增长"}, timeout=60)
    assert topic.status_code == 200 and topic.json()["speeches"]
    outline = httpx.get(f"{roles_app.url}/api/speeches/{SAMPLE}/outline", headers=READER_AUTH, timeout=60)
    assert outline.status_code == 200 and outline.json()["headings"]
    word = httpx.post(f"{roles_app.url}/api/export/docx", headers=READER_AUTH, json=checked.json(), timeout=60)
    assert word.status_code == 200 and word.content[:2] == b"PK"  # a .docx is a zip
    assert httpx.post(f"{roles_app.url}/api/export/docx", json=checked.json(), timeout=60).status_code == 401
    for api_name, data, words in [("verify", [draft], "一字不差"), ("topic", ["经济增长"], "topic-speech")]:
        status, kind, shown = call(roles_app.url, READER_AUTH, api_name, data)
        assert (status, kind) == (200, "complete") and words in json.dumps(shown, ensure_ascii=False), api_name
    assert (roles_app.speeches(), roles_app.uploads()) == before


@pytest.mark.slow
def test_gradio_client_as_reader_is_refused_and_as_librarian_writes(roles_app, tmp_path):
    path, name = _speech(tmp_path, "客户端上传")
    reader = Client(roles_app.url, headers=READER_AUTH, verbose=False, analytics_enabled=False)
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        reader.predict([handle_file(str(path))], api_name="/upload")
    with pytest.raises(Exception, match="403|Forbidden|管理员"):
        reader.predict(SAMPLE, api_name="/delete")
    assert name not in roles_app.speeches() and SAMPLE in roles_app.speeches()

    librarian = Client(roles_app.url, headers=ADMIN_AUTH, verbose=False, analytics_enabled=False)
    results, _ = librarian.predict([handle_file(str(path))], api_name="/upload")
    assert results["data"][0][:2] == [path.name, "成功"], results
    assert name in roles_app.speeches()
    librarian.predict(*[None] * 6, api_name="/refresh_library")  # the session's choices, as a page loads them
    librarian.predict(name, api_name="/delete")
    assert name not in roles_app.speeches() and path.name not in roles_app.uploads()


@pytest.mark.slow
def test_a_librarian_writes_through_the_raw_routes_with_the_cookie_from_an_admin_link(roles_app, tmp_path):
    with httpx.Client(base_url=roles_app.url, timeout=60) as browser:
        opened = browser.get(f"/?token={ADMIN}")
        assert opened.status_code == 303 and browser.cookies.get("speeches_token") == ADMIN
        path, name = _speech(tmp_path, "管理员上传")
        received = browser.post("/gradio_api/upload", files=[("files", (path.name, path.read_bytes()))])
        assert received.status_code == 200
        cookie = {"Cookie": f"speeches_token={ADMIN}"}
        status, kind, payload = call(roles_app.url, cookie, "upload", [[file_data(received.json()[0], path.name)]])
        assert (status, kind) == (200, "complete") and payload[0]["data"][0][1] == "成功", payload
        assert name in roles_app.speeches()
        call(roles_app.url, cookie, "refresh_library", [None] * 6, session="lib-1")
        joined = queue_join(roles_app.url, cookie, fn_index(roles_app.config(), "delete"), [name], session="lib-1")
        assert joined.status_code == 200, joined.text
        done = queue_result(roles_app.url, cookie, session="lib-1")[-1]
        assert done["msg"] == "process_completed" and done["success"], done
        assert name not in roles_app.speeches()


@pytest.mark.slow
def test_single_sign_on_librarians_are_the_admin_users(sso_app, tmp_path):
    assert httpx.get(f"{sso_app.url}/api/speeches", timeout=30).status_code == 401
    path, name = _speech(tmp_path, "单点登录上传")
    reader = {"X-Remote-User": "li.si"}
    assert httpx.get(f"{sso_app.url}/api/speeches", headers=reader, timeout=30).status_code == 200
    librarian_received = upload_route(sso_app.url, {"X-Remote-User": "zhang.san"}, path).json()[0]
    assert upload_route(sso_app.url, reader, path).status_code == 403
    attempts = _write_attempts(sso_app, reader, librarian_received, SAMPLE)
    assert all(status == 403 for _, status in attempts), attempts
    assert SAMPLE in sso_app.speeches() and name not in sso_app.speeches()

    refused = httpx.post(f"{sso_app.url}/gradio_api/call/delete", headers=reader, json={"data": [SAMPLE]})
    assert refused.json() == {"error": f"{NEED_LIBRARIAN}：请以管理员账号登录。"}
    status, kind, _ = call(sso_app.url, {"X-Remote-User": "zhang.san"}, "upload", [[file_data(librarian_received,
                                                                                             path.name)]])
    assert (status, kind) == (200, "complete") and name in sso_app.speeches()
    status, kind, _ = delete_speech(sso_app.url, {"X-Remote-User": "wang.wu"}, name, "sso-1")  # " wang.wu" listed
    assert (status, kind) == (200, "complete") and name not in sso_app.speeches()


def _controls(app, headers: dict) -> dict[str, bool]:
    """What the Library tab's load event shows this caller: elem_id -> visible."""
    config = app.config()
    components = {c["id"]: c for c in config["components"]}
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "library_controls")
    status, kind, updates = call(app.url, headers, "library_controls", [])
    assert (status, kind) == (200, "complete"), updates
    return {components[cid]["props"]["elem_id"]: update["visible"] for cid, update in zip(dep["outputs"], updates)}


@pytest.mark.slow
def test_the_library_tab_shows_write_controls_to_librarians_only(roles_app, sso_app):
    writes = {"upload": True, "upload-results": True, "delete-speech": True, "library-read-only": False}
    reads = {key: not value for key, value in writes.items()}
    assert _controls(roles_app, ADMIN_AUTH) == writes
    assert _controls(roles_app, READER_AUTH) == reads
    assert _controls(sso_app, {"X-Remote-User": "zhang.san"}) == writes
    assert _controls(sso_app, {"X-Remote-User": "li.si"}) == reads
    # before the load event answers, a page shows none of them
    components = {c["props"].get("elem_id"): c["props"] for c in roles_app.config()["components"]}
    assert not any(components[elem]["visible"] for elem in ("upload", "upload-results", "delete-speech"))


@pytest.mark.slow
def test_the_embed_page_and_the_widget_need_only_the_readers_token(roles_app):
    for shell in ("/widget.js", "/embed", "/app-static/embed.js"):  # static, no data: an intranet page loads them
        assert httpx.get(f"{roles_app.url}{shell}", timeout=30).status_code == 200
    with httpx.stream("POST", f"{roles_app.url}/api/ask/stream", headers=READER_AUTH, timeout=60,
                      json={"question": "经济增长目标是多少？"}) as stream:
        lines = [json.loads(line) for line in stream.iter_lines() if line]
    assert stream.status_code == 200 and "answer" in lines[-1]


# -- the other configurations, in-process (the real create_app and Gradio routes, a fake assistant) -------------


def _client(tmp_path, **settings) -> TestClient:
    config = Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None, **settings)
    return TestClient(create_app(config, FakeAssistant()), follow_redirects=False)


def _upload(client: TestClient, tmp_path, headers: dict | None = None):
    path, _ = _speech(tmp_path, "配置")
    return client.post("/gradio_api/upload", headers=headers or {}, files=[("files", (path.name, path.read_bytes()))])


def test_with_no_credential_configured_everyone_is_a_librarian(tmp_path):
    assert _upload(_client(tmp_path), tmp_path).status_code == 200


def test_a_readers_token_without_a_librarian_credential_refuses_web_writes_with_one_line(tmp_path):
    client = _client(tmp_path, access_token=READER)
    refused = _upload(client, tmp_path, READER_AUTH)
    assert refused.status_code == 403 and refused.json() == {"error": NO_LIBRARIAN}
    deleted = client.post("/gradio_api/call/delete", headers=READER_AUTH, json={"data": [CITY]})
    assert deleted.status_code == 403 and "python -m ingest" in deleted.json()["error"]
    assert client.get("/api/speeches", headers=READER_AUTH).status_code == 200


def test_a_librarians_token_alone_leaves_reading_open_and_guards_writes(tmp_path):
    client = _client(tmp_path, admin_token=ADMIN)
    assert client.get("/api/speeches").status_code == 200
    assert client.get("/").status_code == 200
    assert _upload(client, tmp_path).status_code == 403
    assert _upload(client, tmp_path, {"Authorization": f"Bearer {READER}"}).status_code == 403
    assert _upload(client, tmp_path, ADMIN_AUTH).status_code == 200


def test_a_librarians_write_from_a_foreign_page_is_refused(tmp_path):
    client = _client(tmp_path, admin_token=ADMIN, frame_ancestors="'self' https://portal.example")
    evil = {**ADMIN_AUTH, "Origin": "https://evil.example"}
    assert _upload(client, tmp_path, evil).status_code == 403
    for origin in ("http://testserver", "https://portal.example"):
        assert _upload(client, tmp_path, {**ADMIN_AUTH, "Origin": origin}).status_code == 200


def test_the_guard_knows_every_library_write(tmp_path):
    from web.gradio_guard import library_writes

    app = _client(tmp_path).app
    blocks = next(r.app for r in app.routes if type(getattr(r, "app", None)).__name__ == "App").get_blocks()
    assert {blocks.fns[i].api_name for i in library_writes(blocks)} == {"upload", "delete", "remove_samples"}


def test_the_write_handlers_check_the_role_themselves(tmp_path):
    """Behind the door: a write handler reached without a librarian's role refuses with the same line."""
    from types import SimpleNamespace

    import gradio as gr

    from web.gradio_guard import library_writes
    from web.security import ROLE_KEY

    app = _client(tmp_path, access_token=READER, admin_token=ADMIN).app
    blocks = next(r.app for r in app.routes if type(getattr(r, "app", None)).__name__ == "App").get_blocks()
    as_role = lambda role: gr.Request(state=SimpleNamespace(**{ROLE_KEY: role}))  # noqa: E731
    for fn_id in library_writes(blocks):
        handler = blocks.fns[fn_id].fn
        for request in (as_role("reader"), gr.Request()):
            with pytest.raises(gr.Error, match=NEED_LIBRARIAN):
                handler(None, request)
        handler(None, as_role("librarian"))  # nothing to do, and no refusal


@pytest.mark.parametrize("settings, name", [
    ({"access_token": READER, "admin_token": READER}, "SPEECHES_ADMIN_TOKEN must differ"),
    ({"admin_token": "short"}, "SPEECHES_ADMIN_TOKEN"),
    ({"admin_users": "zhang.san"}, "SPEECHES_TRUSTED_USER_HEADER"),
])
def test_role_settings_that_cannot_work_stop_the_app_naming_the_setting(tmp_path, settings, name):
    with pytest.raises(ValueError, match=name):
        _client(tmp_path, **settings)
