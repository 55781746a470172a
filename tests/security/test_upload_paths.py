"""Issue 11, finding 1: a client names a file on the server (``FileData.path``) and Gradio copies it into its cache
and hands it to the event; our upload event then ingested it, for every reader to read. Every event that takes
files (found from the app's own config, so a future one is covered too) must take only files Gradio received
through its upload route, whatever the route: /gradio_api/call/NAME, queue/join, run/NAME, and gradio_client.

The attacks run against the open app (no credential: everyone is a librarian, so only the path check stands in
the way) and against a librarian of the app with roles. Unit tests of each layer (Gradio's own check under
mounting, our upload handler) are at the end.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.client import Endpoint

from security.conftest import ADMIN_AUTH, call, file_data, file_inputs, queue_join, upload_route

SECRET_MARKER = "绝密测试标记-7f3a"
SECRET_TEXT = f"内部资料：服务器上的秘密文件\n同志们：\n{SECRET_MARKER}。这段文字只在服务器的一个文件里，从未上传。\n"


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> Path:
    """A speech-like file on the server, outside every folder the app uses (ingest would take it)."""
    path = tmp_path_factory.mktemp("server-files") / "secret-speech.txt"
    path.write_text(SECRET_TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def big_secret(tmp_path_factory) -> Path:
    """A 40 MB server file: refused before Gradio copies it (today it was copied, then refused for its size)."""
    path = tmp_path_factory.mktemp("server-files-big") / "big-secret.txt"
    line = (SECRET_TEXT * 4).encode()
    with path.open("wb") as out:
        for _ in range(40 * 1024 * 1024 // len(line) + 1):
            out.write(line)
    return path


def _snapshot(app) -> tuple:
    return app.speeches(), app.uploads(), {p: p.stat().st_size for p in app.gradio_files()}


def _assert_nothing_taken(app, before: tuple, *names: str) -> None:
    speeches, uploads, gradio_files = _snapshot(app)
    assert speeches == before[0], "a speech was added from a server file"
    assert uploads == before[1], f"a file was copied into DATA_DIR/uploads: {uploads}"
    new = [p for p in gradio_files if p not in before[2]]
    copied = [p for p in new if p.name in names or SECRET_MARKER.encode() in p.read_bytes()[:4096]]
    assert not copied, f"Gradio copied a server file into its folder: {copied}"
    answer = httpx.post(f"{app.url}/api/ask", headers=app.auth, json={"question": SECRET_MARKER}, timeout=60).json()
    assert not [c for c in answer["context"] if SECRET_MARKER in c["text"]], "a server file's text is in answers"


def _attack_data(dep: dict, position: int, files: list[dict]) -> list:
    data = [None] * len(dep["inputs"])
    data[position] = files
    return data


@pytest.mark.slow
def test_every_file_event_refuses_a_server_path_on_every_route(open_app, secret):
    config = open_app.config()
    targets = file_inputs(config)
    names = {dep.get("api_name") for dep, _ in targets}
    assert "upload" in names, f"the upload event takes files: {names}"
    before = _snapshot(open_app)
    for dep, position in targets:
        data = _attack_data(dep, position, [file_data(secret)])
        status, kind, payload = call(open_app.url, {}, dep["api_name"], data)
        assert status == 403 and "上传" in payload["error"], (dep["api_name"], status, kind, payload)
        joined = queue_join(open_app.url, {}, dep["id"], data)
        assert joined.status_code == 403, (dep["api_name"], joined.status_code, joined.text)
        # run/ and api/ take the event from the body's fn_index, whatever name the URL carries
        for route in (f"run/{dep['api_name']}", "api/overview"):
            direct = httpx.post(f"{open_app.url}/gradio_api/{route}", json={"data": data, "fn_index": dep["id"]},
                                timeout=60)
            assert direct.status_code == 403, (route, direct.status_code, direct.text)
    _assert_nothing_taken(open_app, before, secret.name)


@pytest.mark.slow
def test_a_file_of_the_gradio_folder_that_no_one_uploaded_is_refused(open_app, secret):
    planted = open_app.gradio_dir / ("0" * 64) / "planted-speech.txt"  # e.g. another user's export
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(SECRET_TEXT, encoding="utf-8")
    before = _snapshot(open_app)
    status, _, payload = call(open_app.url, {}, "upload", [[file_data(planted)]])
    assert status == 403, payload
    _assert_nothing_taken(open_app, before, planted.name)


@pytest.mark.slow
def test_a_url_for_gradio_to_download_is_refused_and_never_fetched(open_app, secret):
    fetched = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(secret.parent), **kwargs)

        def log_message(self, *args):
            fetched.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        before = _snapshot(open_app)
        url = f"http://127.0.0.1:{server.server_port}/{secret.name}"
        status, _, payload = call(open_app.url, {}, "upload", [[{**file_data(url), "url": url}]])
        assert status == 403, payload
        _assert_nothing_taken(open_app, before, secret.name)
        assert fetched == [], f"the app fetched {fetched}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_large_server_file_is_refused_before_anything_copies_it(open_app, big_secret):
    before = _snapshot(open_app)
    status, _, payload = call(open_app.url, {}, "upload", [[file_data(big_secret)]])
    assert status == 403, payload
    _assert_nothing_taken(open_app, before, big_secret.name)
    assert not [p for p in open_app.gradio_files() if p.stat().st_size > 1024 * 1024 and p not in before[2]]


@pytest.mark.slow
def test_gradio_client_naming_a_server_file_is_refused(open_app, secret, monkeypatch):
    # gradio_client uploads a local path before calling; an attacker's copy does not: it sends the path as is
    monkeypatch.setattr(Endpoint, "_upload_file", lambda self, f, data_index: f)
    client = Client(open_app.url, verbose=False, download_files=False, analytics_enabled=False)
    before = _snapshot(open_app)
    config = open_app.config()
    components = {c["id"]: c for c in config["components"]}
    for dep, position in file_inputs(config):
        args = [[file_data(secret)] if i == position else None
                for i, cid in enumerate(dep["inputs"]) if components[cid]["type"] != "state"]
        with pytest.raises(Exception) as refused:
            client.predict(*args, api_name="/" + dep["api_name"])
        assert "403" in str(refused.value) or "上传" in str(refused.value), refused.value
    _assert_nothing_taken(open_app, before, secret.name)


@pytest.mark.slow
def test_a_librarian_cannot_ingest_a_server_file_either(roles_app, secret):
    before = _snapshot(roles_app)
    status, _, payload = call(roles_app.url, ADMIN_AUTH, "upload", [[file_data(secret)]])
    assert status == 403 and "上传" in payload["error"]
    _assert_nothing_taken(roles_app, before, secret.name)


@pytest.mark.slow
def test_a_file_received_by_the_upload_route_is_ingested(open_app, tmp_path):
    speech = tmp_path / "路径测试讲话.txt"
    speech.write_text("在路径测试会议上的讲话\n同志们：\n今天只讲一件事：上传的文件可以入库。\n", encoding="utf-8")
    received = upload_route(open_app.url, {}, speech)
    assert received.status_code == 200, received.text
    status, kind, payload = call(open_app.url, {}, "upload", [[file_data(received.json()[0], speech.name)]])
    assert (status, kind) == (200, "complete"), payload
    assert payload[0]["data"][0][:2] == [speech.name, "成功"]
    assert "路径测试讲话" in open_app.speeches() and speech.name in open_app.uploads()


# -- each layer on its own ----------------------------------------------------------------------------------------


def test_gradio_itself_refuses_a_path_outside_its_upload_folder_when_mounted(tmp_path, secret):
    """Without our guard in front: Gradio's own preprocessing check holds under mount_gradio_app."""
    from gradio import processing_utils
    from gradio.context import LocalContext
    from gradio.exceptions import InvalidPathError
    from web_fakes import FakeAssistant

    from settings import Settings
    from web.server import create_app

    app = create_app(Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None), FakeAssistant())
    blocks = next(r.app for r in app.routes if type(getattr(r, "app", None)).__name__ == "App").get_blocks()
    uploader = next(b for b in blocks.blocks.values() if type(b).__name__ == "File")
    async def preprocess_as_gradio_does():
        LocalContext.blocks.set(blocks)
        return await processing_utils.async_move_files_to_cache([file_data(secret)], uploader,
                                                                check_in_upload_folder=True)

    with ThreadPoolExecutor(1) as thread, pytest.raises(InvalidPathError, match="not uploaded by a user"):
        thread.submit(asyncio.run, preprocess_as_gradio_does()).result()  # its own loop (Playwright may hold ours)


def test_our_upload_handler_refuses_a_file_outside_the_upload_folder(tmp_path, secret):
    from web_fakes import FakeAssistant

    from web.uploads import ingest_uploads

    folder = tmp_path / "gradio"
    inside = folder / "abc" / "会议.txt"
    inside.parent.mkdir(parents=True)
    inside.write_text("一次会议上的讲话\n同志们：今天开会。", encoding="utf-8")
    escape = folder / "abc" / "link.txt"
    escape.symlink_to(secret)
    results = ingest_uploads(FakeAssistant(), [(secret, secret.name), (escape, "link.txt"), (inside, "会议.txt")],
                             tmp_path / "data", max_mb=5, received_in=folder)
    assert [r.ok for r in results] == [False, False, True]
    assert "不是通过上传收到的文件" in results[0].message and "不是通过上传收到的文件" in results[1].message
    assert sorted(p.name for p in (tmp_path / "data" / "uploads").iterdir()) == ["会议.txt"]
