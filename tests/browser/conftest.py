"""Browser tests: the real app (``python app.py``, real library and retrieval, ``SPEECHES_LLM=extractive``) in a
subprocess, driven by Playwright through Debian's chromium (``/usr/bin/chromium``; Playwright never downloads a
browser here). Host pages for the widget are served from other local ports, i.e. other origins.

Screenshots go to a temporary folder; with ``SPEECHES_UPDATE_SCREENSHOTS=1`` they also replace docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from browser.helpers import (
    DOCS_SCREENSHOTS,
    ROOT_PATH,
    TOKEN,
    App,
    HostPages,
    free_port,
    host_page,
)


@pytest.fixture(scope="session")
def host_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("host-pages")


@pytest.fixture(scope="session")
def allowed_host(host_folder):
    pages = HostPages(host_folder)
    yield pages
    pages.close()


@pytest.fixture(scope="session")
def refused_host(host_folder):
    pages = HostPages(host_folder)
    yield pages
    pages.close()


@pytest.fixture(scope="session")
def app(tmp_path_factory, allowed_host, host_folder):
    """The app on its defaults plus one allowed embedding origin (the allowed host page's)."""
    home = tmp_path_factory.mktemp("app")
    running = App(home, free_port(), FRAME_ANCESTORS=f"'self' {allowed_host.url}")
    try:
        running.wait_ready()
        (host_folder / "host.html").write_text(
            host_page(running.url, title="讲话助手", position="bottom-right", color="#b91c1c",
                      speech="2025-city-work-meeting"), encoding="utf-8")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def proxied_app(tmp_path_factory, app):
    """A second app under the root path /speeches behind a prefix-stripping reverse proxy, with a shared token.
    It reuses the first app's embedding cache, so adding the sample speeches embeds nothing."""
    from browser.reverse_proxy import ThreadedServer, prefix_proxy

    home = tmp_path_factory.mktemp("proxied-app")
    shutil.copytree(app.data_dir / "cache", home / "data" / "cache")
    running = App(home, free_port(), ROOT_PATH=ROOT_PATH, ACCESS_TOKEN=TOKEN)
    try:
        running.wait_ready(headers={"Authorization": f"Bearer {TOKEN}"})
        port = free_port()
        with ThreadedServer(prefix_proxy(ROOT_PATH, running.url), port):
            yield f"http://127.0.0.1:{port}{ROOT_PATH}"
    finally:
        running.stop()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    update = os.environ.get("SPEECHES_UPDATE_SCREENSHOTS") == "1"

    def take(page, name: str, **options) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), **options)
        if update:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
        return path

    return take


