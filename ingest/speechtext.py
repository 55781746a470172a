"""How speeches are written, defined once: where a sentence ends, Chinese numerals, years, and how a speech is named.

Ingest (normalising, chunking, dates, sessions), retrieval (the speeches a question names), answers (their sentences,
the citation check, extractive quotes) and the web app read and write speech text with these, so that, say, a
sentence the chunker ends is a sentence the citation check reads, and "二〇二三年" is 2023 wherever it is met.
"""

from __future__ import annotations

import re

# -- sentences -------------------------------------------------------------------------------------------------

FULL_STOPS = "。！？!?"  # end a sentence
SENTENCE_ENDS = FULL_STOPS + "；;"  # end a sentence, or a clause that stands as one: the unit of chunks and answers
ELLIPSIS = "…"  # ends a sentence in a speech's text (the chunker cuts there; answers do not write it)
CLOSERS = "”’」』）》】〕〉\"')]"  # a closing quote or bracket right after a sentence end belongs to that sentence


def char_class(chars: str, *, negate: bool = False) -> str:
    """A regular-expression character class of exactly ``chars`` (``[^…]`` with ``negate``)."""
    return "[" + ("^" if negate else "") + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


# -- Chinese numerals ------------------------------------------------------------------------------------------

CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100}
CN_NUMERALS = "".join(CN_DIGITS) + "".join(CN_UNITS)  # every character of a Chinese number
CN_COUNTING = "一二三四五六七八九十"  # what numbers sections, list items and dates: "三、", "（十）", "十二月"
YEAR_NUMERALS = "〇○零Ｏ一二三四五六七八九"  # a year written digit by digit: "二〇二三年"


def cn_number(numeral: str | None) -> int | None:
    """Digits ("16", "２０２３"), a number written digit by digit ("二〇二三"), or a Chinese number below 1000
    ("十六", "二十", "一百零五"); None for anything else ("十二十", "届")."""
    if not numeral:
        return None
    if numeral.isdecimal():
        return int(numeral)
    if any(c not in CN_DIGITS and c not in CN_UNITS for c in numeral):
        return None
    if not any(c in CN_UNITS for c in numeral):
        return int("".join(str(CN_DIGITS[c]) for c in numeral))
    total, digit, last_unit = 0, None, 1000
    for char in numeral:
        if char in CN_DIGITS:
            digit = CN_DIGITS[char]
            continue
        unit = CN_UNITS[char]
        if unit >= last_unit:  # units only ever get smaller: 一百二十, not 十二十
            return None
        total += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    return total + (digit or 0)


def chinese_number(n: int) -> str:
    """16 → 十六, 20 → 二十, 2 → 二 (below 100, as sessions are written)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, units = divmod(n, 10)
    return (digits[tens] if tens > 1 else "") + "十" + (digits[units] if units else "")


# -- years -----------------------------------------------------------------------------------------------------

YEAR = r"(?:19|20)\d{2}"  # a year as questions and answers write it
YEAR_WORDS = rf"(?<!\d)({YEAR})\s*年(?:度)?"  # "2021年", "2021 年度": group 1 is the year
_CN_YEAR = re.compile(rf"{char_class(YEAR_NUMERALS)}{{4}}(?=年)")
_YEAR_DIGITS = str.maketrans(YEAR_NUMERALS, "0000123456789")


def years_as_digits(text: str) -> str:
    """``text`` with its years written in Chinese numerals as digits: "二〇二三年" → "2023年"."""
    return _CN_YEAR.sub(lambda m: m.group(0).translate(_YEAR_DIGITS), text)


# -- how a speech is named -------------------------------------------------------------------------------------

TITLE = "《{title}》"  # a speech's title as the answers, citations and pages quote it
DATED = "（{date}）"  # its date after the title


def quoted_title(title: str) -> str:
    return TITLE.format(title=title)


def speech_label(title: str, date: str | None = None) -> str:
    """How a citation names its speech: 《title》（date）, or 《title》 without a date."""
    return quoted_title(title) + (DATED.format(date=date) if date else "")


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without its leading and trailing whitespace, as (start, end) in ``text``."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
