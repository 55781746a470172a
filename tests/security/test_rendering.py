"""Issue 11, finding 5: speech text and questions are shown as written, never as formulas, citations, images or
markup. Replays the attack against a real ``python app.py`` (extractive answers, real library and retrieval):

- a speech holding ``$$\\rule{3000px}{3000px}$$`` (it covered the page), ``\\color{red}`` (it recoloured a
  quote), its own ``[1]``, ``【2】``, ``[A1]`` (they became citation chips, or were cut out of the quote),
  ``<img onerror>``, a ``javascript:`` link and a Markdown image;
- a question holding a Markdown image of a local server (the chat loaded it: the server counts the requests).

Checked in the Gradio chat and on /embed in chromium, and in the Markdown export (the copy box, the downloaded file,
and the ``markdown`` field of streamed answers and comparisons) read by a Markdown renderer that allows everything.
One app for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from markdown_it import MarkdownIt

from browser.helpers import ROOT, App, ask_in_chat, free_port, open_ui

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUOTE = ("琥珀湾防汛工作要做到三个到位$$\\rule{3000px}{3000px}$$：责任到位[1]、措施到位【2】、物资到位[A1]，"
         "坚持\\color{red}{分级负责}<img src=x onerror=\"window.__pwned=1\">[点我](javascript:alert(1))，"
         "确保安全度汛。")
SPEECH = """在琥珀湾防汛工作会议上的讲话
（2026年5月6日）![t](http://127.0.0.1:{port}/speech.png)
同志们：
{quote}
各单位要加强值班值守，发现险情及时报告。
"""
QUESTION = "琥珀湾防汛工作要做到哪三个到位？"
FLOOD = "2026-flood"
OTHER = "2024-county-congress-closing"


class Images:
    """A local server standing for a remote host: counts every request made to it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def images():
    server = Images()
    yield server
    server.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, images):
    """The app over a library of the hostile speech and one sample, ingested by ``python -m ingest``."""
    home = tmp_path_factory.mktemp("rendering")
    speeches = home / "speeches"
    speeches.mkdir()
    (speeches / f"{FLOOD}.txt").write_text(SPEECH.format(port=images.port, quote=QUOTE), encoding="utf-8")
    for name in (f"{OTHER}.txt", f"{OTHER}.meta.json"):
        (speeches / name).write_bytes((ROOT / "samples" / name).read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    env.update(SPEECHES_DATA_DIR=str(home / "data"), SPEECHES_LLM="extractive")
    done = subprocess.run([sys.executable, "-m", "ingest", str(speeches), "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    running = App(home, free_port())
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def permissive_html(markdown: str) -> str:
    """What a Markdown viewer that trusts its input would show: raw HTML on, every link and image URL allowed."""
    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True
    return renderer.render(markdown)


def assert_inert_markdown(markdown: str) -> None:
    html = permissive_html(markdown)
    assert "<img" not in html and "href=" not in html and "<script" not in html, html  # no image, link or tag
    text = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert QUOTE in text, "the quote does not read as written in the Markdown export"


def assert_no_image_requested(images: Images) -> None:
    assert not images.paths, f"an image was requested from the 'remote' server: {images.paths}"


QUOTE_ITEMS_JS = """(selector) => [...document.querySelectorAll(selector)].map(li => ({
    text: li.innerText, chips: li.querySelectorAll('a.cite-chip, button.chip').length}))"""


def test_the_gradio_chat_shows_quotes_and_questions_as_written(app, images, page):
    open_ui(page, app.url + "/")
    ask_in_chat(page, QUESTION)
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")
    assert page.locator("#chatbot .katex, #chatbot .katex-display, #chatbot math").count() == 0
    items = page.evaluate(QUOTE_ITEMS_JS, "#chatbot .answer:not(.streaming) li")
    quoted = [item for item in items if "三个到位" in item["text"]]
    assert len(quoted) == 1, items
    assert QUOTE in quoted[0]["text"].replace("\n", ""), quoted  # verbatim: brackets, formula, markup as text
    assert all(item["chips"] == 1 for item in items), items  # one chip per quote: its own citation, nothing else
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0

    image = f"![t](http://127.0.0.1:{images.port}/question.png)"
    ask_in_chat(page, f"{image} 防汛物资怎么管？")
    page.wait_for_function("document.querySelectorAll('#chatbot .answer:not(.streaming)').length >= 2")
    shown = page.inner_text("#chatbot")
    assert image in shown, shown
    assert page.locator("#chatbot img[src*='127.0.0.1']").count() == 0

    # the export: the copy box and the downloaded conversation
    page.click("#export button")
    exported = page.input_value("#export-md textarea")
    assert image.replace("[", "\\[").replace("]", "\\]").replace("!", "\\!") in exported
    with page.expect_download() as download:
        page.click("#export-download")
    conversation = open(download.value.path(), encoding="utf-8").read()
    assert_inert_markdown(conversation)
    assert "<img" not in permissive_html(exported) and "href=" not in permissive_html(exported)
    assert_no_image_requested(images)


def test_the_embed_page_shows_quotes_as_written(app, images, page):
    page.goto(app.url + "/embed", wait_until="load")
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot .answer:not(.streaming) .chip")
    items = page.evaluate(QUOTE_ITEMS_JS, ".msg.bot .answer li")
    quoted = [item for item in items if "三个到位" in item["text"]]
    assert len(quoted) == 1 and QUOTE in quoted[0]["text"], items
    assert all(item["chips"] == 1 for item in items), items
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert not page.watch.errors
    assert_no_image_requested(images)


def stream_lines(app, path: str, body: dict) -> list[dict]:
    response = httpx.post(f"{app.url}{path}", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_streamed_markdown_is_inert_and_segments_cite_only_what_the_code_cited(app, images):
    last = stream_lines(app, "/api/ask/stream", {"question": QUESTION})[-1]
    answer = last["answer"]
    assert_inert_markdown(last["markdown"])
    cites = [run["cite"] for block in answer["segments"] for run in block["runs"] if "cite" in run]
    assert cites == [c["label"] for c in answer["context"]] and answer["dropped_markers"] == []
    quote_runs = [run["text"] for block in answer["segments"] for run in block["runs"]
                  if "三个到位" in run.get("text", "")]
    assert quote_runs == [f"「{QUOTE}」"]

    image = f"![t](http://127.0.0.1:{images.port}/api-question.png)"
    asked = stream_lines(app, "/api/ask/stream", {"question": f"{image}<img src=x onerror=alert(1)>防汛物资怎么管？"})
    html = permissive_html(asked[-1]["markdown"])
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html

    compared = stream_lines(app, "/api/compare/stream",
                            {"speech_a": FLOOD, "speech_b": OTHER, "topic": "防汛 三个到位"})
    assert "comparison" in compared[-1], compared[-1]
    assert_inert_markdown(compared[-1]["markdown"])
    assert_no_image_requested(images)
