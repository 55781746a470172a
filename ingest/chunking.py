"""Split a normalised speech text into overlapping ``Passage``s.

How it works (everything is a span of the original text, so ``passage.text == text[start:end]`` always holds):

1. **Units.** Each line (paragraph) is cut into sentences at 。！？；… (and ASCII !?;); closing quotes/brackets that
   directly follow the terminator (”’」』）》】…) stay with the sentence ("……。”" is one sentence end). Text after
   the last terminator of a line is a sentence ending at the paragraph end. A sentence longer than ``size`` is cut
   into pieces at ，、：(,:), packed greedily up to ``size``; a clause still longer than ``size`` is cut hard every
   ``size`` characters. Leading/trailing whitespace of every unit is trimmed by moving offsets.
2. **Packing.** Units are packed greedily while the span ``text[first.start:last.end]`` (newlines between
   paragraphs included) stays within ``size``. A new passage starts with the trailing *whole* sentences of the
   previous one whose span is ``<= overlap`` (none if the last sentence alone is longer, or is a forced piece);
   carried sentences are dropped from the front if they would not leave room for the next unit.
3. **Headings** (a compact heuristic, applied to the start of each stripped line):

   - level 1: ``一、…``, ``第一部分…``, and salutations ``各位代表、同志们！`` / ``同志们：`` / ``各位代表：``
     (a vocative followed by ！ or ：, not by ，);
   - level 2: ``（一）…`` and ``第一，…``;
   - level 3: numbered leads ``一是…``, ``1.…``/``1、…``, ``（1）…``.

   A heading line replaces the headings of its level and deeper; the section is the stack joined with " / ",
   e.g. ``"一、2024年工作回顾 / 一是针对性出台系列稳增长举措"``. Each heading's text is the whole line when it is
   short (<= 60 characters, one sentence at most); otherwise its lead: up to the first sentence end for levels
   1-2 (``一、目标就是旗帜，必须把正方向强忠诚``), up to the first punctuation for ``第一，``, salutations and
   level 3 (``二是加强作风建设``, ``各位代表、同志们！一切伟大的成就都是接续奋斗的结果``); trailing ，。；：
   are dropped and every heading is capped at 60 characters. Text before the first heading has section None.

   A level-1/2 heading line always starts a new passage (without overlap), unless the passage so far holds only
   heading lines; a level-3 lead starts one only when the passage so far is at least ``size // 3`` long, so
   short enumerations are not shredded. A passage's section is the section in force at its first unit, or, when
   it opens with a run of heading lines, at the last of them (the most specific heading it starts with).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.speech import Passage
from ingest.speechtext import CLOSERS, CN_COUNTING, ELLIPSIS, SENTENCE_ENDS, char_class

__all__ = ["split_passages", "heading_lines", "HEADING_MAX", "SALUTATION"]

HEADING_MAX = 60

_SENT_END_RE = re.compile(f"(?:{char_class(SENTENCE_ENDS + ELLIPSIS)}+{char_class(CLOSERS)}*)+")
_CLAUSE_END_RE = re.compile(f"[，、：,:]{char_class(CLOSERS)}*")
_PUNCT_RE = re.compile(r"[，。；：！？,;:!?]")
_NONSPACE_RE = re.compile(r"\S")

_SALUTATION_RE = re.compile(r"(?:(?:各位[\u4e00-\u9fff]{1,6}|同志们|女士们|先生们|朋友们)[、，,]?)+[！：!:]")
SALUTATION = _SALUTATION_RE  # "各位代表、同志们！": the address that opens a paragraph
# (pattern, level, lead): lead "sentence" = cut a long line at its first sentence end, "phrase" = at first punctuation
_HEADING_RULES: tuple[tuple[re.Pattern[str], int, str], ...] = (
    (re.compile(rf"[{CN_COUNTING}]+、"), 1, "sentence"),
    (re.compile(rf"第[{CN_COUNTING}]+部分"), 1, "sentence"),
    (_SALUTATION_RE, 1, "phrase"),
    (re.compile(rf"[（(][{CN_COUNTING}]+[）)]"), 2, "sentence"),
    (re.compile(rf"第[{CN_COUNTING}]+[，,、：:]"), 2, "phrase"),
    (re.compile(rf"[{CN_COUNTING}]+是(?![的否])"), 3, "phrase"),
    (re.compile(r"\d{1,2}[.．、](?!\d)"), 3, "phrase"),
    (re.compile(r"[（(]\d{1,2}[）)]"), 3, "phrase"),
)


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    whole: bool  # a whole sentence (False: a piece of a sentence longer than size)
    section: str | None
    heading_level: int  # > 0 for the first unit of a heading line


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink ``[start, end)`` to exclude surrounding whitespace; None if nothing is left."""
    m = _NONSPACE_RE.search(text, start, end)
    if m is None:
        return None
    start = m.start()
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _heading(line: str) -> tuple[int, str] | None:
    """(level, heading text) if the stripped ``line`` opens with a heading marker."""
    for pattern, level, lead in _HEADING_RULES:
        m = pattern.match(line)
        if m is None:
            continue
        body_end = m.end()
        first_end = _SENT_END_RE.search(line, body_end)
        if len(line) <= HEADING_MAX and (first_end is None or first_end.end() == len(line)):
            head = line
        elif lead == "sentence":
            head = line[: first_end.end()] if first_end else line
        else:
            p = _PUNCT_RE.search(line, body_end)
            head = line[: p.start()] if p else line
        head = head[:HEADING_MAX].rstrip("，。；：,;: ")
        return level, head or line[:HEADING_MAX]
    return None


