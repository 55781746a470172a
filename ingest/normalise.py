"""Normalise the text of a speech, whatever file it came from, so that every format yields the same string.

The normalised form: **one paragraph per line**, lines separated by a single ``"\\n"``, no blank lines, no leading or
trailing whitespace on any line or on the whole text. Blank lines only separate paragraphs, which a line break
already does, and dropping them makes a PDF (no blank lines) and a .txt of the same speech compare equal.

Characters are kept as they are (no NFC/NFKC: full-width punctuation and digits are part of the text) except:

- line breaks (``\\r\\n``, ``\\r``, form feed, U+2028/2029...) become ``\\n``;
- zero-width characters, the BOM, soft hyphens and other control characters are removed;
- a run of horizontal whitespace (spaces, tabs, NBSP, U+3000 and the other Unicode spaces) is removed between two
  CJK characters or next to CJK punctuation (Chinese has no spaces; PDF/DOCX exports and U+3000 indentation add
  them), and otherwise becomes one ASCII space (between Latin words, digits, or a Latin word and a CJK character).

``join_broken_lines`` undoes hard line wrapping (PDF lines, hard-wrapped .txt). Line *a* is joined to the next line
*b* when *b* starts with closing punctuation (a PDF wraps "，" onto the next line), or when *a* fills the wrap width
(85% of the 90th-percentile line width, itself 40-200 columns), does not end a sentence, and *b* is neither
indented nor a heading/list lead ("二、", "（三）", "1."). Short lines (titles, "同志们：", a paragraph's last
line) are never joined. Blank lines always separate. ``looks_hard_wrapped`` decides whether a .txt is wrapped at all.
"""

from __future__ import annotations

import re
import unicodedata

from ingest.speechtext import CLOSERS, CN_COUNTING, ELLIPSIS, SENTENCE_ENDS

LINE_ENDS = SENTENCE_ENDS + ELLIPSIS + "：:"  # a line ending so is complete: "同志们：" is not wrapped on
CLOSING_PUNCTUATION = "，。、；：！？）」』”’》】…,.;:!?)"
CJK_EXTRA = "“”‘’…—·"  # "ambiguous width" punctuation that Chinese text uses as full-width
LINE_BREAKS = re.compile(r"\r\n|[\r\f\v\x85\u2028\u2029]")
INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
LIST_LEAD = re.compile(rf"^(?:[{CN_COUNTING}百]+[、是]|[（(][{CN_COUNTING}\d]+[)）]|\d+[.、．]|"
                       rf"第[{CN_COUNTING}百\d]+[章节部分条])")
INDENTED = re.compile(r"^[ \t\u3000\u00a0]{2,}|^\u3000|^\t")
WRAP_FILL = 0.85
WRAP_WIDTHS = range(40, 201)  # columns of a plausible hard wrap; shorter "wraps" are lists of short lines


def normalise_text(text: str, *, join_broken_lines: bool) -> str:
    """The normalised form of ``text`` (see the module docstring)."""
    text = INVISIBLE.sub("", LINE_BREAKS.sub("\n", text))
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    raw_lines = text.split("\n")
    lines = [_clean_line(line) for line in raw_lines]
    if join_broken_lines:
        lines = _join_broken_lines(lines, [bool(INDENTED.match(line)) for line in raw_lines])
    return "\n".join(line for line in lines if line)


def looks_hard_wrapped(text: str) -> bool:
    """Whether most lines of a plain text fill one fixed width (a wrapped export, not one paragraph per line)."""
    widths = [display_width(line.strip()) for line in text.splitlines() if line.strip()]
    if len(widths) < 8:
        return False
    wrap = _wrap_width(widths)
    full = sum(1 for w in widths if wrap * WRAP_FILL <= w <= wrap)
    return wrap in WRAP_WIDTHS and full >= 0.6 * len(widths)


def display_width(text: str) -> int:
    """Columns the text takes: 2 for a CJK (wide) character, 1 otherwise."""
    return sum(2 if _is_cjk(c) else 1 for c in text)


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF" or char in CJK_EXTRA


def _is_cjk_punctuation(char: str) -> bool:
    return _is_cjk(char) and unicodedata.category(char).startswith("P")


def _clean_line(line: str) -> str:
    return HORIZONTAL_SPACE.sub(_space_between, line.strip())


def _space_between(match: re.Match[str]) -> str:
    before, after = match.string[match.start() - 1], match.string[match.end()]
    if (_is_cjk(before) and _is_cjk(after)) or _is_cjk_punctuation(before) or _is_cjk_punctuation(after):
        return ""
    return " "


def _wrap_width(widths: list[int]) -> int:
    ordered = sorted(widths)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def _join_broken_lines(lines: list[str], indented: list[bool]) -> list[str]:
    widths = [display_width(line) for line in lines if line]
    if not widths:
        return lines
    wrap = _wrap_width(widths)
    full_width = wrap * WRAP_FILL if wrap in WRAP_WIDTHS else float("inf")
    joined: list[str] = []
    previous_full = False  # whether the last line in ``joined`` ended on a full-width (wrapped) line
    for line, is_indented in zip(lines, indented):
        last = joined[-1] if joined else ""
        if line and last and _continues(last, line, previous_full, is_indented):
            joined[-1] = last + _joiner(last[-1], line[0]) + line
        else:
            joined.append(line)
        previous_full = display_width(line) >= full_width
    return joined


def _continues(last: str, line: str, last_was_full: bool, is_indented: bool) -> bool:
    if line[0] in CLOSING_PUNCTUATION:
        return True
    if not last_was_full or _ends_sentence(last):
        return False
    return not is_indented and not LIST_LEAD.match(line)


def _ends_sentence(line: str) -> bool:
    """``。`` ends a sentence, and so does ``。”``; a bare ``”`` ends a quotation inside one."""
    stripped = line.rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in LINE_ENDS


def _joiner(before: str, after: str) -> str:
    return "" if _is_cjk(before) or _is_cjk(after) or before == "-" else " "
