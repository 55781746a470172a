"""The door of Gradio's routes: every Gradio event is a public HTTP endpoint, whatever the UI shows or hides.

``GradioGuard`` sits inside ``web.security.AccessControl`` (which has put the request's role in its state) and,
for every POST under ``/gradio_api/``:

- lets through only the routes the app uses (the event routes ``queue/join``, ``call/NAME``, ``run/NAME``,
  ``api/NAME``, the ``upload`` route, ``cancel`` and ``reset``); the rest (``stream/ID``, which swaps a queued
  event's input, ``component_server``, ``process_recording``...) answer 404;
- refuses (403) the upload route and every library-write event (those in the ``LIBRARY_WRITE`` concurrency group)
  to anyone but a librarian, and to pages of foreign origins (a cross-site form post must not write);
- refuses (403) any event whose input names a file (Gradio's ``FileData``) that Gradio did not itself receive
  through its upload route: a path elsewhere on the server, a URL for Gradio to download, a file of its cache
  that no one uploaded. Gradio would copy such a file into its cache and hand it to the handler.

It reads an event's JSON body to learn which event it calls (Gradio takes ``fn_index`` from the body before the
name in the URL) and what files it names, then replays the body to Gradio unchanged.

``harden(blocks)`` also turns on Gradio's own check (only files inside its upload folder reach a handler), which
Gradio applies only once ``blocks.has_launched`` is true, something ``mount_gradio_app`` never sets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings
from web.security import LIBRARIAN, ROLE_KEY, cors_origins, refusal_for_writes, refuse, route_path

LIBRARY_WRITE = "library-write"  # the concurrency id of every event that changes the library (web/ui.py)
MAX_EVENT_BODY = 16 * 1024 * 1024  # what the guard reads to find the event and its files
_EVENT_ROUTE = re.compile(r"^/gradio_api/(?:(queue/join)|(call|call/v2|run|api)/([^/]+))/?$")
_OTHER_ROUTES = frozenset({"/gradio_api/upload", "/gradio_api/cancel", "/gradio_api/reset"})
FOREIGN_FILE = "只能使用本次上传收到的文件：请求中的文件不是通过上传得到的。"
FOREIGN_ORIGIN = "拒绝来自其他网站的修改请求。"
NOT_HERE = "本应用不提供这个接口。"
BAD_BODY = "输入有误：请求体不是有效的 JSON。"
TOO_BIG = "请求体太大。"


def upload_folder() -> Path:
    """Where Gradio keeps what its upload route received (GRADIO_TEMP_DIR, or the system's temp dir /gradio)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def harden(blocks) -> None:
    """Make Gradio's own path checks hold under ``mount_gradio_app``: with ``has_launched`` false (never set when
    mounted) Gradio copies any readable file a client names into its cache and hands it to the event."""
    blocks.has_launched = True


def library_writes(blocks) -> set[int]:
    """The ids of the events that change the library."""
    return {fn_id for fn_id, fn in blocks.fns.items() if fn.concurrency_id == LIBRARY_WRITE}


def files_named(data) -> list[str]:
    """The paths of every Gradio FileData object in a request body (what Gradio would move into its cache)."""
    from gradio_client.utils import is_file_obj_with_meta, traverse

    paths: list[str] = []
    traverse(data, lambda d: paths.append(d["path"]), is_file_obj_with_meta)
    return paths


class GradioGuard:
    def __init__(self, app: ASGIApp, blocks, settings: Settings) -> None:
        self.app = app
        self.blocks = blocks
        self.writes = library_writes(blocks)
        self.write_refusal = refusal_for_writes(settings)
        exact, pattern = cors_origins(settings.frame_ancestors)
        self.allowed_origins = set(exact)
        self.allowed_origin_pattern = re.compile(pattern) if pattern else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" else ""
        if not (path.startswith("/gradio_api/") and scope.get("method") == "POST"):
            await self.app(scope, receive, send)
            return
        librarian = (scope.get("state") or {}).get(ROLE_KEY) == LIBRARIAN
        headers = Headers(scope=scope)
        if path.rstrip("/") in _OTHER_ROUTES:
            if path.rstrip("/") == "/gradio_api/upload":
                refusal = self._write_refusal(librarian, headers)
                if refusal:
                    await refuse(send, path, 403, refusal)
                    return
            await self.app(scope, receive, send)
            return
        route = _EVENT_ROUTE.match(path)
        if route is None:
            await refuse(send, path, 404, NOT_HERE)
            return
        body = await _read_body(receive, MAX_EVENT_BODY)
        if body is None:  # the client went away
            return
        if body is _TOO_BIG:
            await refuse(send, path, 413, TOO_BIG)
            return
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            await refuse(send, path, 400, BAD_BODY)
            return
        fn_id = self._event(route, request)
        if fn_id in self.writes:
            refusal = self._write_refusal(librarian, headers)
            if refusal:
                await refuse(send, path, 403, refusal)
                return
        try:
            named = files_named(request)
        except RecursionError:
            await refuse(send, path, 400, BAD_BODY)
            return
        if any(not self._received(p) for p in named):
            await refuse(send, path, 403, FOREIGN_FILE)
            return
        await self.app(scope, _replay(body, receive), send)

    def _event(self, route: re.Match, request) -> int | None:
        """The event Gradio will run for this request, as Gradio finds it (``route_utils.get_fn``): the body's
        ``fn_index`` on queue/join, run/ and api/, else the api name in the URL."""
        queue, kind, name = route.groups()
        if kind not in ("call", "call/v2"):
            from gradio.data_classes import PredictBody

            try:
                fn_index = PredictBody.model_validate(request).fn_index
            except ValueError:
                return None  # Gradio refuses the body too
            if fn_index is not None or queue:
                return fn_index
        return next((fn_id for fn_id, fn in self.blocks.fns.items() if fn.api_name == name), None)

    def _write_refusal(self, librarian: bool, headers: Headers) -> str | None:
        if not librarian:
            return self.write_refusal
        origin = headers.get("origin")
        if origin is not None and not self._same_or_allowed_origin(origin, headers):
            return FOREIGN_ORIGIN
        return None

    def _same_or_allowed_origin(self, origin: str, headers: Headers) -> bool:
        origin = origin.lower()
        host = (headers.get("x-forwarded-host") or headers.get("host") or "").split(",")[0].strip().lower()
        if urlsplit(origin).netloc == host and host:
            return True
        return origin in self.allowed_origins or bool(
            self.allowed_origin_pattern and self.allowed_origin_pattern.match(origin))

    def _received(self, path: str) -> bool:
        """True for a file Gradio's upload route received (and still inside its upload folder)."""
        if path not in self.blocks.upload_file_set:
            return False
        try:
            resolved = Path(path).resolve()
        except (OSError, ValueError):
            return False
        return resolved.is_relative_to(upload_folder()) and resolved.is_file()


_TOO_BIG = object()


async def _read_body(receive: Receive, limit: int):
    """The whole request body; None if the client disconnected, ``_TOO_BIG`` past ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _TOO_BIG
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
