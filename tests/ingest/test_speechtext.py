"""The conventions of speech text that ingest, retrieval, answers and the web app share (ingest/speechtext.py)."""

from __future__ import annotations

import re

import pytest

from answer.citations import sentences
from ingest.chunking import split_passages
from ingest.speechtext import (CLOSERS, char_class, chinese_number, cn_number, quoted_title, speech_label,
                               years_as_digits)


@pytest.mark.parametrize(("numeral", "value"), [
    ("16", 16), ("２０２３", 2023), ("二〇二三", 2023), ("二○二五", 2025), ("十", 10), ("十六", 16), ("二十", 20),
    ("二十三", 23), ("两", 2), ("一百零五", 105), ("一百一十", 110),
    ("十二十", None), ("届", None), ("", None), (None, None),
])
def test_chinese_numbers(numeral, value):
    assert cn_number(numeral) == value


def test_chinese_numbers_written_back():
    assert [chinese_number(n) for n in (2, 10, 16, 20, 99)] == ["二", "十", "十六", "二十", "九十九"]
    assert all(cn_number(chinese_number(n)) == n for n in range(1, 100))


def test_years_in_chinese_numerals_become_digits_only_before_年():
    assert years_as_digits("二〇二三年和二○二四年度，一二三四五") == "2023年和2024年度，一二三四五"


def test_the_speech_label():
    assert speech_label("政府工作报告", "2025-03-05") == "《政府工作报告》（2025-03-05）"
    assert speech_label("讲话", None) == quoted_title("讲话") == "《讲话》"


def test_a_character_class_holds_exactly_its_characters():
    closers = re.compile(char_class(CLOSERS) + "+")
    assert closers.fullmatch(CLOSERS) and not closers.search("-^\\[a")
    assert re.fullmatch(char_class("]^-", negate=True) + "+", "abc")


def test_the_chunker_and_the_citation_check_end_sentences_alike():
    ends = ["。", "！", "？", "；", "。”"]  # a sentence of 30 characters each: one a passage of at most 50
    wanted = [f"第{i}句" + "字" * (28 - len(end)) + end for i, end in enumerate(ends, 1)]
    text = "".join(wanted)
    assert [p.text for p in split_passages("s", text, size=50, overlap=0)] == sentences(text) == wanted
