"""Where a quoted text lies in a speech, and what changed: the character-level alignment of the quote check.

Texts are compared on their *words*: a ``Key`` keeps the letters, digits and CJK characters of a text (folded:
full-width forms and compatibility characters by NFKC, Latin letters lower-cased), ``%`` and ``‰``, and ``.``/``+``
only between digits or letters ("5.2", "1+3+N"); whitespace and punctuation are left out. So a quote that differs
from the speech only in its punctuation, its quotation marks, full-width or half-width forms or line breaks counts
as verbatim; a word, a number or a character changed does not. Every key character remembers where it stood in the
original text, so a match is reported as offsets into the stored speech (``speech_text[start:end]``) and the diff as
pieces of the original texts.

The alignment itself is difflib's (``SequenceMatcher``, no autojunk): exact first (``str.find`` on the keys), else
the matching blocks of the quote in a window of the speech, trimmed at either end while dropping a block raises the
similarity (2 x matched / (quote + span), difflib's ratio) and the block lies further from the next than the quote's
characters between them explain, so a stray character far away does not stretch the span, and a changed number
("2.5%" -> "3%") keeps the "%" after it.
A diff is a list of ``Op``s: ``same``, ``changed``, ``dropped`` (in the speech, left out of the quote), ``added`` (in
the quote, not in the speech), and ``elided`` (left out where the quote says "……"). A change is ``significant``
when it touches a number, a negation or a word that sets a direction or a bound (增长/下降, 以上/左右…): the changes
that alter what a sentence commits to.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from difflib import SequenceMatcher

EDGE_FIX = 3  # unmatched quote characters at an end that still pull the span out (a changed first or last word)
_CN_NUMERAL = "〇零一二两三四五六七八九十百千万亿"
_MEASURE = "个项条件家所年月日天次倍成亿万元吨公里亩人名座批户套台辆%％"
MEANING = (
    ("number", re.compile(rf"\d|[{_CN_NUMERAL}]{{2,}}|[{_CN_NUMERAL}半][{_MEASURE}]|第[{_CN_NUMERAL}]")),
    ("negation", re.compile(r"[不未没无非否勿莫]")),
    ("direction", re.compile(r"增|减|升|降|涨|跌|提高|降低|扩大|缩小|超过|低于|高于|以上|以下|以内|不少于|不超过|"
                             r"左右|至少|最多|力争|确保|争取|翻番|压减|控制在")),
)


@dataclass(frozen=True)
class Key:
    """The words of ``text`` (module doc): ``chars``, and for each the index in ``text`` it came from."""

    text: str
    chars: str
    at: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Key:
        chars: list[str] = []
        at: list[int] = []
        for i, c in enumerate(text):
            if "\u4e00" <= c <= "\u9fff":  # most of a Chinese text: kept as it is
                chars.append(c)
                at.append(i)
                continue
            for folded in unicodedata.normalize("NFKC", c).lower():
                if folded.isalnum() or folded in "%‰" or (folded in ".+" and _between_words(text, i)):
                    chars.append(folded)
                    at.append(i)
        return cls(text, "".join(chars), tuple(at))

    def __len__(self) -> int:
        return len(self.chars)

    def start(self, p: int) -> int:
        """Where key position ``p`` starts in the text (the text's end past the last)."""
        return self.at[p] if p < len(self.at) else len(self.text)

    def end(self, q: int) -> int:
        """Where the key span ending at ``q`` (exclusive) ends in the text: after its last character."""
        return self.at[q - 1] + 1 if q > 0 else 0

    def position(self, offset: int) -> int:
        """The first key position at or after text offset ``offset``."""
        return bisect_left(self.at, offset)


def _between_words(text: str, i: int) -> bool:
    """Between two digits or Latin letters (half- or full-width): "5.2", "1+3+N", not "第一.第二"."""
    def latin(c: str) -> bool:
        folded = unicodedata.normalize("NFKC", c)
        return folded.isascii() and folded.isalnum()

    return 0 < i < len(text) - 1 and latin(text[i - 1]) and latin(text[i + 1])


@dataclass(frozen=True)
class Op:
    """One piece of a diff: ``source`` is the speech's text of it, ``text`` the quote's."""

    op: str  # same | changed | dropped | added | elided
    source: str
    text: str
    why: tuple[str, ...] = ()  # what makes a change significant: number, negation, direction

    @property
    def significant(self) -> bool:
        return bool(self.why)

    def as_json(self) -> dict:
        return {"op": self.op, "source": self.source, "text": self.text, "significant": self.significant,
                "why": list(self.why)}


@dataclass(frozen=True)
class Span:
    """A part of a quote aligned to the speech: key positions in the speech [lo, hi) and in the quote."""

    lo: int
    hi: int
    part_lo: int
    part_hi: int
    matched: int  # characters equal in both


def locate(part: str, hay: str, lo: int = 0, hi: int | None = None) -> tuple[int, int, int] | None:
    """Where ``part`` (key characters) best matches in ``hay[lo:hi]``: (start, end, characters matched), exact when
    it is there verbatim; None when not even one character matches."""
    hi = len(hay) if hi is None else hi
    found = hay.find(part, lo, hi)
    if found >= 0:
        return found, found + len(part), len(part)
    blocks = [b for b in SequenceMatcher(None, hay[lo:hi], part, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return None
    first, last = 0, len(blocks) - 1
    matched = sum(b.size for b in blocks)

    def ratio(a: int, b: int, m: int) -> float:
        return 2 * m / (len(part) + blocks[b].a + blocks[b].size - blocks[a].a)

    def loose(i: int) -> bool:
        """Block i+1 lies further from block i in the speech than the quote's characters between them explain."""
        hay_gap = blocks[i + 1].a - blocks[i].a - blocks[i].size
        part_gap = blocks[i + 1].b - blocks[i].b - blocks[i].size
        return hay_gap > 2 * part_gap + EDGE_FIX

    while first < last:
        now = ratio(first, last, matched)
        left = ratio(first + 1, last, matched - blocks[first].size) if loose(first) else 0.0
        right = ratio(first, last - 1, matched - blocks[last].size) if loose(last - 1) else 0.0
        if max(left, right) <= now:
            break
        if left >= right:
            matched -= blocks[first].size
            first += 1
        else:
            matched -= blocks[last].size
            last -= 1
    start, end = blocks[first].a, blocks[last].a + blocks[last].size
    # a changed first or last word: take the speech's characters in its place into the span, so it shows as changed
    before, after = blocks[first].b, len(part) - blocks[last].b - blocks[last].size
    if 0 < before <= EDGE_FIX:
        start = max(0, start - before)
    if 0 < after <= EDGE_FIX:
        end = min(hi - lo, end + after)
    return lo + start, lo + end, matched


def diff(source: Key, spans: list[Span], quote: Key) -> tuple[list[Op], int]:
    """The ops turning the speech's text over ``spans`` into the quote's, and how many key characters are the same;
    between two spans (the quote said "……"), the speech's text left out is one ``elided`` op.
    ``"".join(op.source) == source.text[start:end]`` of the whole match, and ``"".join(op.text)`` the quote from its
    first to its last word."""
    ops: list[Op] = []
    same = 0
    for n, span in enumerate(spans):
        if n:
            gap_source = source.text[source.end(spans[n - 1].hi):source.start(span.lo)]
            gap_text = quote.text[quote.end(spans[n - 1].part_hi):quote.start(span.part_lo)]
            ops.append(Op("elided", gap_source, gap_text))
        s_key, q_key = source.chars[span.lo:span.hi], quote.chars[span.part_lo:span.part_hi]
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, s_key, q_key, autojunk=False).get_opcodes():
            s1, s2 = _cut(source, span.lo + i1, span.lo + i2, span.hi)
            q1, q2 = _cut(quote, span.part_lo + j1, span.part_lo + j2, span.part_hi)
            kind = {"equal": "same", "replace": "changed", "delete": "dropped", "insert": "added"}[tag]
            same += i2 - i1 if kind == "same" else 0
            why = () if kind == "same" else _meaning(source.text, s1, s2) + _meaning(quote.text, q1, q2)
            ops.append(Op(kind, source.text[s1:s2], quote.text[q1:q2], tuple(dict.fromkeys(why))))
    return _merged(ops), same


def _cut(key: Key, p: int, q: int, span_end: int) -> tuple[int, int]:
    """Text offsets of key positions [p, q) inside a span ending at ``span_end``: each piece runs to where the next
    one starts (punctuation goes with the piece before it), the last one to its last character."""
    def at(pos: int) -> int:
        return key.end(span_end) if pos >= span_end else key.start(pos)

    return at(p), at(q) if q > p else at(p)


def _meaning(text: str, start: int, end: int) -> tuple[str, ...]:
    """What kinds of meaning-bearing words the changed text touches (one character of context on each side, so a
    changed digit inside a number or a measure word after it counts)."""
    if start == end:
        return ()
    near = text[max(0, start - 1):end + 1]
    return tuple(kind for kind, pattern in MEANING if pattern.search(near))


def _merged(ops: list[Op]) -> list[Op]:
    out: list[Op] = []
    for op in ops:
        if not op.source and not op.text:
            continue
        if out and out[-1].op == op.op == "same":
            out[-1] = Op("same", out[-1].source + op.source, out[-1].text + op.text)
        else:
            out.append(op)
    return out


def similarity(same: int, quote_length: int, spans: list[Span]) -> float:
    """difflib's ratio over the aligned parts: 2 x same / (quote characters + speech characters aligned)."""
    total = quote_length + sum(s.hi - s.lo for s in spans)
    return 2 * same / total if total else 0.0