def heading_lines(text: str) -> list[tuple[int, int, int, str]]:
    """The heading lines of ``text`` by the rules above, salutations left out: (level, start, end, heading) with
    ``text[start:end] == heading`` (the outline of a speech: study/outline.py)."""
    found = []
    line_start = 0
    for line in text.split("\n"):
        span = _trim(text, line_start, line_start + len(line))
        line_start += len(line) + 1
        if span is None:
            continue
        stripped = text[span[0]:min(span[1], span[0] + 4 * HEADING_MAX)]
        heading = _heading(stripped)
        if heading is not None and not _SALUTATION_RE.match(stripped) and stripped.startswith(heading[1]):
            found.append((heading[0], span[0], span[0] + len(heading[1]), heading[1]))
    return found


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans (untrimmed) of the line ``text[start:end]``."""
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _SENT_END_RE.finditer(text, start, end):
        spans.append((pos, m.end()))
        pos = m.end()
    if pos < end:
        spans.append((pos, end))
    return spans


def _pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause punctuation, packing clauses up to ``size``; hard cuts as last resort."""
    clauses: list[tuple[int, int]] = []
    pos = start
    for m in _CLAUSE_END_RE.finditer(text, start, end):
        clauses.append((pos, m.end()))
        pos = m.end()
    if pos < end:
        clauses.append((pos, end))
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    for c_start, c_end in clauses:
        if cur is not None and c_end - cur[0] <= size:
            cur = (cur[0], c_end)
            continue
        if cur is not None:
            out.append(cur)
            cur = None
        while c_end - c_start > size:
            out.append((c_start, c_start + size))
            c_start += size
        cur = (c_start, c_end)
    if cur is not None:
        out.append(cur)
    return out


def _units(text: str, size: int) -> list[_Unit]:
    """All units of ``text`` in order, each trimmed, at most ``size`` long, tagged with its section."""
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    line_start = 0
    n = len(text)
    while line_start <= n:
        nl = text.find("\n", line_start)
        line_end = n if nl < 0 else nl
        span = _trim(text, line_start, line_end)
        line_start = line_end + 1
        if span is None:
            continue
        level = 0
        found = _heading(text[span[0] : min(span[1], span[0] + 4 * HEADING_MAX)])
        if found is not None:
            level, head = found
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, head))
        section = " / ".join(h for _, h in stack) if stack else None
        for s_start, s_end in _sentences(text, *span):
            trimmed = _trim(text, s_start, s_end)
            if trimmed is None:
                continue
            if trimmed[1] - trimmed[0] <= size:
                parts, whole = [trimmed], True
            else:
                parts, whole = _pieces(text, *trimmed, size), False
            for p_start, p_end in parts:
                piece = _trim(text, p_start, p_end)
                if piece is None:
                    continue
                units.append(_Unit(piece[0], piece[1], whole, section, level))
                level = 0  # only the line's first unit marks the heading
    return units


def _validate(size: int, overlap: int) -> None:
    if size < 50:
        raise ValueError(f"size must be at least 50 characters, got {size}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if overlap >= size:
        raise ValueError(f"overlap must be smaller than size, got overlap={overlap} >= size={size}")


def _section_of(units: list[_Unit]) -> str | None:
    section = units[0].section
    for u in units:
        if not u.heading_level:
            break
        section = u.section
    return section


def split_passages(speech_id: str, text: str, *, size: int = 300, overlap: int = 80) -> list[Passage]:
    """Split ``text`` into passages of at most ``size`` characters overlapping by at most ``overlap`` (see the
    module doc)."""
    _validate(size, overlap)
    groups: list[list[_Unit]] = []
    cur: list[_Unit] = []
    for unit in _units(text, size):
        if cur:
            cur_len = cur[-1].end - cur[0].start
            only_headings = all(u.heading_level for u in cur)
            heading_break = not only_headings and (
                unit.heading_level in (1, 2) or (unit.heading_level == 3 and cur_len >= size // 3)
            )
            if heading_break:
                groups.append(cur)
                cur = []
            elif unit.end - cur[0].start > size:
                groups.append(cur)
                carried: list[_Unit] = []
                for u in reversed(cur):
                    if not u.whole or cur[-1].end - u.start > overlap:
                        break
                    carried.insert(0, u)
                while carried and unit.end - carried[0].start > size:
                    carried.pop(0)
                cur = carried
        cur.append(unit)
    if cur:
        groups.append(cur)
    return [
        Passage(
            speech_id=speech_id,
            order=i,
            start=g[0].start,
            end=g[-1].end,
            text=text[g[0].start : g[-1].end],
            section=_section_of(g),
        )
        for i, g in enumerate(groups)
    ]
