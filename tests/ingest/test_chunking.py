"""Tests of ingest.chunking.split_passages on the shared seed speeches, provincial reports and hostile input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.chunking import split_passages
from ingest.speech import Passage

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEED = sorted((SHARED / "speeches" / "seed").glob("*.txt"))
PROVINCIAL = [SHARED / "corpora" / "provincial-2025" / f"{name}.txt" for name in ("北京市", "广东省", "云南省")]
COMBOS = [(300, 80), (200, 50), (500, 120), (60, 0)]

TERMINATORS = "。！？；!?;…"
CLOSERS = "”’」』）》】〕〉\"')]"
_SENT_RE = re.compile(rf"(?:[{TERMINATORS}]+[{re.escape(CLOSERS)}]*)+")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").replace("\r", "")


def _texts() -> list[tuple[str, str]]:
    return [(p.stem, _read(p)) for p in SEED + PROVINCIAL]


def _ends_sentence(text: str, end: int) -> bool:
    """``end`` is just after a sentence terminator (and its closers) or at a paragraph end."""
    rest = text[end:]
    if not rest.strip(" \t") or rest.lstrip(" \t").startswith("\n"):
        return True
    i = end
    while i > 0 and text[i - 1] in CLOSERS:
        i -= 1
    return i > 0 and text[i - 1] in TERMINATORS and text[end] not in CLOSERS and text[end] not in TERMINATORS


def _sentence_around(text: str, pos: int) -> tuple[int, int]:
    """The (trimmed-free) span of the sentence containing character position ``pos``."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    start = line_start
    for m in _SENT_RE.finditer(text, line_start, line_end):
        if m.end() > pos:
            return start, m.end()
        start = m.end()
    return start, line_end


