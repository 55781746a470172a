"""A speech at a glance: its outline, the figures it states and the numbered formulas it uses, each with offsets
into its text (``text[start:end]``), for links that scroll there.

- **Headings**: the heading lines passages are filed under (``ingest.chunking.heading_lines``: 一、 / 第一部分 at level
  1, （一） / 第一， at level 2, 一是 / 1. / （1） at level 3), and items of an enumeration inside a paragraph ("…。二是
  服务中心力度大。") at level 3 (``kind`` ``item``). A speech without any (a closing address in even paragraphs) is
  outlined by its paragraphs' opening sentences instead (``kind`` ``paragraph``).
- **Figures**: numbers with a unit ("6%左右", "4000亿元", "二百公里", "一百二十六件"), with the verb or bound around
  them ("增长6%左右", "提高到2.5%", "突破4000亿元大关" keeps 突破), and the clause they stand in. A figure is a
  ``target`` when its sentence speaks of a goal or of this year's plan (目标, 预期, 力争, 今年, 全年…), else a
  ``figure`` (what was achieved). Years, dates, ordinals and session numbers are none; masked digits ("****亿元") are
  none either.
- **Formulas**: quoted terms that hold a number ("一核两电三色四新", "553"工程, "保8争9", "五心工程", "两个确立"), named
  with the word that follows the quote when it is the formula's noun (“553”工程 -> 553工程), with every place the speech
  says them, and how many other speeches of the library hold them (``KeywordIndex.covering`` at full coverage): a
  formula that recurs links to the topic view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.chunking import SALUTATION, heading_lines
from ingest.store import split_passage_id

MAX_FORMULAS = 60
MAX_FIGURES = 200
PARAGRAPH_LEAD = 60  # characters of a paragraph's opening sentence in a paragraph outline
MIN_PARAGRAPH = 80  # shorter lines are not outlined as paragraphs (greetings, dates)

_CN = "〇零一二两三四五六七八九十百千万亿"
_ITEM = re.compile(r"(?<=[。；！？!?;])\s*([一二三四五六七八九十]+是)(?![的否])")
_ITEM_END = re.compile(r"[，。；：！？,;:!?\n]")
_ARABIC = r"\d+(?:\.\d+)?"
_CHINESE = rf"[一二两三四五六七八九十][{_CN}]+|十"  # "一百二十六", "四十万", "十": not "两" or "一" alone
_UNIT = (r"个百分点|万亿元|亿美元|亿元|万元|元|%|‰|倍|万人次|人次|万人|平方公里|万平方米|平方米|公里|"
         r"千米|万亩|亩|万吨|吨|万千瓦|千瓦|个|项|件|家|所|条|座|户|套|台|辆|张|名|人|天|小时")
_BEFORE = (r"增长|下降|提高到|提高|降低到|降低|达到|突破|超过|控制在|不低于|不超过|保持在|稳定在|"
           r"新增|新建|改造|完成|实现|投入|安排|培育|超|约|近")
FIGURE = re.compile(rf"(?<![\d{_CN}第.])(?:(?:{_BEFORE})\s*)?"
                    rf"(?:{_ARABIC}\s*(?:[万亿]?(?:{_UNIT})|[万亿])|(?:{_CHINESE})(?:{_UNIT}))"
                    r"(?:左右|以上|以内|以下|多)?")
_CLAUSE_END = re.compile(r"[，。；：！？,;:!?\n]")
_TARGET = re.compile(r"目标|预期|力争|争取|确保|计划|力求|今年|全年|明年|到20\d\d年|"
                     r"提高到|控制在|不低于|不超过|新建|新增")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_QUOTED = re.compile(r"“([^“”\n]{2,16})”|「([^「」\n]{2,16})」|\"([^\"\n]{2,16})\"")
_NOT_FORMULA = re.compile(rf"^[\d{_CN}.%]+$|^\d{{4}}年")  # a bare number or a year is no formula
_COUNTED = re.compile(r"\d|[二两三四五六七八九十百千万亿]|一.*一")  # "一" once is a word (关键一棒), not a count
_FORMULA_NOUN = re.compile(r"工作布局|工作格局|工作体系|行动计划|工程|布局|格局|行动|战略|工作法|工作|目标|要求|"
                           r"精神|体系|机制|政策|计划|任务|理念|原则|模式|"
                           r"品牌|活动|举措|方略|路径|框架|标准|清单|制度|经验")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    start: int
    end: int
    kind: str = "heading"  # heading | item | paragraph

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Figure:
    text: str  # "增长6%左右"
    clause: str  # the clause it stands in
    start: int  # of the figure itself
    end: int
    kind: str  # target | figure

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Formula:
    name: str  # "553工程"
    start: int  # the first mention: text[start:end] is what the speech says there ("553")
    end: int
    mentions: list[tuple[int, int]] = field(default_factory=list)
    other_speeches: int = 0  # other speeches of the library that hold it

    def as_json(self) -> dict:
        return {"name": self.name, "start": self.start, "end": self.end,
                "mentions": [list(m) for m in self.mentions], "other_speeches": self.other_speeches}


@dataclass
class Outline:
    kind = "outline"

    speech_id: str
    title: str
    date: str | None
    headings: list[Heading]
    figures: list[Figure]
    formulas: list[Formula]

    def as_json(self) -> dict:
        return {"speech_id": self.speech_id, "title": self.title, "date": self.date,
                "headings": [h.as_json() for h in self.headings], "figures": [f.as_json() for f in self.figures],
                "formulas": [f.as_json() for f in self.formulas]}


def speech_outline(retriever, speech_id: str) -> Outline:
    """The outline of one stored speech (UnknownSpeechError when there is none), its formulas counted across the
    library of ``retriever``."""
    store = retriever.store
    record, text = store.get_speech(speech_id), store.speech_text(speech_id)
    formulas = formulas_in(text)
    if formulas:
        _count_elsewhere(retriever, speech_id, formulas)
    return Outline(record.id, record.title, record.date, outline_headings(text), figures_in(text), formulas)


def outline_headings(text: str) -> list[Heading]:
    found = [Heading(level, head, start, end) for level, start, end, head in heading_lines(text)]
    lines = {start for _, start, _, _ in heading_lines(text)}
    for match in _ITEM.finditer(text):
        start = match.start(1)
        if start in lines:
            continue
        stop = _ITEM_END.search(text, match.end(1))
        end = min(stop.start() if stop else len(text), start + PARAGRAPH_LEAD)
        found.append(Heading(3, text[start:end], start, end, "item"))
    if not found:
        found = _paragraphs(text)
    return sorted(found, key=lambda h: h.start)


def _paragraphs(text: str) -> list[Heading]:
    found, offset = [], 0
    for line in text.split("\n"):
        start = offset + len(line) - len(line.lstrip())
        offset += len(line) + 1
        if len(line.strip()) < MIN_PARAGRAPH:
            continue
        greeting = SALUTATION.match(text, start)  # "各位代表、同志们！一切伟大的成就…": the sentence after it
        start = greeting.end() if greeting else start
        stop = _SENTENCE_END.search(text, start)
        end = min(stop.start() if stop else start + len(line.strip()), start + PARAGRAPH_LEAD)
        found.append(Heading(1, text[start:end], start, end, "paragraph"))
    return found


def figures_in(text: str) -> list[Figure]:
    figures = []
    for match in FIGURE.finditer(text):
        if len(figures) == MAX_FIGURES:
            break
        clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, max(0, match.start() - 80), match.start())),
                           default=max(0, match.start() - 80))
        clause_stop = _CLAUSE_END.search(text, match.end())
        clause_end = clause_stop.start() if clause_stop else len(text)
        sentence_start = max((m.end() for m in _SENTENCE_END.finditer(text, max(0, match.start() - 200),
                                                                      match.start())), default=0)
        sentence_stop = _SENTENCE_END.search(text, match.end())
        sentence = text[sentence_start:sentence_stop.start() if sentence_stop else len(text)]
        kind = "target" if _TARGET.search(sentence) else "figure"
        figures.append(Figure(match.group(0), text[clause_start:clause_end].strip(), match.start(), match.end(), kind))
    return figures


def formulas_in(text: str) -> list[Formula]:
    found: dict[str, Formula] = {}
    for match in _QUOTED.finditer(text):
        quoted = next(g for g in match.groups() if g)
        noun = _FORMULA_NOUN.match(text, match.end())
        if not _COUNTED.search(quoted) or (_NOT_FORMULA.match(quoted) and not noun):
            continue  # "553" alone is a number; “553”工程 a formula
        name = quoted + noun.group(0) if noun and not _FORMULA_NOUN.search(quoted[-2:]) else quoted
        if name not in found:
            if len(found) == MAX_FORMULAS:
                continue
            start = match.start() + 1
            found[name] = Formula(name, start, start + len(quoted))
    for formula in found.values():
        quoted = text[formula.start:formula.end]
        at = text.find(quoted)
        while at >= 0:
            formula.mentions.append((at, at + len(quoted)))
            at = text.find(quoted, at + len(quoted))
    return list(found.values())


def _count_elsewhere(retriever, speech_id: str, formulas: list[Formula]) -> None:
    """How many other speeches hold each formula: a passage of theirs holds all its tokens, adjacent ones in it
    together (``KeywordIndex.covering`` at full coverage)."""
    keyword = retriever.synced_keyword()
    records = {s.id: s for s in retriever.store.list_speeches()}
    titles = {sid: r.title for sid, r in records.items()}
    for formula in formulas:
        speeches = set()
        for pid, _, _ in keyword.covering(formula.name, titles, 1.0):
            other, version, _ = split_passage_id(pid)
            if other != speech_id and other in records and records[other].version == version:
                speeches.add(other)
        formula.other_speeches = len(speeches)
