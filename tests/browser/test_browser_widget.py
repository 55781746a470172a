"""The embeddable widget on intranet pages of other origins, and the app under a root path behind a reverse proxy."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from browser.helpers import ROOT_PATH, TOKEN, ask_in_chat, open_ui

pytestmark = [pytest.mark.slow, pytest.mark.browser]


# the evidence (quotes with chips) on screen while the answer is still streaming below it
EVIDENCE_WATCH = """() => {
  window.__evidenceFirst = false;
  new MutationObserver(() => {
    const bubble = [...document.querySelectorAll('.msg.bot')].pop();
    if (bubble && bubble.querySelector('.answer.streaming') && bubble.querySelector('.answer .chip')) {
      window.__evidenceFirst = true;
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_widget_on_an_allowed_intranet_page_can_chat(app, allowed_host, page, screenshots):
    page.goto(f"{allowed_host.url}/host.html", wait_until="load")
    button = page.locator(".speeches-widget__button")
    assert button.inner_text().strip().endswith("讲话助手")
    assert page.evaluate("getComputedStyle(document.querySelector('.speeches-widget__button')).backgroundColor") \
        == "rgb(185, 28, 28)"  # data-color
    button.click()
    frame = page.frame_locator("iframe.speeches-widget__frame")
    frame.locator("#question").wait_for()
    expect(frame.locator("#speech-filter")).to_have_value("2025-city-work-meeting")  # data-speech, once listed

    embed = page.frame(url=lambda url: "/embed?" in url)
    embed.evaluate(EVIDENCE_WATCH)
    frame.locator("#question").fill("今年经济增长的预期目标是多少？")
    frame.locator("#question").press("Enter")
    frame.locator(".msg.bot .sources .chip").first.wait_for()
    assert embed.evaluate("window.__evidenceFirst"), "the evidence was not shown before the answer was finished"
    titles = frame.locator(".msg.bot .sources .where").all_inner_texts()
    assert titles and all("全市经济工作会议" in t for t in titles)  # the default speech filter applied
    screenshots(page, "widget")

    frame.locator(".msg.bot .answer .chip").first.click()
    mark = frame.locator("#viewer-text mark")
    mark.wait_for()
    assert mark.inner_text().strip() and "全市经济工作会议" in frame.locator("#viewer-head").inner_text()

    frame.locator("#viewer-back").click()
    frame.locator("#close").click()  # the frame asks the host page by postMessage: the panel hides a moment later
    page.locator(".speeches-widget__panel").wait_for(state="hidden", timeout=5_000)


def test_widget_on_a_page_whose_origin_is_not_allowed_is_refused(app, refused_host, page):
    page.goto(f"{refused_host.url}/host.html", wait_until="load")
    page.locator(".speeches-widget__button").click()  # widget.js itself is public
    page.wait_for_function("document.querySelector('iframe.speeches-widget__frame') !== null")
    deadline_ms = 10_000
    page.wait_for_timeout(500)
    waited = 500
    while waited < deadline_ms and not any("frame-ancestors" in line for line in page.watch.console):
        page.wait_for_timeout(250)
        waited += 250
    assert any("frame-ancestors" in line and refused_host.url not in line.split("frame-ancestors")[1]
               for line in page.watch.console), page.watch.console
    frame = page.locator("iframe.speeches-widget__frame").element_handle().content_frame()
    assert frame is None or frame.query_selector("#question") is None


def test_root_path_behind_a_reverse_proxy_with_a_token(proxied_app, browser, page):
    # without the token: refused, page and API alike
    assert httpx.get(f"{proxied_app}/").status_code == 401
    assert httpx.get(f"{proxied_app}/api/speeches").status_code == 401
    assert httpx.get(f"{proxied_app}/widget.js").status_code == 200

    # /?token= once: the cookie (Path=/speeches) carries the Gradio frontend's own requests
    open_ui(page, f"{proxied_app}/?token={TOKEN}")
    ask_in_chat(page, "生态环境保护要坚持什么？")
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")
    page.locator("#chatbot .answer a.cite-chip").first.click()
    page.wait_for_selector("#passage-viewer mark.cited")
    cookies = page.context.cookies()
    assert [c["path"] for c in cookies if c["name"] == "speeches_token"] == [ROOT_PATH]

    # the embed page takes the token from its URL and sends it as a Bearer header
    page.goto(f"{proxied_app}/embed?token={TOKEN}", wait_until="load")
    page.fill("#question", "生态环境保护要坚持什么？")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot .chip")


def test_the_embed_page_keeps_its_conversation_across_a_reload_until_new_chat(app, page):
    page.goto(f"{app.url}/embed", wait_until="load")
    page.fill("#question", "今年全市经济增长的预期目标是多少？")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot .sources .chip")  # finished: its sources are listed
    said = page.locator(".msg.bot .answer").first.inner_text()
    page.reload(wait_until="load")
    page.wait_for_selector(".msg.bot .chip")
    assert page.locator(".msg.user").count() == 1 and page.locator(".msg.bot .answer").first.inner_text() == said
    assert page.locator(".msg.bot button.regenerate").count() == 1  # the restored answer can be asked again
    page.locator(".msg.bot button.regenerate").click()
    page.wait_for_function("document.querySelectorAll('.msg.bot .sources').length === 1 && "
                           "!document.querySelector('.answer.streaming')")
    assert page.locator(".msg.user").count() == 1  # in its place, not added
    page.click("#new-chat")
    page.reload(wait_until="load")
    page.wait_for_selector("#hint")
    assert page.locator(".msg").count() == 0
