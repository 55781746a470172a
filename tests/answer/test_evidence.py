"""The evidence, chosen in code: verbatim quotes with the least context, the gate, differing figures."""

from __future__ import annotations

from answer import evidence
from retriever.keyword import tokenize
from retriever.search import RetrievedPassage

CITY = ("今年全市经济增长的预期目标是5%左右。为此，要把扩大内需作为战略基点，持续优化营商环境。"
        "全市森林覆盖率达到46%。")
COUNTY = "今年全县经济社会发展的主要预期目标是：地区生产总值增长6%左右，粮食产量稳定在四十万吨以上。"


def passage(speech_id: str, text: str, start: int = 0, order: int = 0, title: str = "讲话") -> RetrievedPassage:
    return RetrievedPassage(f"{speech_id}#v1#{order}", speech_id, title, "2025", order, start, start + len(text),
                            text, None, 1.0)


def scorer(question: str) -> evidence.Scorer:
    """Every search term of the question weighs the same (the library's IDF is not the point here)."""
    return evidence.Scorer(question, {t: 1.0 for t in tokenize(evidence.searched(question))})


def test_a_question_is_scored_on_its_subject_not_its_framing_words():
    searched = evidence.searched("讲话提出了哪些工程？")
    assert "讲话" not in searched and "提出" not in searched and "工程" in searched
    assert "哪" not in evidence.searched("县里要抓好哪“三个一批”？")  # "好哪" is no term any passage holds


def test_quotes_are_exact_slices_and_a_sentence_pointing_back_keeps_the_one_before():
    chosen = evidence.choose(scorer("要把什么作为战略基点？"), [passage("city", CITY, start=100)])
    assert chosen.answers
    (quote,) = [q for q in chosen.quotes if "战略基点" in q.text]
    assert quote.text.startswith("今年全市经济增长")  # "为此，…" points back: the sentence before comes with it
    assert CITY[quote.start - 100 : quote.end - 100] == quote.text


def test_a_question_asking_for_a_quantity_needs_a_number_in_its_unit():
    has = scorer("全市森林覆盖率达到了多少？")
    assert has.has_answer_form(["全市森林覆盖率达到46%。"]) and not has.has_answer_form(["要提高森林覆盖率。"])
    assert not scorer("新建高铁多少公里？").has_answer_form(["新建高铁3条。"])
    assert scorer("新建高铁多少公里？").has_answer_form(["新建高铁350公里。"])
    refused = evidence.choose(scorer("全市森林覆盖率要达到多少？"), [passage("city", "要提高全市森林覆盖率。")])
    assert not refused.answers and not refused.fits


def test_different_figures_of_different_speeches_are_flagged_and_grouped_by_speech():
    chosen = evidence.choose(scorer("今年经济增长的预期目标是多少？"),
                             [passage("city", CITY), passage("county", COUNTY, title="县讲话")])
    assert chosen.answers and chosen.differing
    assert chosen.speech_ids == ["city", "county"] and [q.label for q in chosen.quotes] == ["1", "2"]
    lines = [b.runs[0].text for b in evidence.draft(chosen, "intro").blocks]
    assert lines[1] == "《讲话》（2025）：" and lines[3] == "《县讲话》（2025）："


def test_unrelated_passages_do_not_answer():
    chosen = evidence.choose(scorer("火星基地的氧气供应怎么保障？"), [passage("city", CITY)])
    assert not chosen.answers


def test_overlapping_passages_read_as_one_run_of_speech_text():
    text = COUNTY + CITY
    first, second = passage("s", text[:50], 0, 0), passage("s", text[40:], 40, 1)
    (run,) = evidence.contiguous([second], [first])
    assert run.start == 0 and run.text == text and run.passage_id == second.passage_id
