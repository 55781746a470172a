"""The evidence of an answer: the sentences of the retrieved passages that answer the question, quoted verbatim.

``choose(question, groups, weights)`` reads the retrieved passages sentence by sentence and keeps the few that cover
the question best (the IDF-weighted share of the question's search terms a sentence holds: ``KeywordIndex
.term_weights``), one list per speech when the question names several. Each kept sentence becomes a ``Citation`` of
its own: an exact slice of its speech (``text == speech_text[start:end]``), with the least context that keeps it
clear: a long sentence is cut to its best clauses (``MAX_QUOTE``), and one that begins by pointing back ("这…", "为此…")
or is very short takes the sentence before it. These quotes are what the user sees first, what the LLM is given (not
whole passages: a shorter prompt reads faster) and what every sentence it writes is checked against.

The quotes also decide, in code, whether the speeches answer the question at all (``Selection.answers``): the best
quote must cover at least ``ANSWERS`` of the question's weight, and a question asking for a quantity ("多少") needs a
quote holding a number. The model's opinion is not asked: a refusal by the model over such quotes is overruled by the
service. The thresholds are measured on a dev set of answerable and unanswerable questions: docs/answers.md.

When the quotes come from several speeches that give different figures (the growth targets of several years), the
selection says so (``differing``) and the answer lists each with its speech and date instead of picking one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from answer.segments import Draft, Run
from answer.types import Citation
from ingest.speechtext import speech_label, trimmed
from retriever.keyword import tokenize
from retriever.search import RetrievedPassage

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*[”’」』）)]*")
_PART = re.compile(r"[^；;]+[；;]*")  # a sentence without a lead is quoted by its parts between semicolons
_LEAD = re.compile(r"^[^：:]{2,40}[：:]")  # "今年发展主要预期目标是：", what the list after it is
_CLAUSE = re.compile(r"[^，,：:；;。！？!?\n]+[，,：:；;。！？!?]*[”’」』）)]*")
_POINTS_BACK = re.compile(r"^[“「]?(?:这|此|其|该|上述|以上|同时|为此|对此|因此|所以|但|而|并|也|他们|它)")
_QUANTITY = re.compile(r"多少|几(?:个百分点|成|倍|万|亿|千|百)|多大规模|百分之几")
_NUMERAL = r"(?:\d|\*{2,}|[〇零一二两三四五六七八九十百千万亿]+(?=[个%％万亿倍成]))"  # "****" is a masked figure
_NUMBER = re.compile(_NUMERAL)
# "多少公里", "多少万人": the unit the answer must come in
_UNIT_ASKED = re.compile(r"多少(?:个百分点|[万亿千百]?(美元|元|公里|千米|吨|人|辆|所|条|项|场|座|家|户|套|亩|公斤|"
                         r"立方米|千瓦|平方米|件|次|名|艘|架|台|本|枚|岁|斤))")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")

MAX_QUOTE = 120  # a longer sentence is cut to its best clauses
MIN_QUOTE = 16  # a shorter one takes the sentence before it
ANSWERS = 0.45  # the best quote must cover this share of the question's weight (docs/answers.md)
KEEP = 0.6  # further quotes must cover at least this share of what the best one covers
FLOOR = 0.25  # ... and at least this share of the question
TITLE_SHARE = 0.5  # of what the speech's title adds to a quote's coverage


@dataclass(frozen=True)
class Selection:
    """The chosen quotes, labelled and in reading order by speech; how well the best covers the question."""

    quotes: tuple[Citation, ...]
    best: float  # share of the question's weight the best quote covers (0..1)
    answers: bool  # the quotes answer the question (the gate: module doc)
    fits: bool = True  # the quotes hold the kind of answer asked for (a number for "多少", in its unit)
    differing: bool = False  # several speeches, different figures
    groups: tuple[tuple[str, tuple[Citation, ...]], ...] = field(default=())  # (speech id, its quotes)

    @property
    def speech_ids(self) -> list[str]:
        return [sid for sid, _ in self.groups]


@dataclass(frozen=True)
class _Candidate:
    passage: RetrievedPassage
    rank: int  # the passage's rank in retrieval
    start: int  # in the passage text
    end: int
    score: float


# words that frame a question without saying what it is about ("讲话提出了哪些…", "分别…"): left out of the scoring,
# as the question words are (retriever/keyword.py), so a quote is judged by the question's own subject
_FRAME = re.compile(r"请?(?:详细|具体|简要|简单)?(?:说明|介绍|谈谈|讲讲|概括|总结|列举)一下|"
                    r"请?(?:详细|具体|简要|简单)(?:地)?(?:说明|介绍|谈谈|讲讲|概括|总结|列举)|请(?:说明|介绍|列举)|"
                    r"政府工作报告|工作报告|讲话|报告|审议的?|闭幕会上?|开幕会上?|提出了?|提到|谈到|讲到|说到|指出|"
                    r"强调|分别|主要|具体|有关|关于|对于|有什么|有何|要求|都|对|哪(?:些|个|几|一|里|儿)?")
# particles: a bigram across one ("的经", "出了") belongs to no word
_PARTICLE = re.compile(r"[的了是和与及或把被等着吗呢吧]")


def searched(question: str) -> str:
    """The words of ``question`` a quote is scored on: without the framing words and particles."""
    return _PARTICLE.sub(" ", _FRAME.sub(" ", question))


class Scorer:
    """How much of a question a text covers: the IDF-weighted share of the question's search terms it holds."""

    def __init__(self, question: str, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)
        self.total = sum(self.weights.values())
        self.wants_quantity = bool(_QUANTITY.search(question))
        unit = _UNIT_ASKED.search(question)
        self.unit = re.compile(_NUMERAL + r"[\d.,，%％*〇零一二两三四五六七八九十百千万亿]*\s*" + unit.group(1)) \
            if unit and unit.group(1) else None

    def has_answer_form(self, texts: Sequence[str]) -> bool:
        """Whether ``texts`` can hold the kind of answer the question asks for: a number for "多少", in the unit it
        names ("多少公里") when it names one."""
        if not self.wants_quantity:
            return True
        pattern = self.unit or _NUMBER
        return any(pattern.search(text) for text in texts)

    def coverage(self, text: str) -> float:
        if not self.total:
            return 0.0
        present = set(tokenize(text))
        return sum(w for t, w in self.weights.items() if t in present) / self.total


