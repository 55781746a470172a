"""Word documents (.docx) of an answer (or a whole conversation), a comparison, a quote check and a topic view.

Each is built from the result's JSON, as the API returns it: an answer and a comparison from their ``segments``
(answer/segments.py), never by parsing their text; a citation is a real Word footnote (``footnotes.xml``, numbered by
Word) holding the quote with its speech's title, date, id and character offsets, so the document can be checked
against the library. Text is added as text runs only: nothing in a speech or a question becomes markup or a field.

Fonts: every style names an East Asian font (``w:eastAsia``: 宋体 for text, 黑体 for headings; theme fonts removed,
since Word and WPS prefer a theme font over the named one) and a Western one, and the document's language is zh-CN,
so Word and WPS show the Chinese text in those fonts on any machine that has them (both ship with Windows and WPS).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_COLOR_INDEX
from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import XmlPart
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, RGBColor

from web.render import speech_label

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BODY_FONT, HEADING_FONT, WESTERN_FONT = "宋体", "黑体", "Times New Roman"
STATUS = {"exact": "一字不差", "altered": "有改动", "not_found": "未找到"}
_DROPPED, _ADDED = RGBColor(0xB9, 0x1C, 0x1C), RGBColor(0x1D, 0x4E, 0xD8)
_FOOTNOTES = (
    f'<w:footnotes {nsdecls("w")}>'
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:pPr><w:spacing w:after="0" w:line="240" w:lineRule="auto"/>'
    "</w:pPr><w:r><w:separator/></w:r></w:p></w:footnote>"
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:pPr><w:spacing w:after="0" w:line="240" '
    'w:lineRule="auto"/></w:pPr><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>'
    "</w:footnotes>"
)


class _Writer:
    """A document being written: styles with CJK fonts, and footnotes."""

    def __init__(self, title: str) -> None:
        self.doc = Document()
        _fonts(self.doc)
        self.footnotes = parse_xml(_FOOTNOTES)
        part = XmlPart(PackURI("/word/footnotes.xml"), CONTENT_TYPE.WML_FOOTNOTES, self.footnotes,
                       self.doc.part.package)
        self.doc.part.relate_to(part, RELATIONSHIP_TYPE.FOOTNOTES)
        self.notes = 0
        self.doc.core_properties.title = title
        self.doc.add_heading(title, level=0)
        self.line(f"由讲话助手导出，{datetime.now():%Y-%m-%d %H:%M}。"
                  "脚注中的“第 m–n 字”是引文在资料库所存讲话全文中的位置。",
                  size=9)

    def line(self, *texts: str, style: str | None = None, size: float | None = None, bold_first: bool = False):
        paragraph = self.doc.add_paragraph(style=style)
        for i, text in enumerate(texts):
            run = paragraph.add_run(text)
            run.bold = bold_first and i == 0
            if size:
                run.font.size = Pt(size)
        return paragraph

    def footnote(self, paragraph, text: str) -> int:
        """A footnote holding ``text``, referenced at the end of ``paragraph``; its number (Word's too)."""
        self.notes += 1
        note = OxmlElement("w:footnote")
        note.set(qn("w:id"), str(self.notes))
        body = OxmlElement("w:p")
        style = OxmlElement("w:pPr")
        style.append(_val("w:pStyle", "FootnoteText"))
        body.append(style)
        mark = OxmlElement("w:r")
        mark.append(_run_style("FootnoteReference"))
        mark.append(OxmlElement("w:footnoteRef"))
        body.append(mark)
        body.append(_text_run(" " + text))
        note.append(body)
        self.footnotes.append(note)
        reference = OxmlElement("w:r")
        reference.append(_run_style("FootnoteReference"))
        ref = OxmlElement("w:footnoteReference")
        ref.set(qn("w:id"), str(self.notes))
        reference.append(ref)
        paragraph._p.append(reference)
        return self.notes

    def segments(self, segments: Sequence[Mapping], citations: Mapping[str, Mapping]) -> int:
        """An answer's or a comparison's segments: paragraphs and list items; a citation becomes a footnote with its
        quote (a citation cited again: a footnote pointing to the first); flagged sentences highlighted. Returns
        how many flagged runs there were."""
        first_note: dict[str, int] = {}
        flagged = 0
        for block in segments:
            paragraph = self.doc.add_paragraph(style="List Bullet" if block.get("kind") == "item" else None)
            for run in block.get("runs", []):
                if run.get("cite") is not None:
                    label = str(run["cite"])
                    citation = citations.get(label)
                    if citation is None:
                        paragraph.add_run(f"[{label}]")
                    elif label in first_note:
                        self.footnote(paragraph, f"[{label}] 同注 {first_note[label]}。")
                    else:
                        first_note[label] = self.footnote(paragraph, f"[{label}] {cited(citation)}")
                else:
                    added = paragraph.add_run(str(run.get("text", "")))
                    if run.get("flag") is not None:
                        added.font.highlight_color = WD_COLOR_INDEX.YELLOW
                        flagged += 1
        return flagged

    def save(self) -> bytes:
        settings = self.doc.settings.element
        if settings.find(qn("w:footnotePr")) is None:  # the separators, as Word writes them
            pr = parse_xml(f'<w:footnotePr {nsdecls("w")}><w:footnote w:id="-1"/><w:footnote w:id="0"/></w:footnotePr>')
            settings.insert_element_before(pr, *_AFTER_FOOTNOTE_PR)
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()


def cited(citation: Mapping) -> str:
    """What a footnote says of a quoted passage: the speech, its id, the offsets, the quote."""
    where = speech_label(citation.get("title") or citation.get("speech_id", ""), citation.get("date"))
    start, end = int(citation.get("start") or 0), int(citation.get("end") or 0)
    quote = " ".join(str(citation.get("text", "")).split())
    return f"{where}，编号 {citation.get('speech_id', '')}，第 {start + 1}–{end} 字：“{quote}”"


# -- the four results ----------------------------------------------------------------------------------------------


def answer_docx(answer: Mapping) -> bytes:
    return conversation_docx([answer])


def conversation_docx(answers: Sequence[Mapping]) -> bytes:
    """One or more answers, each with its question; footnotes numbered through the document."""
    w = _Writer("讲话助手 · 回答" if len(answers) == 1 else "讲话助手 · 对话")
    for n, answer in enumerate(answers, 1):
        heading = "问题" if len(answers) == 1 else f"问题 {n}"
        w.doc.add_heading(heading, level=1)
        w.line(str(answer.get("question", "")))
        w.doc.add_heading("回答", level=2 if len(answers) > 1 else 1)
        cited_by_label = {str(c.get("label")): c for c in [*answer.get("context", []), *answer.get("citations", [])]}
        w.segments(answer.get("segments", []), cited_by_label)
        _flagged(w, answer.get("unsupported_sentences", []))
    return w.save()


def comparison_docx(comparison: Mapping) -> bytes:
    topic = str(comparison.get("topic", ""))
    w = _Writer(f"比较：{topic}")
    speeches = comparison.get("speeches", {})
    for key in ("A", "B"):
        side = speeches.get(key)
        if side:
            w.line(f"讲话 {key}：", speech_label(side.get("title", ""), side.get("date")),
                   f"（编号 {side.get('speech_id')}）", bold_first=True)
    w.doc.add_heading("比较", level=1)
    labelled = [*comparison.get("citations", [])]
    for side in speeches.values():
        labelled += side.get("passages", [])
    w.segments(comparison.get("segments", []), {str(c.get("label")): c for c in labelled})
    _flagged(w, comparison.get("unsupported_sentences", []))
    return w.save()


def quotes_docx(check: Mapping) -> bytes:
    sentences = check.get("sentences", [])
    w = _Writer("引文核对")
    counts = {status: sum(s.get("status") == status for s in sentences) for status in STATUS}
    w.line(f"共核对 {len(sentences)} 处：{counts['exact']} 处与原文一字不差，{counts['altered']} 处有改动，"
           f"{counts['not_found']} 处在资料库中未找到。", bold_first=True)
    for n, sentence in enumerate(sentences, 1):
        status = sentence.get("status", "not_found")
        w.doc.add_heading(f"{n}. {STATUS.get(status, status)}", level=2)
        quote = w.line("引文：", str(sentence.get("text", "")), bold_first=True)
        if status in ("exact", "altered") and sentence.get("speech_id"):
            w.footnote(quote, cited({**sentence, "text": sentence.get("source_text", "")}))
        if status == "altered":
            _diff(w, sentence.get("diff", []))
        if sentence.get("also_in"):
            w.line("同样的文字也见于：", "、".join(map(str, sentence["also_in"])), bold_first=True, size=9)
        if status == "not_found":
            nearest = sentence.get("nearest", [])
            w.line("资料库中没有找到这段话。" + ("最接近的段落：" if nearest else ""))
            for passage in nearest:
                item = w.line(" ".join(str(passage.get("text", "")).split())[:120], style="List Bullet")
                w.footnote(item, cited(passage))
    return w.save()


def topic_docx(view: Mapping) -> bytes:
    topic = str(view.get("topic", ""))
    speeches = view.get("speeches", [])
    w = _Writer(f"主题：{topic}")
    w.line(f"资料库中有 {view.get('addressing', len(speeches))} 篇讲话论及“{topic}”"
           f"（列出 {len(speeches)} 篇，按日期排列）。论述占比：讲话中涉及这个主题的段落所占的比例。", bold_first=True)
    years = [y for y in view.get("years", []) if y.get("speeches")]
    if years:
        w.doc.add_heading("按年份", level=1)
        table = w.doc.add_table(rows=1, cols=4)
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, ("年份", "论及的讲话", "涉及段落", "论述占比")):
            cell.text = text
        for year in years:
            cells = table.add_row().cells
            values = (str(year.get("year") or "未知"), f"{year.get('addressing', 0)} / {year.get('speeches', 0)}",
                      f"{year.get('on_topic', 0)} / {year.get('passages_total', 0)}",
                      f"{100 * float(year.get('strength', 0)):.1f}%")
            for cell, text in zip(cells, values):
                cell.text = text
    w.doc.add_heading("各篇讲话", level=1)
    for speech in speeches:
        w.doc.add_heading(speech_label(speech.get("title", ""), speech.get("date")), level=2)
        w.line(f"论述占比 {100 * float(speech.get('strength', 0)):.1f}%（{speech.get('on_topic', 0)} / "
               f"{speech.get('passages_total', 0)} 段），编号 {speech.get('speech_id', '')}", size=9)
        for quote in speech.get("passages", []):
            paragraph = w.line(f"“{' '.join(str(quote.get('text', '')).split())}”", style="Quote")
            w.footnote(paragraph, cited(quote))
    return w.save()


