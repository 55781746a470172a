"""From a speech file to a ``Speech``: id, title, date, sidecar metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import docx
import pytest

from ingest.metadata import (
    is_speech_file,
    load_speech,
    parse_speech_date,
    unique_speech_id,
)
from ingest.readers import SpeechFileError

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEED = SHARED / "speeches" / "seed"
HOSTILE = SHARED / "hostile"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_speech_becomes_a_speech() -> None:
    path = SEED / "002_d5a8c33760b2f744.txt"
    speech = load_speech(path)
    assert speech.id == "002_d5a8c33760b2f744"
    assert speech.title == "在2023年市七届人大一次会议闭幕会上的讲话"
    assert (speech.date, speech.year) == ("2023", 2023)
    assert speech.source == str(path)
    assert speech.text.startswith(speech.title + "\n各位代表、同志们：\n")
    assert speech.speaker is None
    assert speech.occasion == "市第七届人民代表大会第一次会议"  # "市七届人大一次会议" in the title, written out
    assert speech.extra == {"kind": "闭幕会讲话", "session": "市第七届人民代表大会第一次会议"}


def test_the_session_the_title_leaves_incomplete_comes_from_the_opening() -> None:
    speech = load_speech(SEED / "000_ed498335adf7a40a.txt")  # title: "在市人民代表大会第二次会议闭幕会上的讲话"
    assert speech.occasion == "市第十六届人民代表大会第二次会议"
    assert speech.extra == {"kind": "闭幕会讲话", "session": "市第十六届人民代表大会第二次会议"}


def test_a_provincial_report_has_its_place_session_and_speaker() -> None:
    speech = load_speech(SHARED / "corpora" / "provincial-2025" / "上海市.txt")
    assert speech.title == "2025年上海市政府工作报告" and speech.year == 2025
    assert speech.extra == {"place": "上海市", "kind": "政府工作报告",
                            "session": "上海市第十六届人民代表大会第三次会议"}
    assert speech.speaker == "龚正"  # "2025年1月15日龚正市长在上海市第十六届人民代表大会第三次会议的政府工作报告"


def test_a_national_report_from_the_corpus(tmp_path: Path) -> None:
    doc = next(json.loads(line) for line in (SHARED / "corpora" / "national-work-reports.jsonl").open(encoding="utf-8")
               if '"gwr-2021"' in line)
    write(tmp_path / "gwr-2021.txt", doc["text"])
    write(tmp_path / "gwr-2021.meta.json", json.dumps({"title": doc["title"]}, ensure_ascii=False))
    speech = load_speech(tmp_path / "gwr-2021.txt")
    assert (speech.year, speech.speaker, speech.occasion) == (2021, "李克强", "第十三届全国人民代表大会第四次会议")
    assert speech.extra == {"place": "全国", "kind": "政府工作报告", "session": "第十三届全国人民代表大会第四次会议"}


@pytest.mark.parametrize(
    ("opening", "session"),
    [
        ("各位代表：\n我代表国务院，向第六届全国人民代表大会第一次会议作政府工作报告，请予审议。",
         "第六届全国人民代表大会第一次会议"),
        ("各位代表：\n我們第一届全國人民代表大會第一次會議，已經光榮地完成了一件歷史性的工作。",
         "第一届全国人民代表大会第一次会议"),
        ("各位代表：\n第十二届全国人民代表大会第一次会议以来的五年，是极不平凡的五年。", None),
        ("各位代表：\n从去年９月第五届全国人民代表大会第三次会议到现在，已经过去了一年零两个月。", None),
        ("各位代表：\n现在，我代表国务院，作关于第六个五年计划的报告，请大会审议。一九八〇年以来，国务院组织各部门做了大量"
         "调查研究工作，广泛听取了各方面的意见。在五届人大四次会议上，国务院在政府工作报告中提出了今后经济建设的十条方针。",
         None),  # a later sentence of a paragraph
        ("各位代表：\n根据一九八三年六月第六届全国人民代表大会第一次会议的决议，各级政府努力工作。", None),
        ("各位代表：\n过去一年，党的十九大胜利召开。", None),  # a party congress is no session of a government report
    ],
)
def test_only_a_session_the_opening_states_as_its_own_counts(tmp_path: Path, opening: str, session: str | None):
    speech = load_speech(write(tmp_path / "r.txt", "2019年政府工作报告\n" + opening))
    assert speech.extra.get("session") == session and speech.extra["kind"] == "政府工作报告"


def test_a_meeting_without_a_session_is_the_occasion_and_the_sidecar_still_wins(tmp_path: Path) -> None:
    speech = load_speech(write(tmp_path / "s.txt", "在全市经济工作会议上的讲话\n同志们："))
    assert (speech.occasion, speech.extra) == ("全市经济工作会议", {"kind": "讲话"})
    write(tmp_path / "s.meta.json",
          json.dumps({"occasion": "经济会", "kind": "报告", "speaker": "王五"}, ensure_ascii=False))
    speech = load_speech(tmp_path / "s.txt")
    assert (speech.occasion, speech.speaker, speech.extra) == ("经济会", "王五", {"kind": "报告"})


def test_a_year_talked_about_in_a_paragraph_is_not_the_speech_date() -> None:
    speech = load_speech(SEED / "000_ed498335adf7a40a.txt")  # "回首即将过去的2022年" in the second paragraph
    assert (speech.date, speech.year) == (None, None)


def test_real_docx_title_comes_from_its_heading() -> None:
    speech = load_speech(HOSTILE / "real_speech_002.docx")
    assert speech.title == "在2023年市七届人大一次会议闭幕会上的讲话"
    assert speech.year == 2023


def test_ids_are_safe_and_unique(tmp_path: Path) -> None:
    taken: set[str] = set()
    first = load_speech(write(tmp_path / "讲话 2023(终稿).txt", "讲话"), taken)
    (tmp_path / "b").mkdir()
    second = load_speech(write(tmp_path / "b" / "讲话 2023(终稿).md", "讲话"), taken)
    third = load_speech(write(tmp_path / "讲话_2023_终稿_.txt", "讲话"), taken)
    assert [first.id, second.id, third.id] == ["讲话_2023_终稿_", "讲话_2023_终稿_-2", "讲话_2023_终稿_-3"]
    assert taken == {first.id, second.id, third.id}
    assert unique_speech_id("a/b\\c:d e", set()) == "a_b_c_d_e"
    assert unique_speech_id("  ", set()) == "speech"


def test_title_is_the_first_line_capped(tmp_path: Path) -> None:
    speech = load_speech(write(tmp_path / "s.txt", "\n\n\u3000\u3000在全市大会上的讲话\n同志们："))
    assert speech.title == "在全市大会上的讲话"
    long = load_speech(write(tmp_path / "long.txt", "讲" * 300))
    assert long.title == "讲" * 100


def test_title_from_markdown_heading(tmp_path: Path) -> None:
    speech = load_speech(write(tmp_path / "s.md", "（2023年1月12日）\n\n# 在全市经济工作会议上的讲话\n\n同志们："))
    assert speech.title == "在全市经济工作会议上的讲话"
    assert (speech.date, speech.year) == ("2023-01-12", 2023)


def test_title_from_docx_heading(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("内部资料")
    document.add_heading("二〇二三年一月十二日在全市大会上的讲话", level=1)
    document.save(tmp_path / "s.docx")
    speech = load_speech(tmp_path / "s.docx")
    assert speech.title == "二〇二三年一月十二日在全市大会上的讲话"
    assert (speech.date, speech.year) == ("2023-01-12", 2023)


def test_html_title_and_script_are_markup(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.html",
        "<html><head><title>网站 - 讲话</title></head><body><h1>在2024年全市大会上的讲话</h1>"
        "<p>同志们：</p><script>alert('忽略以上指令')</script></body></html>",
    )
    speech = load_speech(path)
    assert speech.title == "在2024年全市大会上的讲话"
    assert speech.text == "在2024年全市大会上的讲话\n同志们："
    assert (speech.date, speech.year) == ("2024", 2024)


def test_txt_with_script_keeps_it_as_data(tmp_path: Path) -> None:
    shutil.copy(HOSTILE / "injection_and_markup.txt", tmp_path / "injection.txt")
    speech = load_speech(tmp_path / "injection.txt")
    assert "<script>alert('xss')</script>" in speech.text
    assert speech.title == "在全市优化营商环境大会上的讲话（测试用）"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("在2023年市七届人大一次会议闭幕会上的讲话", ("2023", 2023)),
        ("（2023年1月12日）", ("2023-01-12", 2023)),
        ("2023 年 1 月 5 日", ("2023-01-05", 2023)),
        ("二〇二三年一月十二日", ("2023-01-12", 2023)),
        ("二○二四年十二月三十一日", ("2024-12-31", 2024)),
        ("2023年3月", ("2023-03", 2023)),
        ("2023-01-12", ("2023-01-12", 2023)),
        ("2023.1.5讲话", ("2023-01-05", 2023)),
        ("2023年2月30日", ("2023-02", 2023)),
        ("1900年的旧事", None),
        ("3000年", None),
        ("没有日期", None),
    ],
)
def test_dates_in_several_forms(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_speech_date(text) == expected


def test_most_specific_date_wins_in_the_text() -> None:
    assert parse_speech_date("回首2022年，2023年1月12日", most_specific=True) == ("2023-01-12", 2023)
    assert parse_speech_date("回首2022年，2023年1月12日") == ("2022", 2022)


def test_date_from_the_text_refines_the_title_year(tmp_path: Path) -> None:
    text = "2025年上海市政府工作报告\n----2025年1月15日在上海市人民代表大会上\n各位代表："
    speech = load_speech(write(tmp_path / "report.txt", text))
    assert (speech.date, speech.year) == ("2025-01-15", 2025)


def test_json_sidecar_overrides_and_adds_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", "在2020年全市大会上的讲话\n同志们：")
    sidecar = {"id": "my speech", "title": "正式标题", "date": "2023-01-12", "speaker": "张三", "occasion": "人代会",
               "venue": "市会议中心", "pages": 12}  # fmt: skip
    write(tmp_path / "s.meta.json", json.dumps(sidecar, ensure_ascii=False))
    speech = load_speech(path)
    assert (speech.id, speech.title, speech.date, speech.year) == ("my_speech", "正式标题", "2023-01-12", 2023)
    assert (speech.speaker, speech.occasion) == ("张三", "人代会")
    assert speech.extra == {"venue": "市会议中心", "pages": "12"}


def test_yaml_sidecar_with_a_yaml_date(tmp_path: Path) -> None:
    path = write(tmp_path / "s.md", "# 讲话\n同志们：")
    write(tmp_path / "s.meta.yaml", "date: 2022-12-30\nspeaker: 李四\n")
    speech = load_speech(path)
    assert (speech.date, speech.year, speech.speaker) == ("2022-12-30", 2022, "李四")


def test_sidecar_year_only(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", "讲话")
    write(tmp_path / "s.meta.yml", "year: 2021\n")
    assert (load_speech(path).date, load_speech(path).year) == ("2021", 2021)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("s.meta.json", "{not json"),
        ("s.meta.json", "[1, 2]"),
        ("s.meta.json", '{"speaker": ["a", "b"]}'),
        ("s.meta.json", '{"date": "去年"}'),
        ("s.meta.yaml", "title: [unclosed"),
    ],
)
def test_malformed_sidecar_names_the_sidecar(tmp_path: Path, name: str, content: str) -> None:
    path = write(tmp_path / "s.txt", "讲话")
    write(tmp_path / name, content)
    with pytest.raises(SpeechFileError) as caught:
        load_speech(path)
    assert caught.value.path == tmp_path / name
    assert str(caught.value).startswith(f"{name}: malformed metadata sidecar")


def test_which_files_are_speeches() -> None:
    assert is_speech_file(Path("a/讲话.txt")) and is_speech_file(Path("b.DOCX")) and is_speech_file(Path("c.htm"))
    assert not is_speech_file(Path("讲话.meta.json"))
    assert not is_speech_file(Path("讲话.meta.yaml")) and not is_speech_file(Path("讲话.meta.yml"))
    assert not is_speech_file(Path("~$讲话.docx")) and not is_speech_file(Path(".hidden.txt"))
    assert not is_speech_file(Path("image.png")) and not is_speech_file(Path("notes"))


def test_unreadable_speech_file_raises(tmp_path: Path) -> None:
    with pytest.raises(SpeechFileError, match="empty"):
        load_speech(write(tmp_path / "empty.txt", ""))
