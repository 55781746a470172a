"""Retrieval for questions that name their speech, on a real Chroma: the seeds and two provincial reports."""

from __future__ import annotations

import shutil

import pytest
from conftest import SEED, SHARED, ingest

from retriever import named
from retriever.search import Filters, Retriever

FIRST, SECOND = "000_ed498335adf7a40a", "002_d5a8c33760b2f744"
PROVINCIAL = SHARED / "corpora" / "provincial-2025"


def speeches_folder(tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SEED, folder)
    for place in ("北京市", "上海市"):
        shutil.copy(PROVINCIAL / f"{place}.txt", folder)
    return folder


@pytest.fixture
def retriever(store, settings, tmp_path):
    ingest(store, settings, speeches_folder(tmp_path))
    return Retriever(store, settings)


def test_a_question_naming_a_session_searches_that_speech(retriever):
    found = named.retrieve(retriever, "市十六届人大二次会议提出了哪些工程？", k=5)
    assert found.named == (FIRST,) and found.resolution.strong
    assert {p.speech_id for p in found.passages} == {FIRST}
    assert any("五心工程" in p.text for p in found.passages)


def test_a_question_naming_two_speeches_gets_passages_of_each(retriever):
    found = named.retrieve(retriever, "两篇讲话分别对干部作风提出了什么要求？", k=4)
    assert set(found.named) == {FIRST, SECOND} and set(found.per_speech) == {FIRST, SECOND}
    assert [p.speech_id for p in found.passages[:2]] in ([FIRST, SECOND], [SECOND, FIRST])  # interleaved
    assert all(p.speech_id == sid for sid, passages in found.per_speech.items() for p in passages)
    found = named.retrieve(retriever, "北京市和上海市的政府工作报告分别提出了多少增长目标？", k=4)
    assert {p.speech_id for p in found.passages} == {"北京市", "上海市"}


def test_a_question_naming_no_speech_is_the_plain_search(retriever):
    question = "今年的经济增速目标是什么？"
    found = named.retrieve(retriever, question, k=5)
    plain = retriever.retrieve(question, k=5)
    assert found.resolution is None and found.named == ()
    assert [p.passage_id for p in found.passages] == [p.passage_id for p in plain.passages]
    weak = named.retrieve(retriever, "北京今年的增长目标是多少？", k=5)  # a place alone: resolved, not used
    assert weak.resolution is not None and not weak.resolution.strong and weak.named == ()


def test_the_users_filter_wins_over_what_the_question_names(retriever):
    found = named.retrieve(retriever, "市十六届人大二次会议提出了哪些工程？", k=5, filters=Filters(speech_ids=[SECOND]))
    assert found.named == () and {p.speech_id for p in found.passages} == {SECOND}


def test_the_directory_follows_the_library(retriever, store, settings, tmp_path):
    first, _ = named.directory(retriever)
    assert named.directory(retriever)[0] is first  # unchanged library: built once
    extra = tmp_path / "more"
    extra.mkdir()
    shutil.copy(PROVINCIAL / "广西.txt", extra)
    ingest(store, settings, extra)
    assert named.retrieve(retriever, "广西壮族自治区政府工作报告对糖料蔗有什么要求？", k=3).named == ("广西",)


@pytest.mark.slow
def test_named_retrieval_with_the_real_model(named_library):
    settings, store = named_library
    retriever = Retriever(store, settings)
    plain = retriever.retrieve("市十六届人大二次会议提出了哪些工程？", k=5)
    found = named.retrieve(retriever, "市十六届人大二次会议提出了哪些工程？", k=5)
    assert found.named == (FIRST,) and "五心工程" in found.passages[0].text and found.relevant
    assert any(p.speech_id != FIRST for p in plain.passages)  # what the plain search did: other speeches too
    question = "上海市第十六届人民代表大会第三次会议上的政府工作报告提出研发经费支出占比达到多少？"
    found = named.retrieve(retriever, question, k=5)
    assert found.named == ("上海市",) and any("4.5%左右" in p.text for p in found.passages)
    both = named.retrieve(retriever, "两篇讲话分别对干部作风提出了什么要求？", k=4)
    assert {p.speech_id for p in both.passages} == {FIRST, SECOND}
    assert any("作风" in p.text for p in both.per_speech[FIRST])
    assert any("干部" in p.text for p in both.per_speech[SECOND])  # the 2023 speech never says 作风