def choose(scorer: Scorer, passages: Sequence[RetrievedPassage], *, limit: int = 3, prefix: str = "") -> Selection:
    """The best quotes of ``passages``, at most ``limit``, grouped by speech (the speech of the best quote first,
    each speech's quotes in reading order) and labelled 1, 2… in that order (``prefix``: A1, A2…)."""
    candidates = _ranked(scorer, passages)
    best = candidates[0].score if candidates else 0.0
    floor = max(FLOOR, KEEP * best)
    kept: list[_Candidate] = []
    for c in candidates:
        if len(kept) >= limit or c.score < floor:
            break
        if not any(_overlap(c, k) for k in kept):
            kept.append(c)
    by_speech: dict[str, list[_Candidate]] = {}
    for c in kept:
        by_speech.setdefault(c.passage.speech_id, []).append(c)
    quotes: list[Citation] = []
    groups: list[tuple[str, tuple[Citation, ...]]] = []
    for speech_id, mine in by_speech.items():
        cited = []
        for c in sorted(mine, key=lambda c: c.passage.start + c.start):
            cited.append(_citation(f"{prefix}{len(quotes) + 1}", c))
            quotes.append(cited[-1])
        groups.append((speech_id, tuple(cited)))
    fits = scorer.has_answer_form([q.text for q in quotes])
    answers = bool(quotes) and best >= ANSWERS and fits
    figures = {frozenset(_FIGURE.findall(" ".join(q.text for q in qs))) for _, qs in groups}
    differing = len(groups) > 1 and len(figures - {frozenset()}) > 1
    return Selection(tuple(quotes), best, answers, fits, differing, tuple(groups))


