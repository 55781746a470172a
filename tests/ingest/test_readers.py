"""Reading speech files: the hostile inputs in ../shared/hostile, each format, and the normalisation rules."""

from __future__ import annotations

import difflib
import zipfile
from pathlib import Path

import docx
import pytest

from ingest.normalise import looks_hard_wrapped, normalise_text
from ingest.readers import SpeechFileError, read_speech_text, read_text

SHARED = Path(__file__).resolve().parents[3] / "shared"
HOSTILE = SHARED / "hostile"
SEED = SHARED / "speeches" / "seed"
SPEECH_000 = SEED / "000_ed498335adf7a40a.txt"
SPEECH_002 = SEED / "002_d5a8c33760b2f744.txt"


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def test_shared_material_is_there() -> None:
    assert SPEECH_000.is_file() and SPEECH_002.is_file() and HOSTILE.is_dir()


def test_seed_speech_reads_as_one_paragraph_per_line() -> None:
    text = read_text(SPEECH_000)
    raw = SPEECH_000.read_text(encoding="utf-8")
    assert text == "\n".join(line for line in raw.splitlines() if line.strip())
    assert text.startswith("在市人民代表大会第二次会议闭幕会上的讲话\n同志们：\n经过全体代表")


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        ("gbk_encoded_speech.txt", SPEECH_000),
        ("utf8_bom_speech.txt", SPEECH_000),
        ("utf16_encoded_speech.txt", SPEECH_002),
    ],
)
def test_other_encodings_read_exactly_like_the_utf8_original(name: str, seed: Path) -> None:
    assert read_text(HOSTILE / name) == read_text(seed)


def test_real_pdf_rejoins_broken_lines_into_the_original_paragraphs() -> None:
    pdf_text, original = read_text(HOSTILE / "real_speech_000.pdf"), read_text(SPEECH_000)
    assert similarity(pdf_text, original) >= 0.98
    assert pdf_text == original  # what we achieve today; the ratio above is the bar if the PDF changes
    for line in pdf_text.split("\n")[2:]:  # after the title and the salutation, every paragraph ends a sentence
        assert line[-1] in "。！？”", line[-20:]


def test_real_docx_matches_the_original_and_marks_its_heading() -> None:
    result = read_speech_text(HOSTILE / "real_speech_002.docx")
    original = read_text(SPEECH_002)
    assert similarity(result.text, original) >= 0.98
    assert result.text == original
    assert result.heading == "在2023年市七届人大一次会议闭幕会上的讲话"


def test_injection_text_is_data_kept_verbatim() -> None:
    raw = (HOSTILE / "injection_and_markup.txt").read_text(encoding="utf-8")
    text = read_text(HOSTILE / "injection_and_markup.txt")
    assert "<script>alert('xss')</script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert text == raw.strip()


def test_one_long_line_without_punctuation_reads_fine() -> None:
    text = read_text(HOSTILE / "no_punctuation_one_line.txt")
    assert "\n" not in text
    assert len(text) == 210_000
    assert text.startswith("推进高质量发展")


@pytest.mark.parametrize(
    ("name", "reason_words"),
    [
        ("empty.txt", "empty"),
        ("whitespace_only.txt", "only whitespace"),
        ("binary_junk.txt", "binary"),
        ("corrupt.pdf", "corrupt"),
        ("not_really.docx", "not a zip"),
    ],
)
def test_bad_files_raise_a_clear_error(name: str, reason_words: str) -> None:
    with pytest.raises(SpeechFileError) as caught:
        read_text(HOSTILE / name)
    assert reason_words in caught.value.reason
    assert caught.value.path == HOSTILE / name
    assert str(caught.value).startswith(f"{name}: ")
    assert isinstance(caught.value, ValueError)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "speech.rtf"
    path.write_text("讲话", encoding="utf-8")
    with pytest.raises(SpeechFileError, match="unsupported file type '.rtf'"):
        read_text(path)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("同志们：" * 100, encoding="utf-8")
    with pytest.raises(SpeechFileError, match="too large"):
        read_text(path, max_bytes=100)


def test_txt_full_of_nul_bytes_is_binary(tmp_path: Path) -> None:
    path = tmp_path / "nul.txt"
    path.write_bytes(b"\x00\x01\x02\x03" * 500 + "讲话".encode())
    with pytest.raises(SpeechFileError, match="binary"):
        read_text(path)


def test_gbk_and_bomless_utf16(tmp_path: Path) -> None:
    (tmp_path / "gbk.txt").write_bytes("同志们：\n今天召开大会。".encode("gbk"))
    (tmp_path / "utf16.txt").write_bytes("同志们：\n今天召开大会。".encode("utf-16-be"))
    assert read_text(tmp_path / "gbk.txt") == "同志们：\n今天召开大会。"
    assert read_text(tmp_path / "utf16.txt") == "同志们：\n今天召开大会。"


def test_pdf_that_is_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("just text", encoding="utf-8")
    with pytest.raises(SpeechFileError, match="corrupt or unreadable PDF"):
        read_text(path)


