"""What the browser tests share besides fixtures: the app in a subprocess, host pages, Gradio UI helpers."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
TOKEN = "test-token-0123456789"
ROOT_PATH = "/speeches"


@contextlib.contextmanager
def launch_chromium():
    """Debian's chromium driven by Playwright, on a fresh temporary profile (Playwright never downloads one here)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium fonts-wqy-zenhei "
                    "(.ci/run installs it), or leave them out with: python -m pytest -m 'not browser'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def watched_page(browser, timeout_ms: float = 30_000):
    """A page in a fresh browser context, its doings in ``page.watch`` (``PageWatch``); the test fails if the page
    fetched anything from off this machine or a dialog opened (injected script ran)."""
    context = browser.new_context(viewport={"width": 1400, "height": 950}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.watch = PageWatch(page)
    try:
        yield page
    finally:
        context.close()
    assert not page.watch.external, f"the page fetched from outside this machine: {page.watch.external}"
    assert not page.watch.dialogs, f"a dialog opened (injected script ran?): {page.watch.dialogs}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``python app.py`` running in a subprocess on its own data dir."""

    def __init__(self, home: Path, port: int, **settings: str) -> None:
        self.home, self.port = home, port
        self.data_dir = home / "data"
        self.root_path = settings.get("ROOT_PATH", "")
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / "app.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
        env.update({"SPEECHES_DATA_DIR": str(self.data_dir), "SPEECHES_LLM": "extractive",
                    "SPEECHES_HOST": "127.0.0.1", "SPEECHES_PORT": str(port), "PYTHONUNBUFFERED": "1"})
        env.update({f"SPEECHES_{k}": v for k, v in settings.items()})
        with self.log.open("w") as log:  # cwd = home: no developer .env is read
            self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=home, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, headers: dict | None = None, timeout: float = 240) -> App:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"app.py exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/speeches", headers=headers or {}, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"app.py was not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class HostPages:
    """Static intranet pages on another local port (another origin)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def host_page(app_url: str, **data: str) -> str:
    attributes = " ".join(f'data-{k}="{v}"' for k, v in data.items())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>示例单位内网门户（测试页）</title>
<style>body {{ font-family: "WenQuanYi Zen Hei", sans-serif; margin: 40px; color: #333; }}
.news li {{ margin: 8px 0; }}</style></head>
<body><h1>示例单位内网门户</h1><p>这是一个内网页面，右下角的按钮打开讲话助手。</p>
<ul class="news"><li>关于做好年度工作总结的通知</li><li>全市经济工作会议精神传达提纲</li><li>机关食堂本周菜单</li></ul>
<script src="{app_url}/widget.js" {attributes}></script>
</body></html>"""


class PageWatch:
    """What a page did that a test may forbid: requests off this machine, dialogs (alert() from injected markup),
    script errors; and the console, for CSP reports."""

    def __init__(self, page) -> None:
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.confirms: list[str] = []  # our own confirmations, accepted
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("request", self._request)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(message.text))

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith("http://127.0.0.1:") or url.startswith(("data:", "blob:", "about:"))):
            self.external.append(url)

    def _dialog(self, dialog) -> None:
        if dialog.type == "confirm":  # our own "delete this speech?"
            self.confirms.append(dialog.message)
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


# -- helpers for the Gradio UI -----------------------------------------------------------------------------------

def open_ui(page, url: str) -> None:
    """Gradio pages never reach "networkidle": wait for load, then for the question box."""
    page.goto(url, wait_until="load")
    page.wait_for_selector("#question textarea")


def choose(page, selector: str, text: str) -> None:
    """Pick the option containing ``text`` in a Gradio dropdown (its choices arrive with the page's load event,
    or after an upload: retry until they are there)."""
    box = page.locator(f"{selector} input")
    option = page.locator("[role=option]", has_text=text).first
    deadline = time.monotonic() + 30
    while True:
        box.click()
        box.fill(text)
        try:
            option.wait_for(timeout=1000)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            box.press("Escape")
    option.click()
    page.wait_for_function(
        "([s, t]) => document.querySelector(s + ' input').value.includes(t)", arg=[selector, text])


def wait_for_text(page, selector: str, text: str, timeout: float = 30_000) -> None:
    """Wait until ``text`` is visible inside ``selector`` (Gradio tables keep hidden copies of their cells)."""
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def ask_in_chat(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")


STREAM_WATCH = """() => {
  window.__answerStates = [];
  new MutationObserver(() => {
    const answer = [...document.querySelectorAll(%r)].pop();
    if (!answer) return;
    const text = answer.textContent.replace('▍', '').trim();
    window.__answerStates.push({streaming: answer.classList.contains('streaming'), chars: text.length,
                                t: performance.now()});
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