def contiguous(passages: Sequence[RetrievedPassage], neighbours: Iterable = ()) -> list[RetrievedPassage]:
    """The retrieved passages, with the passages just before and after them (``neighbours``: stored passages), as
    runs of contiguous speech text, ranked by their best retrieved passage. A passage may begin in the middle of a
    list or end in the middle of a sentence; the run holds it whole ("今年发展主要预期目标是：…" is in the passage
    before the one that matched "粮食产量…")."""
    rank = {p.passage_id: i for i, p in enumerate(passages)}
    by_speech: dict[str, list] = {}
    for piece in [*passages, *neighbours]:
        by_speech.setdefault(piece.speech_id, []).append(piece)
    runs: list[tuple[int, RetrievedPassage]] = []
    for pieces in by_speech.values():
        pieces.sort(key=lambda p: (p.start, -p.end))
        group: list = []
        for piece in pieces + [None]:
            if piece is not None and group and piece.start <= max(g.end for g in group):
                group.append(piece)
                continue
            found = [g for g in group if getattr(g, "passage_id", None) in rank]
            if found:
                runs.append(_run(group, found, rank))
            group = [piece]
    return [run for _, run in sorted(runs, key=lambda r: r[0])]


def _run(group: list, found: list, rank: Mapping[str, int]) -> tuple[int, RetrievedPassage]:
    """One run of contiguous text from overlapping passages (exact slices of one speech)."""
    text, end = "", group[0].start
    for piece in group:
        if piece.end > end:
            text += piece.text[end - piece.start:]
            end = piece.end
    best = min(found, key=lambda p: rank[p.passage_id])
    also = tuple(dict.fromkeys(s for p in found for s in p.also_in))
    return rank[best.passage_id], replace(best, start=group[0].start, end=end, text=text, also_in=also)


def _ranked(scorer: Scorer, passages: Sequence[RetrievedPassage]) -> list[_Candidate]:
    """Every sentence of the passages (each once, however many overlapping passages hold it), as its best window
    of clauses, best first."""
    seen: set[tuple[str, int]] = set()
    candidates = []
    for rank, passage in enumerate(passages):
        spans = _sentences(passage.text)
        for index, (start, end) in enumerate(spans):
            key = (passage.speech_id, passage.start + start)
            if key in seen:
                continue
            seen.add(key)
            if passage.text[start:end].strip() == passage.title.strip():
                continue  # the title line at the top of a speech says nothing the heading does not
            start, end = _window(scorer, passage.text, start, end)
            start = _with_context(passage.text, spans, index, start, end)
            quote = passage.text[start:end]
            score = scorer.coverage(quote)
            if TITLE_SHARE:  # the speech's title says what its sentences are about ("生态环境保护大会" …)
                score += TITLE_SHARE * (scorer.coverage(f"{passage.title}\n{quote}") - score)
            if score > 0:
                candidates.append(_Candidate(passage, rank, start, end, score - 0.002 * rank))
    return sorted(candidates, key=lambda c: (-c.score, c.rank, c.start))


def _sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of a passage as (start, end), trimmed. A sentence that opens with a lead ("主要预期目标是：")
    is one, whatever semicolons it holds (its parts are the items of that list); any other is cut at its semicolons,
    as speeches run long "要…；要…；" sentences."""
    spans = []
    for m in _SENTENCE.finditer(text):
        start, end = trimmed(text, m.start(), m.end())
        if end <= start:
            continue
        if _LEAD.match(text[start:end]):
            spans.append((start, end))
            continue
        for part in _PART.finditer(text, start, end):
            lo, hi = trimmed(text, part.start(), part.end())
            if hi > lo:
                spans.append((lo, hi))
    return spans


def _window(scorer: Scorer, text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence ``text[start:end]`` itself, or, when longer than ``MAX_QUOTE``, its run of whole clauses that
    covers the question best within that length (the shortest of equals). In a list after a lead, the lead counts
    with each run, and the quote starts at the lead when that keeps it under twice the length: "主要预期目标是：
    …粮食产量1.3万亿斤以上" says what the figure is."""
    if end - start <= MAX_QUOTE:
        return start, end
    lead = _LEAD.match(text, start, end)
    lead_end = lead.end() if lead else None
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text, start, end)]
    best, best_span = -1.0, clauses[0]
    for i in range(len(clauses)):
        for j in range(i, len(clauses)):
            lo, hi = clauses[i][0], clauses[j][1]
            if hi - lo > MAX_QUOTE and j > i:
                break
            read = text[lo:hi] if lead_end is None or lo < lead_end else text[start:lead_end] + text[lo:hi]
            score = scorer.coverage(read)
            if score > best + 1e-9:
                best, best_span = score, (lo, hi)
    lo, hi = trimmed(text, *best_span)
    if lead_end is not None and lo >= lead_end and hi - start <= 2 * MAX_QUOTE:
        lo = start
    if text[hi - 1] in "：:":  # a lead ("要做到三个到位：") says what follows, not what it is: the list comes too
        later = [e for _, e in clauses if e > hi and e - lo <= 2 * MAX_QUOTE]
        hi = trimmed(text, lo, later[-1])[1] if later else hi
    return lo, hi


def _with_context(text: str, spans: list[tuple[int, int]], index: int, start: int, end: int) -> int:
    """Where the quote starts: at the sentence before, when this one points back or is very short."""
    if index == 0 or start != trimmed(text, *spans[index])[0]:
        return start
    if end - start < MIN_QUOTE or _POINTS_BACK.match(text[start:end]):
        before = trimmed(text, *spans[index - 1])[0]
        if end - before <= 2 * MAX_QUOTE and "\n" not in text[before:start]:  # within its paragraph
            return before
    return start


def _overlap(a: _Candidate, b: _Candidate) -> bool:
    if a.passage.speech_id != b.passage.speech_id:
        return False
    a0, a1 = a.passage.start + a.start, a.passage.start + a.end
    b0, b1 = b.passage.start + b.start, b.passage.start + b.end
    return a0 < b1 and b0 < a1


def _citation(label: str, c: _Candidate) -> Citation:
    p = c.passage
    return Citation(label=label, speech_id=p.speech_id, title=p.title, date=p.date, start=p.start + c.start,
                    end=p.start + c.end, text=p.text[c.start:c.end], section=p.section, score=round(c.score, 4),
                    also_in=p.also_in)


# -- how the evidence reads --------------------------------------------------------------------------------------


def quote_runs(quote: Citation) -> tuple[Run, Run]:
    """A quote as the answer shows it: its words verbatim in 「」 (a text run: brackets in a speech stay text), then
    its chip."""
    return Run(f"「{quote.text}」"), Run(cite=quote.label)


def heading(quote: Citation, key: str = "") -> str:
    """The line that names a group's speech: 《title》（date）, after its key (A, B) in a per-speech answer."""
    return f"{key}{'：' if key else ''}{speech_label(quote.title, quote.date)}"


def draft(selection: Selection, intro: str, *, headed: bool = True, key: str = "") -> Draft:
    """The evidence as the code writes it: ``intro`` (when given), then each speech's heading (unless ``headed``
    is false: the intro named the one speech) and its quotes as list items."""
    out = Draft()
    if intro:
        out.line(intro)
    for _, quotes in selection.groups:
        if headed:
            out.line(heading(quotes[0], key) + "：")
        for quote in quotes:
            out.line(*quote_runs(quote), item=True)
    return out
