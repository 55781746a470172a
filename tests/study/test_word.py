"""Word documents (web/word.py): real footnotes holding each quote with its speech and offsets, CJK fonts, text as
text. Read back with python-docx and from the package's XML."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml.ns import qn

from web import word

CITED = {"label": "1", "speech_id": "2025-city", "title": "在全市经济工作会议上的讲话", "date": "2025-02-10",
         "start": 192, "end": 210, "text": "今年全市经济增长的预期目标是5%左右"}
ANSWER = {"question": "今年的目标？<w:t>x</w:t>", "context": [CITED], "citations": [CITED],
          "unsupported_sentences": ["这句没有依据。"],
          "segments": [{"kind": "paragraph", "runs": [{"text": "目标是5%左右。"}, {"cite": "1"},
                                                      {"text": "这句没有依据。", "flag": 0}, {"cite": "1"}]},
                       {"kind": "item", "runs": [{"text": "引文里的[2]和<script>照原样。"}, {"cite": "9"}]}]}


def parts(document: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(document)) as package:
        return {name: package.read(name).decode("utf-8") for name in package.namelist()
                if name.endswith((".xml", ".rels"))}


def footnotes(document: bytes) -> list[str]:
    """The texts of the real footnotes (ids 1..), as Word numbers them."""
    root = docx.Document(io.BytesIO(document)).part.package
    part = next(p for p in root.iter_parts() if str(p.partname) == "/word/footnotes.xml")
    from docx.oxml import parse_xml

    notes = parse_xml(part.blob)
    return ["".join(t.text for t in note.iter(qn("w:t"))).strip()
            for note in notes.findall(qn("w:footnote")) if int(note.get(qn("w:id"))) > 0]


def test_an_answer_has_its_question_its_text_and_a_footnote_per_citation():
    document = word.answer_docx(ANSWER)
    paragraphs = [p.text for p in docx.Document(io.BytesIO(document)).paragraphs]
    assert "今年的目标？<w:t>x</w:t>" in paragraphs  # the question's markup is text
    assert "目标是5%左右。这句没有依据。" in paragraphs and "引文里的[2]和<script>照原样。[9]" in paragraphs
    notes = footnotes(document)
    assert notes == ["[1] 《在全市经济工作会议上的讲话》（2025-02-10），编号 2025-city，第 193–210 字："
                     "“今年全市经济增长的预期目标是5%左右”",
                     "[1] 同注 1。"]
    body = parts(document)["word/document.xml"]
    assert body.count("<w:footnoteReference") == 2 and 'w:highlight w:val="yellow"' in body
    assert "⚠ 1 句话未通过引用核对" in "".join(paragraphs)


def test_the_package_declares_its_footnotes_and_east_asian_fonts():
    xml = parts(word.answer_docx(ANSWER))
    assert "footnotes+xml" in xml["[Content_Types].xml"] and "relationships/footnotes" in xml[
        "word/_rels/document.xml.rels"]
    assert '<w:footnotePr><w:footnote w:id="-1"/><w:footnote w:id="0"/></w:footnotePr>' in xml["word/settings.xml"]
    styles = docx.Document(io.BytesIO(word.answer_docx(ANSWER))).styles
    for name, font in (("Normal", word.BODY_FONT), ("Heading 1", word.HEADING_FONT), ("Title", word.HEADING_FONT),
                       ("Footnote Text", word.BODY_FONT)):
        fonts = styles[name].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == font and fonts.get(qn("w:eastAsiaTheme")) is None, name
    assert 'w:eastAsia="zh-CN"' in xml["word/styles.xml"]


def test_a_conversation_numbers_its_footnotes_through():
    document = word.conversation_docx([ANSWER, {**ANSWER, "question": "第二问"}])
    assert len(footnotes(document)) == 4
    assert [p.text for p in docx.Document(io.BytesIO(document)).paragraphs if p.style.name == "Heading 1"] == [
        "问题 1", "问题 2"]


def test_a_comparison_names_both_speeches_and_cites_each_side():
    a = {**CITED, "label": "A1"}
    b = {**CITED, "label": "B1", "speech_id": "county", "title": "县讲话", "date": None, "start": 0, "end": 4}
    comparison = {"topic": "增长目标", "citations": [a, b], "unsupported_sentences": [],
                  "segments": [{"kind": "paragraph",
                                "runs": [{"text": "两篇都定了目标"}, {"cite": "A1"}, {"cite": "B1"}]}],
                  "speeches": {"A": {"speech_id": "2025-city", "title": "市讲话", "date": "2025", "passages": [a]},
                               "B": {"speech_id": "county", "title": "县讲话", "date": None, "passages": [b]}}}
    document = word.document("comparison", comparison)
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(document)).paragraphs)
    assert "比较：增长目标" in text and "讲话 A：《市讲话》（2025）" in text and "讲话 B：《县讲话》" in text
    assert [n[:5] for n in footnotes(document)] == ["[A1] ", "[B1] "] and "第 1–4 字" in footnotes(document)[1]


def test_a_quote_check_shows_status_source_and_diff():
    check = {"sentences": [
        {**CITED, "text": "今年全市经济增长的预期目标是6%左右", "status": "altered", "source_text": CITED["text"],
         "diff": [{"op": "same", "source": "今年全市经济增长的预期目标是", "text": "今年全市经济增长的预期目标是"},
                  {"op": "changed", "source": "5", "text": "6", "significant": True},
                  {"op": "same", "source": "%左右", "text": "%左右"}], "also_in": [], "nearest": []},
        {"text": "自己写的", "status": "not_found", "speech_id": None, "diff": [], "also_in": [],
         "nearest": [{**CITED, "text": "最接近的段落"}]}]}
    document = word.document("verify", check)
    body = docx.Document(io.BytesIO(document))
    text = "\n".join(p.text for p in body.paragraphs)
    assert "1 处有改动" in text and "2. 未找到" in text and "与原文对照：今年全市经济增长的预期目标是56%左右" in text
    struck = [r for p in body.paragraphs for r in p.runs if r.font.strike]
    assert [(r.text, r.bold) for r in struck] == [("5", True)]
    assert footnotes(document)[0].endswith("“今年全市经济增长的预期目标是5%左右”")
    assert footnotes(document)[1].endswith("“最接近的段落”")


def test_a_topic_view_has_its_years_and_each_speech_with_its_quotes():
    view = {"topic": "作风", "addressing": 1, "years": [{"year": 2024, "speeches": 2, "addressing": 1,
                                                          "strength": 0.1, "on_topic": 1, "passages_total": 10}],
            "speeches": [{"speech_id": "county", "title": "县讲话", "date": "2024-01-18", "strength": 0.1667,
                          "on_topic": 1, "passages_total": 6,
                          "passages": [{**CITED, "speech_id": "county", "text": "作风建设永远在路上。"}]}]}
    document = word.document("topic", view)
    body = docx.Document(io.BytesIO(document))
    assert [c.text for c in body.tables[0].rows[1].cells] == ["2024", "1 / 2", "1 / 10", "10.0%"]
    assert "论述占比 16.7%（1 / 6 段）" in "\n".join(p.text for p in body.paragraphs)
    assert footnotes(document) == [
        "《在全市经济工作会议上的讲话》（2025-02-10），编号 county，第 193–210 字：“作风建设永远在路上。”"]


@pytest.mark.parametrize("kind", ["answer", "comparison", "verify", "topic"])
def test_file_names_say_what_they_hold(kind):
    assert word.file_name(kind).startswith("讲话助手-") and word.file_name(kind).endswith(".docx")
