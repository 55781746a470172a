"""The app's side of a CLI's hand-off (why: ingest/writer.py; the CLI's side: ingest/handoff.py).

``LocalWriterGate`` wraps the whole app, outside every other middleware, and answers ``POST /_local/write`` itself:
the route is not the app's, so no reader's or librarian's token opens it, and access control never sees it. It is
answered only
- over a connection from this machine: the client address is loopback or the very address the app listens on, and
  the request carries no proxy header (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``): a request a reverse
  proxy relays is someone else's, whatever address it comes from;
- with the secret the app wrote to ``DATA_DIR/writer.json`` (mode 0600, this user only) at start, compared in
  constant time.
Anything else is a 403 (a 405 for another method) before the body is read. The work runs through the app's
``LibraryWriter``, after any upload or delete in progress; its progress and report stream back as NDJSON. A client
that goes away stops the run at the next file.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import threading

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.handoff import HANDOFF_PATH, SECRET_HEADER, write_settings
from ingest.pipeline import Progress
from ingest.writer import LibraryWriter, WriteRequest
from settings import Settings

log = logging.getLogger(__name__)

MAX_BODY = 4 * 2**20
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


def local_url(settings: Settings) -> str:
    """Where a process on this machine reaches the app: its own host, or loopback when it listens on all
    addresses. Without the root path: uvicorn adds that to every path it receives."""
    host = settings.host.strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "*"):
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def is_local(scope: Scope) -> bool:
    """Whether the request came from this machine directly (module doc)."""
    headers = Headers(scope=scope)
    if any(name in headers for name in PROXY_HEADERS):
        return False
    client = (scope.get("client") or ("",))[0] or ""
    server = (scope.get("server") or ("",))[0] or ""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return address.is_loopback or client == server


class _Streamed(Progress):
    """Progress events into the response stream (from the writer's thread to the event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        self.loop, self.queue = loop, queue

    def put(self, item: dict) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def event(self, kind: str, **values) -> None:
        self.put({"progress": {"kind": kind, **values}})


class LocalWriterGate:
    def __init__(self, app: ASGIApp, writer: LibraryWriter, secret: str, settings: Settings) -> None:
        self.app, self.writer, self.secret, self.settings = app, writer, secret, settings
        self.root_path = settings.root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._path(scope) == HANDOFF_PATH:
            response = await self._respond(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _path(self, scope: Scope) -> str:
        path = scope.get("path", "")
        for root in {scope.get("root_path", ""), self.root_path} - {""}:
            if path.startswith(root + "/"):
                path = path[len(root):]
        return path

    async def _respond(self, request: Request):
        if request.method != "POST":
            return JSONResponse({"error": "POST only"}, status_code=405, headers={"Allow": "POST"})
        if not is_local(request.scope):
            log.warning("refused %s from %s: not a local connection", HANDOFF_PATH, request.client)
            return JSONResponse({"error": "refused: this route takes requests from this machine only"}, 403)
        given = request.headers.get(SECRET_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("refused %s: missing or wrong local secret", HANDOFF_PATH)
            return JSONResponse({"error": "refused: missing or wrong local secret"}, 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"error": "the request is too large"}, 413)
        try:
            data = json.loads(body)
            work = WriteRequest(**data["request"])
            asked = data["settings"]
            if not isinstance(work.paths, list) or not all(isinstance(p, str) for p in work.paths):
                raise TypeError("paths must be a list of strings")
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": f"malformed request ({error})"}, 400)
        mine = write_settings(self.settings)
        if asked != mine:
            differ = ", ".join(f"SPEECHES_{k.upper()}={mine[k]} (not {asked.get(k)})" for k in mine
                               if asked.get(k) != mine[k])
            return JSONResponse({"error": f"the running app writes with {differ}; run this with the app's settings, "
                                          "or stop the app first"}, 409)
        return StreamingResponse(self._run(work), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-store"})

    async def _run(self, work: WriteRequest):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        progress = _Streamed(loop, queue)
        stop = threading.Event()

        def run() -> None:
            try:
                report = self.writer.apply(work, progress, stop)
                log.info("python -m ingest, run by the app: %s", report.summary().splitlines()[0])
                progress.put({"report": report.as_json()})
            except Exception as error:  # the CLI prints it: its user runs the library
                log.exception("python -m ingest, run by the app, failed")
                progress.put({"error": f"the app could not do it: {error}", "status": 2})

        threading.Thread(target=run, name="local-write", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                yield json.dumps(item, ensure_ascii=False) + "\n"
                if "report" in item or "error" in item:
                    return
        finally:
            stop.set()  # the CLI went away: stop at the next file