def test_docx_written_with_python_docx(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("在全市经济工作会议上的讲话", level=1)
    document.add_paragraph("同志们：")
    document.add_paragraph("\u3000\u3000今天 召开 会议。Hello   world 2023")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "增长5%"
    document.save(tmp_path / "speech.docx")
    result = read_speech_text(tmp_path / "speech.docx")
    assert result.text == "在全市经济工作会议上的讲话\n同志们：\n今天召开会议。Hello world 2023\n指标\n增长5%"
    assert result.heading == "在全市经济工作会议上的讲话"


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * 3_000_000)
    with pytest.raises(SpeechFileError, match="zip bomb"):
        read_text(path, max_bytes=2_000_000)
    with pytest.raises(SpeechFileError, match="zip bomb"):  # under the size cap, but compressed ~1000:1
        read_text(path)


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SpeechFileError, match="not a valid DOCX"):
        read_text(path)


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "speech.html"
    path.write_text(
        "<html><head><title>站点 - 讲话</title><style>p{color:red}</style></head><body>"
        "<h1>在全市大会上的讲话</h1><!-- 注释 --><p>同志们：</p>"
        "<p>今天召开\n  <b>大会</b>，研究部署工作。<br>第二行</p><script>alert('xss')</script>"
        "<div>Hello <i>world</i></div></body></html>",
        encoding="utf-8",
    )
    result = read_speech_text(path)
    assert result.text == "在全市大会上的讲话\n同志们：\n今天召开大会，研究部署工作。\n第二行\nHello world"
    assert result.heading == "在全市大会上的讲话"
    assert "alert" not in result.text and "color" not in result.text and "注释" not in result.text


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.htm"
    path.write_text("<html><head><title>标题</title></head><body><script>x()</script></body></html>")
    with pytest.raises(SpeechFileError, match="no visible text"):
        read_text(path)


def test_markdown_heading_is_marked_and_unprefixed(tmp_path: Path) -> None:
    path = tmp_path / "speech.md"
    path.write_text("# 在全市大会上的讲话\n\n## 一、总体要求\n\n同志们：\n", encoding="utf-8")
    result = read_speech_text(path)
    assert result.text == "在全市大会上的讲话\n一、总体要求\n同志们："
    assert result.heading == "在全市大会上的讲话"


# normalisation


def test_crlf_and_cr_become_newlines_and_blank_lines_go() -> None:
    assert normalise_text("一\r\n二\r三\n\n\n\n四\n", join_broken_lines=False) == "一\n二\n三\n四"


def test_full_width_and_other_spaces_between_cjk_are_removed() -> None:
    text = "\u3000\u3000同志们：\n今天\u3000召开 大会，\u00a0研究\t部署 工作。"
    assert normalise_text(text, join_broken_lines=False) == "同志们：\n今天召开大会，研究部署工作。"


def test_spaces_between_latin_words_collapse_to_one() -> None:
    text = "GDP\u3000 grew  5.2%\tin\u00a02023 ，达到 126 万亿元"
    assert normalise_text(text, join_broken_lines=False) == "GDP grew 5.2% in 2023，达到 126 万亿元"


def test_zero_width_characters_and_bom_are_removed() -> None:
    assert normalise_text("\ufeff同\u200b志\u200d们\u2060：", join_broken_lines=False) == "同志们："


def test_broken_lines_join_but_headings_and_salutations_stay() -> None:
    wrapped = (
        "在全市大会上的讲话\n"
        "各位代表、同志们：\n"
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下\n"
        "团结一心、奋勇争先，推动高质量发展取得新成效，为实现目标而努\n"
        "力奋斗。\n"
        "一、总体要求\n"
        "坚持以人民为中心的发展思想，统筹发展和安全，全面深化改革开放\n"
        "，持续改善民生。\n"
    )
    assert normalise_text(wrapped, join_broken_lines=True) == (
        "在全市大会上的讲话\n"
        "各位代表、同志们：\n"
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下团结一心、奋勇争先，推动高质量发展取得新成效，"
        "为实现目标而努力奋斗。\n"
        "一、总体要求\n"
        "坚持以人民为中心的发展思想，统筹发展和安全，全面深化改革开放，持续改善民生。"
    )


def test_full_line_before_a_numbered_heading_or_indent_is_not_joined() -> None:
    wrapped = (
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下\n"
        "二、主要任务\n"
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下\n"
        "\u3000\u3000新的段落从缩进开始。"
    )
    assert normalise_text(wrapped, join_broken_lines=True).split("\n") == [
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下",
        "二、主要任务",
        "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下",
        "新的段落从缩进开始。",
    ]


def test_latin_broken_lines_join_with_a_space() -> None:
    wrapped = "The people's congress closed today after a week of\nwork on the report.\nNext"
    assert normalise_text(wrapped, join_broken_lines=True) == (
        "The people's congress closed today after a week of work on the report.\nNext"
    )


def test_only_hard_wrapped_txt_is_rejoined(tmp_path: Path) -> None:
    line = "今天我们召开大会，总结过去一年工作，部署今年任务，动员全市上下"
    wrapped = "\n".join([line] * 9 + ["结束。"])
    assert looks_hard_wrapped(wrapped)
    assert not looks_hard_wrapped(SPEECH_000.read_text(encoding="utf-8"))
    (tmp_path / "wrapped.txt").write_text(wrapped, encoding="utf-8")
    assert read_text(tmp_path / "wrapped.txt") == line * 9 + "结束。"
    paragraphs = "标题\n" + "\n".join(f"第{n}段没有句号" for n in range(10))
    (tmp_path / "paragraphs.txt").write_text(paragraphs, encoding="utf-8")
    assert read_text(tmp_path / "paragraphs.txt") == paragraphs
