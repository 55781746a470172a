"""The stricter citation check, sentence by sentence, on passages written for these tests; and on the labelled set."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from answer.types import Citation
from answer.verify import check_sentence, speech_notes, unsupported


def cite(label, text, speech="s1", title="在全市经济工作会议上的讲话"):
    return Citation(label, speech, title, None, 0, len(text), text)


CITY = cite("1", "今年全市地区生产总值增长5%左右，要扎实推进“三大工程”建设，"
                 "集中力量解决好就业、教育、医疗、养老等问题。")
REPORT = cite("2", "北京市第十六届人民代表大会第三次会议审议通过了计划报告，一般公共预算收入增长4%左右。", "bj",
              "2025年北京市政府工作报告")
CONTEXT = {"1": CITY, "2": REPORT}


def checks(sentence, context=CONTEXT, notes=None):
    return [p.check for p in check_sentence(sentence, context, notes)]


def test_a_restated_sentence_is_supported():
    assert checks("全市地区生产总值增长5%左右，要扎实推进“三大工程”建设[1]。") == []
    assert checks("北京市提出一般公共预算收入增长4%左右[2]。") == []
    assert checks("以下是讲话原文中的相关内容：") == []  # a lead-in claims nothing


def test_a_number_must_be_a_whole_number_of_the_passage():
    assert checks("全市地区生产总值增长6%左右[1]。") == ["number"]
    assert checks("今年全市地区生产总值增长25%[1]。") == ["number"]  # not part of a larger number
    assert checks("2025年北京市提出一般公共预算收入增长4%左右[2]。") == []  # the year is in the title
    assert checks("二〇二五年北京市提出一般公共预算收入增长4%左右[2]。") == []
    assert checks("2024年北京市提出一般公共预算收入增长4%左右[2]。") == ["number"]


def test_places_titles_quotes_and_lists_must_be_in_what_is_cited():
    assert checks("上海市提出一般公共预算收入增长4%左右[2]。") == ["place"]
    assert checks("《2025年上海市政府工作报告》提出一般公共预算收入增长4%左右[2]。") == ["place", "title"]
    assert checks("《2025年北京市政府工作报告》提出一般公共预算收入增长4%左右[2]。") == []
    assert checks("要扎实推进“五大工程”建设[1]。") == ["quote"]
    assert checks("要集中力量解决好就业、教育、交通等问题[1]。") == ["list"]
    assert checks("要集中力量解决好就业、教育、医疗等问题[1]。") == []
    assert checks("城市和全市的工作都要抓好，全市地区生产总值增长5%左右[1]。") == []  # 城市, 全市: no places


def test_a_session_must_be_the_cited_speechs():
    assert checks("北京市第十六届人民代表大会第三次会议审议通过了计划报告[2]。") == []
    assert checks("北京市十六届人大三次会议审议通过了计划报告[2]。") == []  # the same session, abbreviated
    assert "session" in checks("北京市十六届人大二次会议审议通过了计划报告[2]。")
    notes = {"s1": "市第七届人民代表大会第一次会议"}  # what the library knows of the speech (speech_notes)
    assert "session" in checks("市七届人大一次会议提出要扎实推进“三大工程”建设[1]。")
    assert checks("市七届人大一次会议提出要扎实推进“三大工程”建设[1]。", notes=notes) == []


def test_a_speech_named_by_title_must_be_cited():
    assert "names_speech" in checks("《2025年北京市政府工作报告》要求扎实推进“三大工程”建设[1]。")
    assert checks("《在全市经济工作会议上的讲话》要求扎实推进“三大工程”建设[1]。") == []


def test_in_a_comparison_both_must_cite_each_side():
    a = cite("A1", "要持续优化营商环境，打造一流营商环境。", "a", "甲讲话")
    b = cite("B1", "要优化营商环境，发扬服企精神。", "b", "乙讲话")
    context = {"A1": a, "B1": b}
    assert checks("两篇讲话都要求优化营商环境[A1][B1]。", context) == []
    assert checks("两篇讲话都要求打造一流营商环境[A1]。", context) == ["both_sides"]
    assert checks("二者均提出优化营商环境[B1]。", context) == ["both_sides"]
    assert checks("甲讲话要求打造一流营商环境[A1]。", context) == []
    assert checks("首都要打造一流营商环境[A1]。", context) == []  # 首都 says nothing about both
    assert checks("两篇讲话都要求打造一流营商环境[A1]。", {"1": cite("1", a.text)}) == []  # no comparison


def test_the_failures_come_back_with_their_reasons():
    answer = "全市地区生产总值增长5%左右[1]。全市地区生产总值增长7%左右[1]。上海市一般公共预算收入增长4%左右[2]。"
    found = unsupported(answer, CONTEXT)
    assert [f.sentence for f in found] == ["全市地区生产总值增长7%左右[1]。", "上海市一般公共预算收入增长4%左右[2]。"]
    assert found[0].reason == "number: 7" and found[1].reason == "place: 上海"


def test_speech_notes_hold_what_the_records_know():
    class Record:
        id, occasion, date, extra = "s1", "市第七届人民代表大会第一次会议", "2023", {"place": "某市"}

    assert speech_notes([Record()]) == {"s1": "市第七届人民代表大会第一次会议 某市 2023"}


def test_the_labelled_set_the_stricter_check_beats_todays():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "support_check.py")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sentences"] >= 80 and result["unsupported"] >= 30
    assert result["by_source"]["issue"]["strict"]["recall"] == 1.0  # every failure quoted in the issue is caught
    assert result["strict"]["recall"] > result["today"]["recall"]
    assert result["strict"]["precision"] >= 0.85


@pytest.mark.parametrize("sentence", ["2025年全市地区生产总值增长5%左右[1]。"])
def test_a_year_that_neither_passage_nor_notes_give_fails(sentence):
    assert checks(sentence) == ["number"]
    assert checks(sentence, notes={"s1": "2025-02-10"}) == []
