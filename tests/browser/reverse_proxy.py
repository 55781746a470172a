"""A reverse proxy for the tests, doing what docs/web.md asks of nginx: serve the app under a path prefix, strip the
prefix, keep the Host header, do not buffer (answers and Gradio's events stream)."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer",
               b"proxy-authorization", b"proxy-authenticate"}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def prefix_proxy(prefix: str, upstream: str) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=None)

    async def forward(request: Request):
        path = request.url.path
        if path == prefix:
            return RedirectResponse(prefix + "/")
        if not path.startswith(prefix + "/"):
            return PlainTextResponse("not behind this prefix", status_code=404)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in _HOP_BY_HOP | {b"content-length"}]
        upstream_request = client.build_request(
            request.method, path[len(prefix):], params=request.url.query, headers=headers,
            content=await request.body(),
        )
        response = await client.send(upstream_request, stream=True)
        proxied = StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                                    background=BackgroundTask(response.aclose))
        proxied.raw_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
        return proxied

    return Starlette(routes=[Route("/{path:path}", forward, methods=_METHODS)])


class ThreadedServer:
    """An ASGI app served by uvicorn in a background thread."""

    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test proxy did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