def _check_basic(text: str, passages: list[Passage], size: int) -> None:
    assert [p.order for p in passages] == list(range(len(passages)))
    covered = bytearray(len(text))
    for p in passages:
        assert p.text == text[p.start : p.end]
        assert 0 < len(p.text) <= size
        assert p.text == p.text.strip()
        covered[p.start : p.end] = b"\1" * (p.end - p.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"{len(missing)} non-whitespace characters not covered, first at {missing[0]}"
    starts = [p.start for p in passages]
    assert starts == sorted(starts)


@pytest.mark.parametrize("size,overlap", COMBOS)
def test_offsets_bounds_and_coverage(size: int, overlap: int) -> None:
    assert SEED and all(p.exists() for p in PROVINCIAL), f"shared data missing under {SHARED}"
    for name, text in _texts():
        passages = split_passages(name, text, size=size, overlap=overlap)
        assert passages, name
        assert all(p.speech_id == name for p in passages)
        _check_basic(text, passages, size)


@pytest.mark.parametrize("size,overlap", [(300, 80), (500, 120)])
def test_no_cut_inside_short_sentences(size: int, overlap: int) -> None:
    for name, text in _texts():
        for p in split_passages(name, text, size=size, overlap=overlap):
            if not _ends_sentence(text, p.end):
                s, e = _sentence_around(text, p.end - 1)
                assert e - s > size, f"{name}: cut inside a short sentence at {p.end}: {text[s:e]!r}"
            if p.start > 0 and text[p.start - 1] not in "\n \t":
                # a passage starts right after a sentence end, unless it continues an over-long sentence
                if not _ends_sentence(text, p.start):
                    s, e = _sentence_around(text, p.start)
                    assert e - s > size, f"{name}: starts inside a short sentence at {p.start}"


def test_closing_quotes_stay_with_sentence() -> None:
    filler = "我们要坚定信心，勇毅前行，奋力谱写中国式现代化的崭新篇章，不断开创各项事业发展的新局面。"
    assert 14 + len(filler) > 50
    text = f"他说：“发展是硬道理……。”{filler}大家都说：“好！”接下来继续奋斗；他问：“还有吗？”」最后一句。"
    for size, overlap in [(50, 0), (50, 20), (60, 30)]:
        passages = split_passages("q", text, size=size, overlap=overlap)
        _check_basic(text, passages, size)
        for p in passages:
            assert p.text[0] not in CLOSERS + TERMINATORS, p.text
            if p.end < len(text):
                assert text[p.end] not in CLOSERS + TERMINATORS, p.text
    cut_after = {p.end for p in split_passages("q", text, size=50, overlap=0)}
    assert text.index("……。”") + len("……。”") in cut_after  # the first sentence ends after its closing quote


@pytest.mark.parametrize("size,overlap", [(300, 80), (200, 50), (400, 100)])
def test_overlap_is_whole_sentences_within_limit(size: int, overlap: int) -> None:
    seen_overlap = 0
    for name, text in _texts():
        passages = split_passages(name, text, size=size, overlap=overlap)
        for prev, cur in zip(passages, passages[1:]):
            assert cur.start > prev.start and cur.end > prev.end
            if cur.start >= prev.end:
                continue
            seen_overlap += 1
            assert prev.end - cur.start <= overlap
            assert text[cur.start : prev.end] == prev.text[cur.start - prev.start :]
            assert _ends_sentence(text, prev.end)
            assert text[cur.start - 1] in "\n" + TERMINATORS + CLOSERS  # starts at a sentence start
    assert seen_overlap > 50


def test_no_overlap_when_zero() -> None:
    for name, text in _texts():
        passages = split_passages(name, text, size=300, overlap=0)
        assert all(b.start >= a.end for a, b in zip(passages, passages[1:]))


def test_no_punctuation_line_is_bounded() -> None:
    raw = (SHARED / "hostile" / "no_punctuation_one_line.txt").read_bytes()
    assert len(raw) > 600_000
    text = raw.decode("utf-8")
    passages = split_passages("hostile", text, size=300, overlap=80)
    _check_basic(text, passages, 300)
    assert len(passages) >= len(text.strip()) // 300
    # hard cuts are not sentences: nothing is carried over
    assert all(b.start >= a.end for a, b in zip(passages, passages[1:]))


def test_long_sentence_cut_at_commas() -> None:
    clause = "坚持稳中求进工作总基调，"
    text = "总体要求：" + clause * 40 + "推动高质量发展。"
    passages = split_passages("c", text, size=100, overlap=20)
    _check_basic(text, passages, 100)
    for p in passages[:-1]:
        assert p.text[-1] in "，：", p.text


def test_trivial_inputs() -> None:
    assert split_passages("e", "") == []
    assert split_passages("w", " \n\n\t \n") == []
    [p] = split_passages("s", "\n\n  一句话。 \n")
    assert (p.text, p.start, p.section) == ("一句话。", 4, None)


def test_headings_seed_002() -> None:
    text = _read(next(p for p in SEED if p.name.startswith("002_")))
    passages = split_passages("002", text)
    assert passages[0].section is None  # the title comes before any heading
    sections = [p.section for p in passages]
    assert "各位代表、同志们" in sections  # the opening salutation "各位代表、同志们："
    heads = [
        "一、目标就是旗帜，必须把正方向强忠诚",
        "二、目标就是命令，必须全力以赴拼发展",
        "五、目标就是使命，必须上下同欲聚合力",
    ]
    for head in heads:
        first = next(p for p in passages if p.section == head)
        assert first.text.startswith(head)  # a passage starts at the heading line
    # a passage never crosses a major heading: every "一、…" / "二、…" line starts a passage
    for m in re.finditer(r"^[一二三四五]、", text, re.M):
        assert any(p.start == m.start() for p in passages)


def test_headings_seed_000_salutations() -> None:
    text = _read(next(p for p in SEED if p.name.startswith("000_")))
    passages = split_passages("000", text)
    sections = {p.section for p in passages}
    assert "同志们" in sections
    assert "各位代表、同志们！一切伟大的成就都是接续奋斗的结果" in sections
    assert all(s is None or len(s) <= 60 for s in sections)


def test_headings_provincial_nested_and_numbered_leads() -> None:
    text = _read(PROVINCIAL[0])  # 北京市
    passages = split_passages("bj", text)
    lead = next(p for p in passages if p.text.startswith("二是深入实施京津冀协同发展战略"))
    assert lead.section == "一、2024年工作回顾 / 二是深入实施京津冀协同发展战略"
    sub = next(p for p in passages if p.text.startswith("（二）深入落实城市总体规划"))
    assert sub.section == "二、2025年工作总体要求和重点任务 / （二）深入落实城市总体规划，纵深推动京津冀协同发展"
    # a section is the most recent heading at or before the passage start, each part capped at 60 characters
    for p in passages:
        if p.section is not None:
            assert all(len(part) <= 60 for part in p.section.split(" / "))
    # "一是"-style leads are found across the corpus
    corpus = SHARED / "corpora" / "provincial-2025"
    leads = 0
    for path in sorted(corpus.glob("*.txt")):
        for p in split_passages(path.stem, _read(path)):
            if p.section and re.search(r"(^| / )[一二三四五六七八九十]+是", p.section):
                leads += 1
    assert leads > 20


@pytest.mark.parametrize(
    "size,overlap,match",
    [(49, 10, "size"), (10, 0, "size"), (300, -1, "overlap"), (300, 300, "overlap"), (100, 150, "overlap")],
)
def test_bad_arguments(size: int, overlap: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_passages("x", "一句话。", size=size, overlap=overlap)
