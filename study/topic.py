"""A topic across the library: every speech that addresses it, in date order, how much of it does, and its best
quotes.

A passage is *on the topic* when its own text (not its speech's title) covers at least ``GATE`` of the topic's
weight: the IDF-weighted share of the topic's character bigrams it holds (``KeywordIndex.covering``, the measure of
the relevance gate; question words left out). For "营商环境" that means the passage says 营商环境 (or 营商 with 商环:
the bigram 环境 alone, in 生态环境, weighs a sixth); for "经济增长目标" it needs most of 经济, 增长, 长目, 目标. Keyword
evidence only, on purpose: every speech listed shows the sentences that put it there, and each can be checked.

A speech's ``strength`` is the share of its passages on the topic: how much of the speech is about it, not whether
it mentions it once (the chart this replaces scored the best passage of each speech, and saturated: 7 of 9 speeches
at 1.00 on 营商环境). ``on_topic`` is their number. By year: the share of all that year's passages, and how many of
its speeches address the topic at all. The ``MAX_SPEECHES`` strongest speeches are listed (in date order) with up to
``QUOTES_PER_SPEECH`` quotes each: the sentence of each of its best passages (BM25 on the passage's text) that
covers the most of the topic, with exact offsets; the counts and years cover every speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.store import StoredSpeech, samples_aside, split_passage_id
from answer.errors import checked_text
from study.quotes import sentence_spans

GATE = 0.5  # share of the topic's weight a passage's text must hold to be on the topic
QUOTES_PER_SPEECH = 3
MAX_SPEECHES = 300  # speeches listed with their quotes (the strongest), so a topic of a huge library stays a page
SHORT_QUOTE = 20  # a quote shorter than this takes the next sentence of its passage too
LONG_QUOTE = 120  # a longer sentence is cut to its clauses around the topic, as many as fit CLAUSES_QUOTE
CLAUSES_QUOTE = 60
_CLAUSE = re.compile(r"[，；：,;:]")


@dataclass(frozen=True)
class TopicQuote:
    speech_id: str
    title: str
    date: str | None
    label: str  # "1", "2"... within its speech: the chip
    start: int  # offsets into the speech's text: speech_text[start:end] == text
    end: int
    text: str

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TopicSpeech:
    speech_id: str
    title: str
    date: str | None
    year: int | None
    passages: int
    on_topic: int
    quotes: list[TopicQuote] = field(default_factory=list)

    @property
    def strength(self) -> float:
        return self.on_topic / self.passages if self.passages else 0.0

    def as_json(self) -> dict:
        return {"speech_id": self.speech_id, "title": self.title, "date": self.date, "year": self.year,
                "strength": round(self.strength, 4), "on_topic": self.on_topic, "passages_total": self.passages,
                "passages": [q.as_json() for q in self.quotes]}


@dataclass(frozen=True)
class TopicYear:
    year: int | None
    speeches: int  # in the library that year
    addressing: int  # of them on the topic
    on_topic: int  # passages
    passages: int

    @property
    def strength(self) -> float:
        return self.on_topic / self.passages if self.passages else 0.0

    def as_json(self) -> dict:
        return {"year": self.year, "speeches": self.speeches, "addressing": self.addressing,
                "strength": round(self.strength, 4), "on_topic": self.on_topic, "passages_total": self.passages}


@dataclass
class TopicView:
    kind = "topic"

    topic: str
    speeches: list[TopicSpeech]  # date order, the MAX_SPEECHES strongest
    years: list[TopicYear]
    addressing: int  # speeches on the topic in all (may be more than listed)

    def as_json(self) -> dict:
        return {"topic": self.topic, "addressing": self.addressing, "listed": len(self.speeches),
                "speeches": [s.as_json() for s in self.speeches], "years": [y.as_json() for y in self.years]}


def follow_topic(retriever, topic: str) -> TopicView:
    """``topic`` across the library of ``retriever`` (module doc). BadInput for an empty topic or one longer than
    SPEECHES_MAX_QUERY_CHARS."""
    topic = checked_text(topic, "topic", retriever.settings.max_query_chars, "SPEECHES_MAX_QUERY_CHARS")
    keyword = retriever.synced_keyword()
    listed_speeches = retriever.store.list_speeches()
    aside = set(samples_aside(listed_speeches) or ())  # the samples, once the library holds the user's own
    records = {s.id: s for s in listed_speeches if s.id not in aside}
    best: dict[str, list[tuple[float, str]]] = {}  # speech id -> (score, passage id) of its passages on the topic
    for pid, _, score in keyword.covering(topic, {sid: r.title for sid, r in records.items()}, GATE):
        speech_id, version, _ = split_passage_id(pid)
        if speech_id in records and records[speech_id].version == version:
            best.setdefault(speech_id, []).append((score, pid))
    rows = {sid: _row(records[sid], len(found)) for sid, found in best.items()}
    listed = sorted(rows.values(), key=lambda r: (-r.strength, -r.on_topic, r.speech_id))[:MAX_SPEECHES]
    wanted = {sid: [pid for _, pid in sorted(best[sid], reverse=True)[:2 * QUOTES_PER_SPEECH]] for sid in
              (r.speech_id for r in listed)}
    passages = retriever.store.passages_by_id([pid for pids in wanted.values() for pid in pids])
    for row in listed:
        row.quotes = _quotes(keyword, topic, [passages[pid] for pid in wanted[row.speech_id] if pid in passages])
    listed.sort(key=lambda r: (r.date is None, r.date or "", r.speech_id))
    return TopicView(topic, listed, _years(records.values(), rows), len(rows))


def _row(record: StoredSpeech, on_topic: int) -> TopicSpeech:
    return TopicSpeech(record.id, record.title, record.date, record.year, record.passages, on_topic)


def _quotes(keyword, topic: str, passages: list) -> list[TopicQuote]:
    """Up to QUOTES_PER_SPEECH quotes from ``passages`` (best first): the best sentence of each (the one covering
    most of the topic; not the speech's title line), cut to its clauses around the topic when long, overlapping
    ones once."""
    quotes: list[TopicQuote] = []
    for passage in passages:
        text = passage.text
        scored = []
        for lo, hi in sentence_spans(text, 0, len(text)):
            lo, hi = _trimmed(text, lo, hi)
            covered = keyword.coverage(topic, text[lo:hi]) if hi > lo and text[lo:hi] != passage.title else 0.0
            if covered > 0:
                scored.append((covered, -lo, lo, hi))
        if not scored:
            continue
        _, _, lo, hi = max(scored)
        if hi - lo < SHORT_QUOTE:  # "作风建设永远在路上。" says little alone: the next sentence too
            following = [s for s in sentence_spans(text, hi, len(text)) if text[s[0]:s[1]].strip()]
            hi = _trimmed(text, *following[0])[1] if following else hi
        if hi - lo > LONG_QUOTE:
            lo, hi = _clauses(keyword, topic, text, lo, hi)
        start, end = passage.start + lo, passage.start + hi
        if any(q.start < end and start < q.end for q in quotes):
            continue
        quotes.append(TopicQuote(passage.speech_id, passage.title, passage.date, str(len(quotes) + 1), start, end,
                                 text[lo:hi]))
        if len(quotes) == QUOTES_PER_SPEECH:
            break
    return quotes


def _trimmed(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def _clauses(keyword, topic: str, text: str, lo: int, hi: int) -> tuple[int, int]:
    """Of a long sentence, the clause covering most of the topic, with its neighbours while they fit CLAUSES_QUOTE."""
    cuts = [lo, *(m.end() for m in _CLAUSE.finditer(text, lo, hi)), hi]
    clauses = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    best = max(range(len(clauses)), key=lambda i: (keyword.coverage(topic, text[slice(*clauses[i])]), -i))
    first = last = best
    while True:
        grown = False
        if first > 0 and clauses[last][1] - clauses[first - 1][0] <= CLAUSES_QUOTE:
            first, grown = first - 1, True
        if last + 1 < len(clauses) and clauses[last + 1][1] - clauses[first][0] <= CLAUSES_QUOTE:
            last, grown = last + 1, True
        if not grown:
            break
    a, b = clauses[first][0], clauses[last][1]
    return a, b if b == hi else b - 1 if text[b - 1] in "，、；：,;:" else b


def _years(records, rows: dict[str, TopicSpeech]) -> list[TopicYear]:
    totals: dict[int | None, list[int]] = {}
    for record in records:
        year = totals.setdefault(record.year, [0, 0, 0, 0])
        row = rows.get(record.id)
        year[0] += 1
        year[1] += row is not None
        year[2] += row.on_topic if row else 0
        year[3] += record.passages
    ordered = sorted(totals.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return [TopicYear(year, *counts) for year, counts in ordered]