def document(kind: str, result: Mapping) -> bytes:
    """The document of a result of ``kind``: answer, comparison, verify, topic."""
    kinds = {"answer": answer_docx, "comparison": comparison_docx, "verify": quotes_docx, "topic": topic_docx}
    return kinds[kind](result)


def file_name(kind: str) -> str:
    what = {"answer": "回答", "comparison": "比较", "verify": "引文核对", "topic": "主题"}.get(kind, kind)
    return f"讲话助手-{what}-{datetime.now():%Y%m%d-%H%M%S}.docx"


# -- pieces ----------------------------------------------------------------------------------------------------------


def _diff(w: _Writer, ops: Sequence[Mapping]) -> None:
    """The diff as one paragraph: what the speech says and the quote left out struck through in red, what the quote
    added underlined in blue, meaning-bearing changes in bold, words left out at "……" in grey brackets."""
    paragraph = w.line("与原文对照：", bold_first=True)
    for op in ops:
        kind, source, text = op.get("op"), str(op.get("source", "")), str(op.get("text", ""))
        strong = bool(op.get("significant"))
        if kind == "same":
            paragraph.add_run(source)
        elif kind == "elided":
            run = paragraph.add_run(f"〔省略：{source}〕")
            run.font.color.rgb = RGBColor(0x6B, 0x72, 0x80)
        else:
            if source:
                run = paragraph.add_run(source)
                run.font.strike, run.font.color.rgb, run.bold = True, _DROPPED, strong
            if text:
                run = paragraph.add_run(text)
                run.font.underline, run.font.color.rgb, run.bold = True, _ADDED, strong
    w.line("删除线（红）：原文有而引文没有；下划线（蓝）：引文有而原文没有；加粗：涉及数字、否定或增减的改动。", size=9)


