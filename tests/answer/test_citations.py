from answer.citations import add_missing_markers, labels_in, resolve_markers, sentences, support, unsupported_sentences
from answer.types import Citation


def cite(label, text, speech="s1"):
    return Citation(label, speech, "标题", None, 0, len(text), text)


CONTEXT = {
    "1": cite("1", "今年全市经济增长的预期目标是5%左右。要坚持稳中求进工作总基调。"),
    "2": cite("2", "今年提出经济增速要“保8争9”，任务异常艰巨。", "s2"),
}


def test_marker_forms():
    assert labels_in("目标是5%左右[1]。增速保8争9［2］，【1】[1, 2][A1，B2]") == ["1", "2", "1", "1", "2", "A1", "B2"]


def test_unknown_markers_are_dropped_and_reported():
    text, cited, dropped = resolve_markers("目标是5%左右[1][7]。增速要保8争9[2, 9]。", CONTEXT)
    assert text == "目标是5%左右[1]。增速要保8争9[2]。"
    assert [c.label for c in cited] == ["1", "2"]
    assert dropped == ["7", "9"]


def test_citations_in_order_of_first_use():
    _, cited, _ = resolve_markers("甲[2]。乙[1]。丙[2]。", CONTEXT)
    assert [c.label for c in cited] == ["2", "1"]


def test_marker_after_full_stop_stays_with_its_sentence():
    assert sentences("目标是5%左右。[1]\n增速要保8争9。[2]") == ["目标是5%左右。[1]", "增速要保8争9。[2]"]


def test_restatement_is_supported_and_invention_is_not():
    assert support("今年全市经济增长的预期目标是5%左右[1]", [CONTEXT["1"].text]) > 0.9
    assert support("今年要大力发展航天工业和深海探测[1]", [CONTEXT["1"].text]) < 0.5


def test_a_number_the_passage_lacks_fails_the_check():
    assert support("今年全市经济增长的预期目标是7%左右[1]", [CONTEXT["1"].text]) == 0.0


def test_unsupported_sentences_are_flagged_by_what_they_cite():
    answer = "今年全市经济增长的预期目标是5%左右[1]。今年提出经济增速要保8争9[1]。今年提出经济增速要保8争9[2]。"
    # the middle sentence is true of passage 2 but cites passage 1: flagged
    assert unsupported_sentences(answer, CONTEXT) == ["今年提出经济增速要保8争9[1]。"]


def test_sentences_without_markers_are_checked_against_all_passages_and_lead_ins_skipped():
    answer = "以下是讲话原文中的相关内容：\n今年提出经济增速要保8争9。\n全市将建设三座机场和一条地铁。"
    assert unsupported_sentences(answer, CONTEXT) == ["全市将建设三座机场和一条地铁。"]


def test_claims_without_markers_get_the_marker_of_the_passage_that_supports_them():
    answer = "今年全市经济增长的预期目标是5%左右。\n增速要“保8争9”，任务艰巨！全市将建设三座机场。已有标记的句子[1]。"
    assert add_missing_markers(answer, CONTEXT) == (
        "今年全市经济增长的预期目标是5%左右[1]。\n增速要“保8争9”，任务艰巨[2]！全市将建设三座机场。已有标记的句子[1]。"
    )


def test_list_numbers_are_not_claims():
    assert support("1. 今年全市经济增长的预期目标是5%左右", [CONTEXT["1"].text]) > 0.9
    assert support("（2）今年全市经济增长的预期目标是5%左右", [CONTEXT["1"].text]) > 0.9
