"""Which speeches a question names, read against speech records as ingest makes them (no store needed)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import SEED, SHARED

from ingest.metadata import load_speech
from ingest.store import StoredSpeech
from retriever.speech_refs import SpeechDirectory

FIRST, SECOND = "000_ed498335adf7a40a", "002_d5a8c33760b2f744"  # 市十六届人大二次会议 / 市七届人大一次会议 (2023)
NATIONAL = ("gwr-2021", "gwr-2022", "npc-resolution-十三-四", "gwr-2025")
CONGRESSES = ("cpc-congress-18-13", "cpc-congress-19-14")


def record(path: Path) -> StoredSpeech:
    s = load_speech(path)
    return StoredSpeech(s.id, s.title, s.date, s.year, s.speaker, s.occasion, s.source, 1, len(s.text), "v", "", "",
                        s.extra, "300/80")


@pytest.fixture(scope="module")
def speeches(tmp_path_factory) -> list[StoredSpeech]:
    """The seeds, three provincial reports of 2025, four national documents and two party congress reports, read
    by the real ingest code (the JSONL documents as a harness library has them: text + sidecar)."""
    folder = tmp_path_factory.mktemp("corpus")
    wanted = set(NATIONAL + CONGRESSES)
    for name in ("national-work-reports.jsonl", "party-congress-reports.jsonl"):
        for line in (SHARED / "corpora" / name).open(encoding="utf-8"):
            doc = json.loads(line)
            if doc["id"] in wanted:
                (folder / f"{doc['id']}.txt").write_text(doc["text"], encoding="utf-8")
                sidecar = {"title": doc["title"], **({"year": doc["year"]} if doc.get("year") else {})}
                (folder / f"{doc['id']}.meta.json").write_text(json.dumps(sidecar, ensure_ascii=False), "utf-8")
    files = sorted(SEED.glob("*.txt")) + [SHARED / "corpora" / "provincial-2025" / f"{p}.txt" for p in
                                          ("北京市", "上海市", "广西")] + sorted(folder.glob("*.txt"))
    return [record(path) for path in files]


@pytest.fixture(scope="module")
def directory(speeches) -> SpeechDirectory:
    return SpeechDirectory(speeches)


@pytest.mark.parametrize("question", [
    "市十六届人大二次会议提出了哪些工程？",
    "第十六届人民代表大会第二次会议提出了哪些工程？",
    "市第16届人民代表大会第2次会议提出了哪些工程？",
    "在市人民代表大会第二次会议闭幕会上的讲话提出了哪些工程？",
])
def test_a_session_written_any_way_names_its_speech(directory, question):
    found = directory.resolve(question)
    assert found is not None and found.strong and found.groups == ((FIRST,),), found


def test_the_seven_th_session_and_its_year(directory):
    for question in ("市七届人大一次会议闭幕会讲话提出的经济增速目标是什么？",
                     "2023年闭幕会讲话提出的经济增速目标是什么？"):
        found = directory.resolve(question)
        assert found.strong and found.groups == ((SECOND,),), question


@pytest.mark.parametrize(("question", "speech"), [
    ("2021年政府工作报告提出的经济增长目标是多少？", "gwr-2021"),
    ("二〇二一年的政府工作报告提出的经济增长目标是多少？", "gwr-2021"),
    ("2022年国务院政府工作报告中赤字率拟按多少安排？", "gwr-2022"),
    ("十三届全国人大五次会议上的政府工作报告提出的就业目标是多少？", "gwr-2022"),
    ("李克强2022年作的报告提出的就业目标是多少？", "gwr-2022"),
    ("2025年政府工作报告提出的增长目标是多少？", "gwr-2025"),  # the national report, not the provincial ones
    ("2025年北京市政府工作报告提出的增长目标是多少？", "北京市"),
    ("龚正所作的政府工作报告提出了什么目标？", "上海市"),
    ("广西壮族自治区政府工作报告对糖料蔗有什么要求？", "广西"),
    ("十九大报告对社会主要矛盾作出了什么判断？", "cpc-congress-19-14"),
    ("中国共产党第十八次全国代表大会的主题是什么？", "cpc-congress-18-13"),
])
def test_year_kind_session_place_speaker_and_congress(directory, question, speech):
    found = directory.resolve(question)
    assert found is not None and found.strong and found.groups == ((speech,),), found


def test_a_session_names_the_report_and_the_resolution_on_it_unless_the_kind_is_said(directory):
    assert directory.resolve("十三届全国人大四次会议提出了什么？").groups == (("gwr-2021", "npc-resolution-十三-四"),)
    assert directory.resolve("十三届全国人大四次会议的决议高度评价了什么？").groups == (("npc-resolution-十三-四",),)


@pytest.mark.parametrize(("question", "groups"), [
    ("2021年和2022年政府工作报告分别提出的经济增长目标是多少？", (("gwr-2021",), ("gwr-2022",))),
    ("2022年和2025年的政府工作报告分别提出了什么？", (("gwr-2022",), ("gwr-2025",))),  # national, not provincial
    ("两篇讲话分别对干部作风提出了什么要求？", ((FIRST,), (SECOND,))),
    ("北京市和上海市的政府工作报告分别提出了多少增长目标？", (("北京市",), ("上海市",))),
    ("十八大和十九大报告分别提出了什么？", (("cpc-congress-18-13",), ("cpc-congress-19-14",))),
])
def test_two_speeches_named_give_two_groups(directory, question, groups):
    found = directory.resolve(question)
    assert found.strong and found.groups == groups


@pytest.mark.parametrize("question", [
    "2021年的经济增长目标定为多少？",  # a bare year: which report reviews it, which sets it?
    "北京今年的增长目标是多少？",  # a place alone
    "政府工作报告里怎么说营商环境？",  # a kind alone
])
def test_weak_references_are_resolved_but_not_strong(directory, question):
    found = directory.resolve(question)
    assert found is not None and not found.strong


@pytest.mark.parametrize("question", [
    "复工复产有哪些补贴政策？", "如何学习贯彻党的十九大精神？", "十大工程包括哪些？", "今年的经济增速目标是什么？",
])
def test_questions_that_name_no_speech(directory, question):
    assert directory.resolve(question) is None


def test_a_mention_that_contradicts_the_rest_is_dropped(directory):
    found = directory.resolve("2022年政府工作报告对北京冬奥会怎么说？")
    assert found.strong and found.groups == (("gwr-2022",),)
    assert [m.words for m in found.unmatched] == ["北京"]
    found = directory.resolve("1981年政府工作报告说从第五届全国人民代表大会第三次会议到现在过去了多久？")
    assert found.groups == () and not found.strong  # no 1981 report here, and the session names none either
    assert {m.words for m in found.unmatched} == {"1981年", "5届全国人大3次会议"}


def test_only_the_allowed_speeches_are_named(directory):
    assert directory.resolve("市十六届人大二次会议提出了哪些工程？", allowed={SECOND}).groups == ()
    assert directory.resolve("市十六届人大二次会议提出了哪些工程？", allowed={FIRST, SECOND}).groups == ((FIRST,),)


def test_the_rest_of_the_question_without_the_naming_words(directory):
    assert directory.resolve("2021年政府工作报告提出的经济增长目标是多少？").rest == "提出的经济增长目标是多少?"
    assert directory.resolve("市十六届人大二次会议提出了哪些工程？").rest == "提出了哪些工程?"


def test_records_ingested_before_the_facts_were_stored_are_read_from_their_titles(speeches):
    bare = [dataclasses.replace(s, extra={}, occasion=None, speaker=None) for s in speeches]
    directory = SpeechDirectory(bare)
    assert directory.resolve("2025年北京市政府工作报告提出的增长目标是多少？").groups == (("北京市",),)
    assert directory.resolve("市七届人大一次会议提出的经济增速目标是什么？").groups == ((SECOND,),)
    assert directory.resolve("十八大报告的主题是什么？").groups == (("cpc-congress-18-13",),)
