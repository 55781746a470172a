"""The Gradio app in a real browser: chat with citations, comparison, library upload, markup that must stay text."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from answer.events import Queued
from browser.helpers import SHARED, STREAM_WATCH, ask_in_chat, choose, open_ui, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]

GROWTH_QUESTION = "今年全市经济增长的预期目标是多少？"


def test_chat_streams_the_answer_and_a_citation_opens_the_highlighted_passage(app, page, screenshots):
    open_ui(page, app.url + "/")
    page.evaluate(STREAM_WATCH % "#chatbot .answer")
    ask_in_chat(page, GROWTH_QUESTION)
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")

    states = page.evaluate("window.__answerStates")
    assert any(s["streaming"] and s["chars"] > 0 for s in states), "no partial answer was shown while streaming"
    assert not states[-1]["streaming"]
    assert "5%左右" in page.inner_text("#chatbot")

    expected = httpx.post(f"{app.url}/api/ask", json={"question": GROWTH_QUESTION}, timeout=60).json()
    first = expected["citations"][0]
    page.locator("#chatbot .answer a.cite-chip", has_text=first["label"]).first.click()
    mark = page.locator("#passage-viewer mark.cited")
    mark.wait_for()
    assert mark.inner_text().replace("\n", "") == first["text"].replace("\n", "")
    assert first["title"] in page.inner_text("#passage-viewer .speech-head")
    # scrolled into view inside the speech's scrolling box
    assert page.evaluate("""() => {
        const m = document.querySelector('#passage-viewer mark.cited').getBoundingClientRect();
        const box = document.querySelector('#passage-viewer .speech-text').getBoundingClientRect();
        return m.top >= box.top - 1 && m.top < box.bottom;
    }""")
    screenshots(page, "chat")

    # thumbs up: stored locally with the question, the answer and its citations
    page.locator('#chatbot button[aria-label="赞"]').last.click()  # Gradio's Like, in zh-CN
    feedback = app.data_dir / "feedback.jsonl"
    page.wait_for_function("() => document.body.innerText.includes('反馈已记录')")
    record = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert (record["vote"], record["question"]) == ("up", GROWTH_QUESTION)
    assert record["citations"][0]["text"] == first["text"]

    # a follow-up uses the conversation, and the answer can be exported as Markdown with its sources
    ask_in_chat(page, "那去年呢？")
    page.wait_for_function("document.querySelectorAll('#chatbot .answer:not(.streaming)').length >= 2")
    page.click("#export button")
    exported = page.input_value("#export-md textarea")
    assert exported.startswith("## 问题\n\n那去年呢？") and "## 来源" in exported

    # the whole conversation downloads as one Markdown file, both questions with their sources
    with page.expect_download() as download:
        page.click("#export-download")
    conversation = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    assert conversation.index(f"## 问题\n\n{GROWTH_QUESTION}") < conversation.index("## 问题\n\n那去年呢？")
    assert conversation.count("## 来源") == 2 and exported in conversation

    # 新对话: the chat, the export and the passage viewer start afresh, and the next question has no history
    page.click("#new-chat")
    page.wait_for_function("() => !document.querySelector('#chatbot .answer')")
    assert page.input_value("#export-md textarea") == ""
    assert page.locator("#export-download").is_disabled()
    assert "cited" not in page.inner_html("#passage-viewer")
    ask_in_chat(page, "那去年呢？")  # no earlier question now: not a follow-up of the growth target
    page.wait_for_selector("#chatbot .answer:not(.streaming)")
    page.click("#export button")
    assert page.input_value("#export-md textarea").startswith("## 问题\n\n那去年呢？")
    assert page.locator("#chatbot .question").count() == 1


def test_errors_show_as_a_friendly_message(app, page):
    open_ui(page, app.url + "/")
    ask_in_chat(page, "问" * 2100)  # longer than the answering chain accepts
    error = page.locator("#chatbot .app-error")
    error.wait_for()
    assert error.inner_text().strip().endswith("问题太长了（2100 字），最多 2000 字。")
    assert "Traceback" not in page.inner_text("body") and "the question" not in page.inner_text("body")


def test_compare_two_speeches_with_citations(app, page, screenshots):
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="比较").click()
    choose(page, "#speech-a", "县第十八届人民代表大会")
    choose(page, "#speech-b", "全市经济工作会议")
    page.fill("#topic textarea", "经济增长目标")
    page.click("#compare-button")
    page.wait_for_selector("#comparison .answer:not(.streaming) a.cite-chip")

    assert page.locator("#compare-a mark.cited").count() >= 1
    assert page.locator("#compare-b mark.cited").count() >= 1
    chip = page.locator("#comparison .answer a.cite-chip", has_text="B1").first
    chip.click()
    page.wait_for_selector("#cmp-B1.flash")
    titles = {s["id"]: s["title"] for s in httpx.get(f"{app.url}/api/speeches", timeout=30).json()}
    compared = page.inner_text("#comparison")  # without an LLM: each speech's best sentences under its title
    assert f"A：《{titles['2024-county-congress-closing']}》" in compared
    assert f"B：《{titles['2025-city-work-meeting']}》" in compared
    screenshots(page, "compare", full_page=True)

    # the comparison's copy: its Markdown with the sources, as the copy button puts it on the clipboard
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page.get_by_text("复制 / 导出比较结果（Markdown、Word，含来源）").click()
    markdown = page.input_value("#comparison-md textarea")
    assert markdown.startswith("## 比较：经济增长目标") and "## 来源" in markdown and "[B1]" in markdown
    page.locator("#comparison-md button").first.click()
    page.wait_for_function("(text) => navigator.clipboard.readText().then((got) => got === text)", arg=markdown)


def test_upload_a_gbk_file_and_see_it_listed(app, page, screenshots):
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="资料库").click()
    page.set_input_files("#upload input[type=file]",
                         [str(SHARED / "hostile" / "gbk_encoded_speech.txt"), str(SHARED / "hostile" / "corrupt.pdf")])
    wait_for_text(page, "#upload-results", "gbk_encoded_speech.txt", timeout=120_000)
    wait_for_text(page, "#upload-results", "corrupt.pdf")
    cells = [c for c in page.evaluate("document.querySelector('#upload-results').innerText").splitlines() if c.strip()]
    outcome = dict(zip(cells, cells[1:]))  # each file name's next cell is its result
    assert (outcome["gbk_encoded_speech.txt"], outcome["corrupt.pdf"]) == ("成功", "失败")
    wait_for_text(page, "#library-table", "在市人民代表大会第二次会议闭幕会上的讲话")

    choose(page, "#library-pick", "第二次会议闭幕会")
    page.click("#show-text")
    page.wait_for_selector("#full-text .speech-text")
    assert "同志们" in page.inner_text("#full-text")
    screenshots(page, "library", full_page=True)

    page.click("#delete-speech")  # confirmed by the page fixture's dialog handler
    wait_for_text(page, "#full-text", "已删除")
    assert page.watch.confirms[-1].startswith("删除讲话“在市人民代表大会第二次会议闭幕会上的讲话")  # names it
    page.wait_for_function("() => !document.querySelector('#library-table').innerText.includes('第二次会议闭幕会')")
    assert "gbk_encoded_speech" not in [s["id"] for s in httpx.get(f"{app.url}/api/speeches").json()]


def test_markup_in_a_speech_renders_as_text_and_never_runs(app, page, tmp_path):
    hostile = tmp_path / "markup-title.txt"
    hostile.write_text(
        '<img src=x onerror="window.__pwned=\'title\'">营商环境标记测试讲话\n同志们：\n'
        "今天研究优化营商环境。<script>window.__pwned='script'</script>\n"
        '<img src=x onerror="alert(\'img\')">要持续优化营商环境，让企业办事更便捷。\n',
        encoding="utf-8")
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="资料库").click()
    page.set_input_files("#upload input[type=file]",
                         [str(hostile), str(SHARED / "hostile" / "injection_and_markup.txt")])
    wait_for_text(page, "#upload-results", "injection_and_markup.txt", timeout=120_000)
    wait_for_text(page, "#library-table", "营商环境标记测试讲话")
    choose(page, "#library-pick", "营商环境标记测试讲话")
    page.click("#show-text")
    page.wait_for_selector("#full-text .speech-text")
    assert "<script>window.__pwned='script'</script>" in page.inner_text("#full-text")

    page.get_by_role("tab", name="对话").click()
    ask_in_chat(page, "怎样优化营商环境？")
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")
    for chip in page.locator("#chatbot a.cite-chip").all()[:4]:
        chip.click()
        page.wait_for_selector("#passage-viewer mark.cited")
    shown = page.inner_text("body")
    assert "<img src=x onerror=" in shown or "<script>" in shown

    page.goto(app.url + "/embed", wait_until="load")
    page.fill("#question", "怎样优化营商环境？")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot .chip")
    page.locator(".msg.bot .chip").first.click()
    page.wait_for_selector("#viewer-text mark")

    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert not page.watch.errors


TEXT_WATCH = """() => {
  window.__texts = [];
  new MutationObserver(() => {
    const answer = [...document.querySelectorAll('.msg.bot .answer')].pop();
    if (answer) window.__texts.push(answer.textContent);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_the_embed_page_shows_its_place_in_the_queue_and_new_chat_starts_afresh(app, page):
    # the app's own answer stream, as the local model's queue would begin it: a queue line first
    answer = httpx.post(f"{app.url}/api/ask/stream", json={"question": GROWTH_QUESTION}, timeout=60)
    queued = Queued(2, 3)
    body = "\n".join([json.dumps(queued.as_json(), ensure_ascii=False), *answer.text.splitlines()]) + "\n"
    sent = []

    def stream(route):
        sent.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/x-ndjson", body=body)

    page.route("**/api/ask/stream", stream)
    page.goto(app.url + "/embed", wait_until="load")
    page.evaluate(TEXT_WATCH)
    for n, question in enumerate((GROWTH_QUESTION, "那去年呢？"), 1):
        page.fill("#question", question)
        page.press("#question", "Enter")
        page.wait_for_function(f"document.querySelectorAll('.msg.bot .answer:not(.streaming) .chip').length >= {n}")
    assert queued.text() in page.evaluate("window.__texts")  # "（排队中：您是第 2 位，共 3 人在等待本机模型……）"
    assert [m["content"] for m in sent[1]["history"]][:1] == [GROWTH_QUESTION]  # the follow-up has the conversation

    page.click("#new-chat")
    assert page.locator("#messages .msg").count() == 0
    page.fill("#question", "生态环境保护要坚持什么？")
    page.press("#question", "Enter")
    page.wait_for_selector(".msg.bot .answer:not(.streaming) .chip")
    assert sent[2]["history"] == []


def test_api_docs_are_served_without_a_cdn(app, page):
    page.goto(app.url + "/docs", wait_until="load")
    page.wait_for_selector(".op")
    text = page.inner_text("#operations")
    for path in ("/api/ask", "/api/compare", "/api/speeches"):
        assert path in text


def test_the_conversation_survives_a_reload_until_new_chat(app, page):
    """The chat's conversation is kept in this browser (gr.BrowserState): a reload draws it again, chips working,
    and a follow-up still reads it; 新对话 empties it for good."""
    open_ui(page, app.url + "/")
    stored = "() => localStorage.getItem('speeches-chat')"
    ask_in_chat(page, GROWTH_QUESTION)
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")
    page.wait_for_function(f"({stored})() !== null")  # the browser's copy written
    before = page.inner_text("#chatbot")
    said = before.split(GROWTH_QUESTION)[1].strip().splitlines()[0]  # the answer's first line
    page.reload(wait_until="load")
    page.wait_for_selector("#chatbot .answer a.cite-chip")
    after = page.inner_text("#chatbot")
    assert after.count(GROWTH_QUESTION) == before.count(GROWTH_QUESTION) == 1 and said in after
    page.locator("#chatbot .answer a.cite-chip").first.click()  # a restored chip opens its passage
    page.wait_for_selector("#passage-viewer mark.cited")
    ask_in_chat(page, "那去年呢？")  # the restored turn is the conversation a follow-up reads
    page.wait_for_function("document.querySelectorAll('#chatbot .answer:not(.streaming)').length >= 2")
    page.wait_for_timeout(1000)  # the follow-up's turn kept too
    kept = page.evaluate(stored)
    page.click("#new-chat")
    page.wait_for_function("!document.querySelector('#chatbot .answer')")
    page.wait_for_function(f"(kept) => ({stored})() !== kept", arg=kept)  # the emptied copy written
    page.reload(wait_until="load")
    page.wait_for_selector("#question textarea")
    page.wait_for_timeout(1500)  # the page's load events have run: nothing comes back
    assert GROWTH_QUESTION not in page.inner_text("#chatbot")
