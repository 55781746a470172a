"""An answer's segments: parsed from what a model wrote, built run by run from what the code writes."""

from __future__ import annotations

from conftest import ingest

from answer.segments import ITEM, PARAGRAPH, Block, Draft, Run, as_text, cited_labels, parse
from answer.verify import without
from answer.service import Assistant


def test_a_models_text_becomes_paragraphs_items_and_references_to_known_labels_only():
    blocks = parse("总的来看：\n1. 目标是5%左右[1]。\n- 保8争9【2】，另见[9]\n\n结论[1, 2]", {"1", "2"})
    assert [b.kind for b in blocks] == [PARAGRAPH, ITEM, ITEM, PARAGRAPH]
    assert blocks[1].runs == (Run("目标是5%左右"), Run(cite="1"), Run("。"))
    assert blocks[2].runs == (Run("保8争9"), Run(cite="2"), Run("，另见[9]"))
    assert blocks[3].runs == (Run("结论"), Run(cite="1"), Run(cite="2"))
    assert cited_labels(blocks) == ["1", "2"]
    assert parse("目标[1]", None) == [Block(PARAGRAPH, (Run("目标[1]"),))]  # while streaming: text


def test_sentences_that_failed_the_check_leave_the_text_and_the_lines_they_emptied():
    text = "目标是5%左右。[1]目标是9%。[1]\n- 另一条[2]。\n总之如此[1]。"
    kept = without(text, ["目标是9%。[1]", "另一条[2]。"])
    assert kept == "目标是5%左右。[1]\n总之如此[1]。"
    assert [b.kind for b in parse(kept, {"1"})] == [PARAGRAPH, PARAGRAPH]
    assert as_text(Draft().line("以下：").line("「原话」", Run(cite="1"), item=True).blocks) == "以下：\n- 「原话」[1]"


def test_lines_the_code_writes_are_taken_as_they_are():
    draft = Draft().line("以下：").line("「责任到位[1]、措施到位【2】、物资到位[A1]」", Run(cite="1"), item=True)
    draft.gap().model("模型说[1]。")
    assert draft.text == "以下：\n- 「责任到位[1]、措施到位【2】、物资到位[A1]」[1]\n\n模型说[1]。"
    assert draft.blocks[1].runs == (Run("「责任到位[1]、措施到位【2】、物资到位[A1]」"), Run(cite="1"))
    assert cited_labels(draft.blocks[:2]) == ["1"]


SPEECH = """在琥珀湾防汛工作会议上的讲话
同志们：
琥珀湾防汛工作要做到三个到位：责任到位[1]、措施到位【2】、物资到位[A1]，确保安全度汛。
"""


def test_an_extractive_answer_quotes_a_speechs_brackets_verbatim_and_cites_explicitly(settings, store, tmp_path):
    folder = tmp_path / "flood"
    folder.mkdir()
    (folder / "2026-flood.txt").write_text(SPEECH, encoding="utf-8")
    ingest(store, settings, folder)
    answer = Assistant(settings.model_copy(update={"llm": "extractive"}), store=store).ask(
        "琥珀湾防汛工作要做到哪三个到位？")
    assert answer.found and answer.dropped_markers == [] and answer.unsupported_sentences == []
    quote = "琥珀湾防汛工作要做到三个到位：责任到位[1]、措施到位【2】、物资到位[A1]，确保安全度汛。"
    item = next(b for b in answer.segments if b.kind == ITEM)
    assert item.runs == (Run(f"「{quote}」"), Run(cite="1"))
    assert f"「{quote}」[1]" in answer.answer
    assert [c.label for c in answer.citations] == cited_labels(answer.segments) == [c.label for c in answer.context]
