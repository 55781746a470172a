"""The alignment under the quote check (study/align.py): words compared, offsets into the original texts, diffs."""

from __future__ import annotations

from study.align import Key, Span, diff, locate, similarity


def test_a_key_keeps_words_and_where_they_stood():
    text = "今年，ＧＤＰ增长５．２％左右！“一核两翼”"
    key = Key.of(text)
    assert key.chars == "今年gdp增长5.2%左右一核两翼"
    assert [text[i] for i in key.at[:3]] == ["今", "年", "Ｇ"]
    assert key.start(2) == text.index("Ｇ") and key.end(len(key)) == text.index("翼") + 1


def test_a_dot_or_plus_counts_only_between_words():
    assert Key.of("5.2%").chars == "5.2%" and Key.of("1+3+N").chars == "1+3+n"
    assert Key.of("第一.第二。").chars == "第一第二"  # an enumerator's dot is punctuation


def test_locate_finds_a_verbatim_part_or_the_best_approximate_span():
    hay = Key.of("去年增长5.2%。今年全市经济增长的预期目标是5%左右。我们提出新布局。").chars
    exact = locate("预期目标是5%左右", hay)
    assert exact[2] == len("预期目标是5%左右") and hay[exact[0]:exact[1]] == "预期目标是5%左右"
    start, end, matched = locate("今年全市经济增长的预期目标是6%左右", hay)
    assert hay[start:end] == "今年全市经济增长的预期目标是5%左右" and matched == len(hay[start:end]) - 1
    assert locate("完全无关", hay)[2] == 1  # one character in common: the similarity decides (study/quotes.py)
    assert locate("完完", "甲乙丙") is None


def test_a_changed_first_word_shows_as_changed_not_added():
    hay = Key.of("今年全市经济增长的预期目标是5%左右。").chars
    start, end, _ = locate("明年全市经济增长的预期目标是5%左右", hay)
    assert hay[start:end].startswith("今年")


def test_the_diff_covers_both_texts_exactly_and_marks_meaning():
    source = Key.of("对破坏生态环境的行为，要零容忍、严查处，确保增长6%左右。")
    quote = Key.of("对破坏生态环境的行为，不要零容忍，确保增长7%左右")
    start, end, matched = locate(quote.chars, source.chars)
    spans = [Span(start, end, 0, len(quote), matched)]
    ops, same = diff(source, spans, quote)
    assert "".join(op.source for op in ops) == source.text[source.start(start):source.end(end)]
    assert "".join(op.text for op in ops) == quote.text[:quote.end(len(quote))]
    changes = {(op.op, op.source.strip("，、"), op.text.strip("，、")): op.why for op in ops if op.op != "same"}
    assert changes[("added", "", "不")] == ("negation",)
    assert changes[("dropped", "严查处", "")] == ()
    assert changes[("changed", "6", "7")] == ("number",)
    assert 0.8 < similarity(same, len(quote), spans) < 1


def test_words_left_out_at_an_ellipsis_are_elided_not_dropped():
    source = Key.of("要坚持稳中求进工作总基调，坚持以人民为中心的发展思想，把扩大内需作为战略基点。")
    quote = Key.of("要坚持稳中求进工作总基调……把扩大内需作为战略基点")
    first, second = quote.chars.index("把"), len(quote)
    a = source.chars.index("要坚持稳中求进工作总基调")
    b = source.chars.index("把扩大内需作为战略基点")
    spans = [Span(a, a + first, 0, first, first), Span(b, b + second - first, first, second, second - first)]
    ops, same = diff(source, spans, quote)
    assert [op.op for op in ops] == ["same", "elided", "same"]
    assert ops[1].source == "，坚持以人民为中心的发展思想，" and ops[1].text == "……"
    assert similarity(same, len(quote), spans) == 1.0
