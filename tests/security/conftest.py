"""Real apps for the attacks of issue 11: ``python app.py`` (``SPEECHES_LLM=extractive``, the real library and
embedder) in subprocesses, one per configuration, shared by the tests of this package and stopped after them, each
with its own Gradio folder (``GRADIO_TEMP_DIR``) so a test can see what Gradio copied. The first app's embedding
cache seeds the others.

Raw HTTP helpers for Gradio's routes are here too: the tests speak the wire protocol, not the UI.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from browser.helpers import App, HostPages, free_port

READER = "reader-token-0123"
ADMIN = "admin-token-4567"
PORTAL = "https://portal.example"
READER_AUTH = {"Authorization": f"Bearer {READER}"}
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
HEADER_TIMEOUT, BODY_TIMEOUT = 2, 4


class RunningApp:
    def __init__(self, app: App, gradio_dir: Path, auth: dict) -> None:
        self.app, self.url, self.data_dir, self.gradio_dir = app, app.url, app.data_dir, gradio_dir
        self.auth = auth  # headers that may read

    def speeches(self) -> set[str]:
        response = httpx.get(f"{self.url}/api/speeches", headers=self.auth, timeout=30)
        response.raise_for_status()
        return {s["id"] for s in response.json()}

    def config(self) -> dict:
        return httpx.get(f"{self.url}/config", headers=self.auth, timeout=30).json()

    def uploads(self) -> list[str]:
        folder = self.data_dir / "uploads"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def gradio_files(self) -> list[Path]:
        return [p for p in self.gradio_dir.rglob("*") if p.is_file()] if self.gradio_dir.exists() else []


@contextmanager
def _environ(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="package")
def embedding_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


def _start(tmp_path_factory, embedding_cache: Path, name: str, auth: dict, **settings: str):
    home = tmp_path_factory.mktemp(name)
    if any(embedding_cache.iterdir()):
        shutil.copytree(embedding_cache, home / "data" / "cache")
    gradio_dir = home / "gradio"
    with _environ(GRADIO_TEMP_DIR=str(gradio_dir)):  # App passes the environment on to app.py
        app = App(home, free_port(), **settings)
    try:
        app.wait_ready(headers=auth)
        if not any(embedding_cache.iterdir()):
            shutil.copytree(app.data_dir / "cache", embedding_cache, dirs_exist_ok=True)
        yield RunningApp(app, gradio_dir, auth)
    finally:
        app.stop()


@pytest.fixture(scope="package")
def open_app(tmp_path_factory, embedding_cache):
    """No credential configured (the local default): everyone is a librarian."""
    yield from _start(tmp_path_factory, embedding_cache, "open-app", {})


@pytest.fixture(scope="package")
def portal(tmp_path_factory):
    """An intranet page's origin (a local port) that may embed the roles app."""
    folder = tmp_path_factory.mktemp("portal-pages")
    pages = HostPages(folder)
    pages.folder = folder
    yield pages
    pages.close()


@pytest.fixture(scope="package")
def roles_app(tmp_path_factory, embedding_cache, portal):
    """A readers' token, a librarians' token, two allowed embedding origins, short client deadlines."""
    yield from _start(tmp_path_factory, embedding_cache, "roles-app", READER_AUTH, ACCESS_TOKEN=READER,
                      ADMIN_TOKEN=ADMIN, FRAME_ANCESTORS=f"'self' {PORTAL} {portal.url}",
                      HEADER_TIMEOUT=str(HEADER_TIMEOUT), BODY_TIMEOUT=str(BODY_TIMEOUT))


@pytest.fixture(scope="package")
def sso_app(tmp_path_factory, embedding_cache):
    """Single sign-on by a proxy header; zhang.san is a librarian."""
    yield from _start(tmp_path_factory, embedding_cache, "sso-app", {"X-Remote-User": "li.si"},
                      TRUSTED_USER_HEADER="X-Remote-User", ADMIN_USERS="zhang.san, wang.wu")


# -- Gradio's wire protocol -------------------------------------------------------------------------------------


def file_data(path: str | Path, name: str | None = None) -> dict:
    return {"path": str(path), "orig_name": name or Path(str(path)).name, "meta": {"_type": "gradio.FileData"}}


def upload_route(url: str, headers: dict, *paths: Path) -> httpx.Response:
    """POST /gradio_api/upload, the way the Gradio frontend and gradio_client send files."""
    files = [("files", (p.name, p.read_bytes())) for p in paths]
    return httpx.post(f"{url}/gradio_api/upload", headers=headers, files=files, timeout=60)


def call(url: str, headers: dict, api_name: str, data: list, session: str | None = None
         ) -> tuple[int, str | None, object]:
    """POST /gradio_api/call/NAME then read its event stream: (status of the POST, 'complete'/'error'/None, data).
    Events of one ``session`` share their state (a dropdown's choices come from the session's refresh_library)."""
    body = {"data": data, **({"session_hash": session} if session else {})}
    started = httpx.post(f"{url}/gradio_api/call/{api_name}", headers=headers, json=body, timeout=60)
    if started.status_code != 200:
        return started.status_code, None, started.json()
    event_id = started.json()["event_id"]
    kind, payload = None, None
    with httpx.stream("GET", f"{url}/gradio_api/call/{api_name}/{event_id}", headers=headers, timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: ") and kind in ("complete", "error"):
                payload = json.loads(line[6:]) if line[6:].strip() not in ("", "null") else None
                break
    return 200, kind, payload


def queue_join(url: str, headers: dict, fn_index: int, data: list, session: str = "security-test") -> httpx.Response:
    """POST /gradio_api/queue/join, as the Gradio frontend does."""
    return httpx.post(f"{url}/gradio_api/queue/join", headers=headers, timeout=60,
                      json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                            "trigger_id": None})


def queue_result(url: str, headers: dict, session: str = "security-test") -> list[dict]:
    """The messages of the session's event stream until its process_completed."""
    messages = []
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, headers=headers,
                      timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                messages.append(message)
                if message.get("msg") in ("process_completed", "close_stream"):
                    break
    return messages


def delete_speech(url: str, headers: dict, speech_id: str, session: str) -> tuple[int, str | None, object]:
    """The delete event as a page runs it: the library's choices loaded into the session first."""
    call(url, headers, "refresh_library", [None] * 6, session=session)
    return call(url, headers, "delete", [speech_id], session=session)


def fn_index(config: dict, api_name: str) -> int:
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def file_inputs(config: dict) -> list[tuple[dict, int]]:
    """Every (event, input position) of the app whose component takes files (FileData in its input schema)."""
    components = {c["id"]: c for c in config["components"]}
    return [(dep, position) for dep in config["dependencies"] for position, cid in enumerate(dep["inputs"])
            if "FileData" in json.dumps(components[cid].get("api_info_as_input") or components[cid].get("api_info"))]
