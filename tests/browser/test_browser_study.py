"""The study tabs in a real browser, against the real app (python app.py, the sample library, extractive): the quote
check, a topic across the library into the comparison, a speech's outline, and Word downloads."""

from __future__ import annotations

import zipfile

import docx
import httpx
import pytest

from browser.helpers import ask_in_chat, choose, open_ui, wait_for_text

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COUNTY_GOAL = "今年全县经济社会发展的主要预期目标是：地区生产总值增长6%左右"
DRAFT = (f"县人大常委会主任在闭幕会上指出：“{COUNTY_GOAL}”。讲话还要求“研发经费投入强度提高到3%”，"
         "并强调“这句话是起草人自己写的，讲话里并没有”。")
NOTICE = "关于学习贯彻县人代会精神的通知（测试）\n各单位：\n要抓好“三个一批”，开工一批重点项目。\n"


def footnotes_of(path) -> str:
    with zipfile.ZipFile(path) as package:
        return package.read("word/footnotes.xml").decode("utf-8")


def pick(page, selector: str, text: str) -> None:
    """Add the option containing ``text`` to a multiselect Gradio dropdown (typed, not filled: the list filters as
    keys arrive), then close the list by clicking elsewhere."""
    box = page.locator(f"{selector} input")
    box.click()
    box.fill("")
    page.keyboard.type(text)
    page.locator("[role=option]", has_text=text).first.click()
    page.locator("#app-title").click()
    wait_for_text(page, selector, text)


def download(page, selector: str):
    page.wait_for_selector(selector)
    page.wait_for_function("(s) => !document.querySelector(s).disabled", arg=selector)
    with page.expect_download() as started:
        page.click(selector)
    return started.value.path()


def test_the_quote_check_marks_each_quote_and_opens_its_source(app, page, screenshots):
    expected = httpx.post(f"{app.url}/api/verify", json={"text": DRAFT}, timeout=60).json()["sentences"]
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="核对").click()
    page.fill("#verify-text textarea", DRAFT)
    page.click("#verify-button")
    page.wait_for_selector("#verify-results .verify-item")
    items = page.locator("#verify-results .verify-item")
    assert [items.nth(i).get_attribute("class").split("st-")[1] for i in range(3)] == ["exact", "altered",
                                                                                       "not_found"]
    assert page.locator("#verify-results del.dropped.significant").inner_text() == "2.5"
    assert page.locator("#verify-results ins.added.significant").inner_text() == "3"
    items.nth(1).locator("a.source-chip").click()
    mark = page.locator("#verify-viewer mark.cited")
    mark.wait_for()
    assert mark.inner_text() == expected[1]["source_text"] == "研发经费投入强度提高到2.5%"
    assert "第" in page.inner_text("#verify-viewer .speech-head")
    screenshots(page, "verify", full_page=True)
    notes = footnotes_of(download(page, "#verify-docx"))
    assert COUNTY_GOAL in notes and "2025-city-work-meeting" in notes
    assert not page.watch.errors


def test_a_topic_across_the_library_and_two_of_its_speeches_compared(app, page, screenshots):
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="主题").click()
    page.fill("#topic-query textarea", "经济增长目标")
    page.click("#topic-button")
    page.wait_for_selector("#topic-view .topic-speech")
    assert page.locator("#topic-view .topic-speech").count() == 2
    assert "论述占比" in page.inner_text("#topic-view") and page.locator("#topic-view .bar-row").count() >= 4
    page.locator("#topic-view a.cite-chip").first.click()
    page.wait_for_selector("#topic-viewer mark.cited")
    assert "目标" in page.inner_text("#topic-viewer mark.cited")
    screenshots(page, "topic", full_page=True)
    assert zipfile.is_zipfile(download(page, "#topic-docx"))

    pick(page, "#topic-pick", "县第十八届")
    pick(page, "#topic-pick", "全市经济工作会议")
    page.click("#topic-compare")
    page.wait_for_selector("#comparison .answer:not(.streaming) a.cite-chip")
    assert "县第十八届" in page.input_value("#speech-a input")
    assert page.input_value("#topic textarea") == "经济增长目标"
    page.click("#comparison-export button")
    document = docx.Document(download(page, "#comparison-docx"))
    assert document.paragraphs[0].text == "比较：经济增长目标"


def test_a_speechs_outline_links_into_its_text_and_a_shared_formula_to_the_topic_view(app, page, screenshots,
                                                                                       tmp_path):
    notice = tmp_path / "学习通知.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    open_ui(page, app.url + "/")
    page.get_by_role("tab", name="资料库").click()
    page.set_input_files("#upload input[type=file]", [str(notice)])
    wait_for_text(page, "#upload-results", "学习通知.txt", timeout=120_000)
    try:
        choose(page, "#library-pick", "县第十八届")
        page.click("#show-text")
        page.wait_for_selector("#speech-outline .outline-headings")
        heading = page.locator("#speech-outline a.jump", has_text="三、持续加强作风建设")
        heading.click()
        anchor = heading.get_attribute("href")[1:]  # ol-hN: the heading's mark in the text
        page.wait_for_selector(f"#{anchor}.flash")
        assert page.inner_text(f"#{anchor}") == "三、持续加强作风建设"
        assert page.evaluate("""() => {
            const m = [...document.querySelectorAll('#full-text mark.flash')][0].getBoundingClientRect();
            const box = document.querySelector('#full-text .speech-text').getBoundingClientRect();
            return m.top >= box.top - 1 && m.top < box.bottom;
        }""")
        assert "增长6%左右" in page.inner_text("#speech-outline .outline-figures")
        screenshots(page, "outline", full_page=True)
        page.locator("#speech-outline a.topic-link").first.click()
        page.wait_for_function("() => document.querySelector('#topic-query textarea')?.value === '三个一批'")
        page.wait_for_selector("#topic-view .topic-speech")
        # the county speech is a sample: beside a speech of the user's own, the topic view sets it aside
        assert page.locator("#topic-view .topic-speech").count() == 1
        assert "学习贯彻县人代会精神" in page.inner_text("#topic-view .topic-speech")
    finally:
        page.get_by_role("tab", name="资料库").click()
        choose(page, "#library-pick", "学习贯彻县人代会精神")
        page.click("#delete-speech")
        wait_for_text(page, "#full-text", "已删除")


def test_an_answer_downloads_as_word_with_its_citations_as_footnotes(app, page):
    open_ui(page, app.url + "/")
    ask_in_chat(page, "今年全市经济增长的预期目标是多少？")
    page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite-chip")
    page.click("#export button")
    path = download(page, "#export-docx")
    notes = footnotes_of(path)
    assert "在全市经济工作会议上的讲话（示例）" in notes and "5%左右" in notes
    body = docx.Document(path)
    assert body.paragraphs[0].text == "讲话助手 · 回答" and "今年全市经济增长的预期目标是多少？" in [
        p.text for p in body.paragraphs]
