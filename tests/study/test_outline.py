"""A speech's outline, figures and formulas (study/outline.py), on texts of the shapes speeches have."""

from __future__ import annotations

import pytest

from ingest.store import UnknownSpeechError
from study.outline import figures_in, formulas_in, outline_headings, speech_outline
from conftest import SEED

SPEECH = """在全市经济工作会议上的讲话
同志们：
一、正确看待当前经济形势
去年全市地区生产总值增长5.2%，一般公共预算收入突破4000亿元。2023年1月12日，我们召开了第七届第二次会议。
二、今年经济工作的总体要求
今年全市经济增长的预期目标是5%左右。我们提出“一核两翼三区”的发展布局，大力推进制造业发展“553”工程，经济增速要“保8争9”。
（一）稳投资
全年新开工亿元以上项目一百个。一是稳投资，二是促消费。要当好“关键一棒”，GDP达****亿元。
三、加强领导
要扎实推进“五心工程”建设。
"""


def test_headings_with_their_level_and_where_each_starts():
    headings = outline_headings(SPEECH)
    assert [(h.level, h.text, h.kind) for h in headings] == [
        (1, "一、正确看待当前经济形势", "heading"), (1, "二、今年经济工作的总体要求", "heading"),
        (2, "（一）稳投资", "heading"), (3, "一是稳投资", "item"), (1, "三、加强领导", "heading")]
    for heading in headings:
        assert SPEECH[heading.start:heading.end] == heading.text


def test_enumerations_inside_a_paragraph_are_items():
    text = "近年来，工作成效明显。一是政治方向把得正。二是服务中心力度大，成效好。"
    assert [(h.text, h.kind) for h in outline_headings(text)] == [("一是政治方向把得正", "item"),
                                                                  ("二是服务中心力度大", "item")]


def test_a_speech_without_headings_is_outlined_by_its_paragraphs():
    text = (SEED / "000_ed498335adf7a40a.txt").read_text(encoding="utf-8")
    headings = outline_headings(text)
    assert headings and {h.kind for h in headings} == {"paragraph"}
    assert any(h.text.startswith("加快推进区域中心化进程") for h in headings)
    assert not any(h.text.startswith("各位代表、同志们") for h in headings)  # the greeting is not the point
    for heading in headings:
        assert text[heading.start:heading.end] == heading.text


def test_figures_are_numbers_with_units_and_targets_are_told_apart():
    figures = {f.text: f for f in figures_in(SPEECH)}
    assert {"增长5.2%", "突破4000亿元", "5%左右", "一百个"} <= set(figures)
    assert figures["5%左右"].kind == "target" and figures["一百个"].kind == "target"
    assert figures["增长5.2%"].kind == "figure" and figures["增长5.2%"].clause == "去年全市地区生产总值增长5.2%"
    assert not any("2023" in f or "亿元" == f or f.startswith("7") for f in figures)  # dates, masks, ordinals
    for figure in figures.values():
        assert SPEECH[figure.start:figure.end] == figure.text


def test_formulas_are_quoted_terms_with_numbers_named_with_their_noun():
    formulas = {f.name: f for f in formulas_in(SPEECH)}
    assert set(formulas) == {"一核两翼三区", "553工程", "保8争9", "五心工程"}  # not “关键一棒”
    assert SPEECH[formulas["553工程"].start:formulas["553工程"].end] == "553"
    assert formulas["五心工程"].mentions == [(formulas["五心工程"].start, formulas["五心工程"].end)]


def test_a_stored_speech_with_formulas_counted_across_the_library(study_library):
    retriever = study_library[2]
    outline = speech_outline(retriever, "2024-county-congress-closing")
    formulas = {f.name: f for f in outline.formulas}
    assert formulas["三个一批"].other_speeches == 1  # the notice says it too
    assert [h.text for h in outline.headings if h.level == 1][0] == "一、准确把握今年的目标任务"
    assert {"增长6%左右", "一百五十亿元"} <= {f.text for f in outline.figures}
    with pytest.raises(UnknownSpeechError):
        speech_outline(retriever, "no-such-speech")