def _flagged(w: _Writer, unsupported: Sequence[str]) -> None:
    if unsupported:
        w.line(f"⚠ {len(unsupported)} 句话未通过引用核对（已用黄色标出）："
               "所引的讲话原文不支持它们，请核对原文。", size=9)


def _fonts(doc) -> None:
    """East Asian and Western fonts on the document defaults and every style we use; zh-CN as its language."""
    styles = doc.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    r_pr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(r_pr, BODY_FONT)
    lang = r_pr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        r_pr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")
    if "Footnote Text" not in [s.name for s in styles]:
        text = styles.add_style("Footnote Text", WD_STYLE_TYPE.PARAGRAPH)
        text.base_style = styles["Normal"]
        text.font.size = Pt(9)
        text.paragraph_format.space_after = Pt(0)
        mark = styles.add_style("Footnote Reference", WD_STYLE_TYPE.CHARACTER)
        mark.font.superscript = True
    for style in styles:
        if style.type in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER) and (
                style.name in ("Normal", "Title", "Quote", "List Bullet", "Footnote Text", "Footnote Reference")
                or style.name.startswith("Heading")):
            heading = style.name == "Title" or style.name.startswith("Heading")
            _set_fonts(style.element.get_or_add_rPr(), HEADING_FONT if heading else BODY_FONT)


def _set_fonts(r_pr, east_asian: str) -> None:
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        r_pr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    for name, value in (("w:ascii", WESTERN_FONT), ("w:hAnsi", WESTERN_FONT), ("w:eastAsia", east_asian),
                        ("w:cs", WESTERN_FONT)):
        fonts.set(qn(name), value)


def _val(tag: str, value: str):
    element = OxmlElement(tag)
    element.set(qn("w:val"), value)
    return element


def _run_style(name: str):
    r_pr = OxmlElement("w:rPr")
    r_pr.append(_val("w:rStyle", name))
    return r_pr


def _text_run(text: str):
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.set(qn("xml:space"), "preserve")
    t.text = text
    run.append(t)
    return run


# what follows w:footnotePr in w:settings (the schema's order)
_AFTER_FOOTNOTE_PR = ("w:endnotePr", "w:compat", "w:docVars", "w:rsids", "m:mathPr", "w:attachedSchema",
                      "w:themeFontLang", "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats",
                      "w:doNotAutoCompressPictures", "w:forceUpgrade", "w:captions", "w:readModeInkLockDown",
                      "w:smartTagType", "sl:schemaLibrary", "w:shapeDefaults", "w:doNotEmbedSmartTags",
                      "w:decimalSymbol", "w:listSeparator")
