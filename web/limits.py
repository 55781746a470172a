"""The request body limit, for every route (the JSON API, Gradio's JSON routes, anything mounted later).

A body over SPEECHES_MAX_BODY_KB is answered ``413 {"error": ...}`` at once: when ``Content-Length`` says so, before
the app reads a byte; when the body comes chunked (no length), as soon as the bytes received pass the limit. The
app is then told the client went away (``http.disconnect``) and whatever it answers is dropped, so no route, ours or
Gradio's, can turn the refusal into a 400 or a 500. Gradio's file upload route (multipart, ``/gradio_api/upload``)
checks each file against SPEECHES_MAX_UPLOAD_MB itself; here its whole request is capped at ``UPLOAD_FILES`` such
files, so a request of a thousand files cannot fill the disk.

A pure ASGI middleware (like web.security's): it must not buffer the streamed answers.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings
from web.security import refuse, route_path

UPLOAD_PATH = "/gradio_api/upload"
UPLOAD_FILES = 10


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limit = settings.max_body_kb * 1024
        self.upload_limit = int(UPLOAD_FILES * settings.max_upload_mb * 1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        limit, what = self.limit, f"{self.limit // 1024} KB (SPEECHES_MAX_BODY_KB)"
        if path == UPLOAD_PATH:
            limit, what = self.upload_limit, f"{UPLOAD_FILES} files of SPEECHES_MAX_UPLOAD_MB each"
        too_large = f"请求太大：上限 {what}。"
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await refuse(send, path, 413, too_large)
            return
        received, refused, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await refuse(send, path, 413, too_large)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client has its 413; what the app says after "disconnect" goes nowhere
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise

