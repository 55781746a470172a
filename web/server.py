"""The one FastAPI app: JSON API under ``/api``, OpenAPI at ``/openapi.json`` and ``/docs`` (our own page: FastAPI's
default Swagger UI loads its scripts from a CDN), the embed page ``/embed`` with ``/widget.js`` and ``/widget.css``,
static files under ``/app-static``, and the Gradio UI mounted at ``/``. ``SecurityMiddleware`` wraps all of it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from settings import Settings, quiet_network_clients
from web.security import SecurityMiddleware, check_token, frame_ancestors_policy

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


def create_app(settings: Settings, assistant=None) -> FastAPI:
    """The whole web app for ``settings``; ``assistant`` defaults to ``answer.service.Assistant(settings)``."""
    quiet_network_clients()
    frame_ancestors_policy(settings.frame_ancestors)  # a bad setting fails here, naming itself
    check_token(settings.access_token)
    import gradio as gr

    from web import render
    from web.api import api_router
    from web.errors import friendly_error
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

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        status, message = friendly_error(error, settings.language)
        return JSONResponse({"error": message}, status_code=status)

    app.include_router(api_router(assistant, settings))

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
    app.add_middleware(SecurityMiddleware, settings=settings)
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
    from web.local_writer import LocalWriterGate, local_url
    from web.uploads import recover_uploads

    assistant = Assistant(settings, store=store)
    recover_uploads(assistant.store, settings.data_dir)  # what a killed upload left behind
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
            if claim is not None:  # now: uvicorn re-raises SIGTERM after this, which ends the process at once
                claim.release()

    config = uvicorn.Config(app, host=settings.host, port=settings.port, root_path=root, proxy_headers=True,
                            log_level="warning", timeout_graceful_shutdown=5)
    print(f"Serving on http://{settings.host}:{settings.port}{root}/  (API docs: {root}/docs)", flush=True)
    Server(config).run()
