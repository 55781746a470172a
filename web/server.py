"""The one FastAPI app: JSON API under ``/api``, OpenAPI at ``/openapi.json`` and ``/docs`` (our own page: FastAPI's
default Swagger UI loads its scripts from a CDN), the embed page ``/embed`` with ``/widget.js`` and ``/widget.css``,
static files under ``/app-static``, and the Gradio UI mounted at ``/``.

Middlewares, outermost first: ``SecurityHeaders`` (on every response), ``CORSMiddleware`` (only the origins of
``SPEECHES_FRAME_ANCESTORS`` may read responses cross-origin; its presence also switches off Gradio's own CORS,
which allows any ``http://localhost:*`` page with credentials), ``AccessControl`` (401, the role), then
``BodyLimitMiddleware`` (413 past SPEECHES_MAX_BODY_KB: web/limits.py), then ``GradioGuard`` (library
writes and uploaded files at the door of Gradio's routes). docs/security.md has the why. Outside all of them, in
``serve`` only, ``LocalWriterGate`` answers the route of ``python -m ingest``'s hand-off (web/local_writer.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from settings import Settings, quiet_network_clients
from web.limits import BodyLimitMiddleware
from web.security import AccessControl, SecurityHeaders, check_access_settings, cors_origins, frame_ancestors_policy

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


def create_app(settings: Settings, assistant=None) -> FastAPI:
    """The whole web app for ``settings``; ``assistant`` defaults to ``answer.service.Assistant(settings)``."""
    quiet_network_clients()
    frame_ancestors_policy(settings.frame_ancestors)  # a bad setting fails here, naming itself
    check_access_settings(settings)
    import gradio as gr

    from web import render
    from web.api import install as install_api
    from web.gradio_guard import GradioGuard, harden
    from web.ui import build_ui

    if assistant is None:
        from answer.service import Assistant

        assistant = Assistant(settings)

    app = FastAPI(
        title="讲话助手 API (Speeches assistant)",
        version="1",
        description="Ask questions about the speeches in the library and compare two speeches; answers carry "
        "citations to exact passages (character offsets into GET /api/speeches/{id}). Same functions and JSON as "
        "`python app.py ask|compare --json`. When access control is on, send the token as "
        "`Authorization: Bearer TOKEN`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    install_api(app, assistant, settings)

    def page(name: str, media_type: str):
        return FileResponse(STATIC / name, media_type=media_type, headers=NO_CACHE)

    @app.api_route("/embed", methods=["GET", "HEAD"], include_in_schema=False)
    def embed_page():
        return HTMLResponse(render.embed_page(), headers=NO_CACHE)

    @app.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    def widget_script():
        return page("widget.js", "text/javascript; charset=utf-8")

    @app.api_route("/widget.css", methods=["GET", "HEAD"], include_in_schema=False)
    def widget_style():
        return page("widget.css", "text/css; charset=utf-8")

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    def api_docs():
        return page("docs.html", "text/html; charset=utf-8")

    app.mount("/app-static", StaticFiles(directory=STATIC), name="app-static")

    blocks = build_ui(assistant, settings)
    app = gr.mount_gradio_app(
        app, blocks, path="/", ssr_mode=False, footer_links=[], show_error=False, pwa=False, mcp_server=False,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024), css_paths=[STATIC / "ui.css"],
        theme=gr.themes.Default(primary_hue="blue"),
    )
    harden(blocks)
    # add_middleware wraps what is there: the first added runs innermost. The body limit wraps GradioGuard, which
    # reads Gradio's event bodies, and sits inside AccessControl, so its refusals carry the headers.
    app.add_middleware(GradioGuard, blocks=blocks, settings=settings)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(AccessControl, settings=settings)
    origins, origin_pattern = cors_origins(settings.frame_ancestors)
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=origin_pattern,
                       allow_credentials=True, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(SecurityHeaders, settings=settings)
    app.state.assistant = assistant
    return app


def serve(settings: Settings, store=None, claim=None) -> None:
    """Run the app with uvicorn on ``settings.host:settings.port`` under ``settings.root_path``. ``claim``: the
    held ``ingest.writer.WriterLock`` of an on-disk library; once the app listens, its record says where to reach
    the app and the secret of the local write route (web/local_writer.py), so ``python -m ingest`` can hand its
    work over."""
    import secrets

    import uvicorn

    from answer.service import Assistant
    from ingest.writer import APP
    from web.client_timeouts import timed_protocol
    from web.local_writer import LocalWriterGate, local_url
    from web.uploads import recover_uploads

    assistant = Assistant(settings, store=store, background_vectors=True)
    recover_uploads(assistant.store, settings.data_dir)  # what a killed upload left behind
    assistant.writer.vectors.kick()  # the vectors a killed process left behind
    secret = secrets.token_urlsafe(32)
    app = LocalWriterGate(create_app(settings, assistant), assistant.writer, secret, settings)
    root = settings.root_path.rstrip("/")

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if claim is not None and not self.should_exit:
                claim.announce(APP, url=local_url(settings), root_path=root, secret=secret)

        async def shutdown(self, sockets=None) -> None:
            await super().shutdown(sockets)
            assistant.writer.close()  # after the batch under way: its write is whole or not begun
            if claim is not None:  # now: uvicorn re-raises SIGTERM after this, which ends the process at once
                claim.release()

    config = uvicorn.Config(app, host=settings.host, port=settings.port, root_path=root, proxy_headers=True,
                            log_level="warning", timeout_graceful_shutdown=5,
                            http=timed_protocol(settings.header_timeout, settings.body_timeout),
                            timeout_keep_alive=5, limit_concurrency=settings.max_connections)
    print(f"Serving on http://{settings.host}:{settings.port}{root}/  (API docs: {root}/docs)", flush=True)
    Server(config).run()
