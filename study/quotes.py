"""Check a draft's quotes against the library (核对引文): each quote located in a speech, verbatim or not.

``check_quotes(retriever, text)`` returns a ``QuoteCheck``: for each quote of the draft, whether it is ``exact``
(the speech says it word for word), ``altered`` (a passage says nearly that; the diff shows what was dropped, added
or changed, meaning-bearing changes marked) or ``not_found`` (with the nearest passages), and where: the speech, and
``start``/``end`` with ``speech_text[start:end] == source_text``. No LLM runs.

What is checked (a draft is mostly the writer's own words):
- a text that holds quotations (“…”, 「…」, 『…』, ‘…’ or "…" of at least ``MIN_QUOTE`` characters; a shorter one
  such as “五心工程” is a name, not a quotation) is checked quotation by quotation: the words around them are the
  writer's;
- a text without any (one pasted sentence, a passage copied without marks) is checked sentence by sentence, a
  lead-in naming the speaker ("习近平总书记指出，") left out;
- a quotation of several sentences is one quote while it is at most ``MAX_UNIT`` characters, else sentence by
  sentence; "……" inside a quote marks words left out: each part must be in the speech, in order, close together
  (``MAX_GAP``), and what was left out is reported as ``elided``, not as a change.

How: the quote's character bigrams find candidate passages in the keyword index (BM25, ``CANDIDATES``, from at most
``SPEECHES_PER_QUOTE`` speeches); the quote is looked for word for word in each candidate speech's whole text, else
aligned approximately within a window around each candidate passage (study/align.py: words compared, punctuation,
spacing and full-width forms ignored). The best match wins; a verbatim one also names the other candidate speeches
that hold it (``also_in``). ``altered`` needs a similarity of at least ``ALTERED_MIN``; below it the quote is
``not_found``. docs/study.md has the measured figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.store import StoredSpeech, split_passage_id
from study.align import Key, Op, Span, diff, locate, similarity
from answer.errors import BadInput, checked_text

MIN_QUOTE = 8  # characters (key characters: letters, digits) inside quotation marks that make a quotation
MIN_SENTENCE = 6  # shorter sentences ("同志们：", "一、") are not checked
MAX_UNIT = 300  # longest quote checked as one; longer ones sentence by sentence, then clause by clause
MAX_GAP = 600  # most characters "……" may stand for
CANDIDATES = 12  # passages the keyword search proposes per quote
SPEECHES_PER_QUOTE = 4  # speeches whose text a quote is aligned against
WINDOWS_PER_SPEECH = 3  # candidate passages per speech whose surroundings are aligned
ALTERED_MIN = 0.6  # similarity from which a quote counts as an altered quote of the passage (docs/study.md)
NEAREST = 3  # passages shown for a quote not found
EXACT, ALTERED, NOT_FOUND = "exact", "altered", "not_found"

_OPENERS = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"'}
_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』\"]*|\n+")
_CLAUSE_END = re.compile(r"[，、：,:]")
_ELLIPSIS = re.compile(r"…+|\.{3,}|。{3,}|⋯+")
_LEAD_IN = re.compile(r"^[^，。：:；;“”「」]{1,30}?"
                      r"(?:指出|强调|提出|要求|表示|说|讲|认为|谈到|明确|号召|宣布)[，,：:]\s*")


@dataclass(frozen=True)
class Unit:
    """A quote of the draft: its words span [start, end) of the draft, cut at "……" into parts (key positions)."""

    start: int
    end: int
    quoted: bool
    parts: tuple[tuple[int, int], ...]

    @property
    def length(self) -> int:
        return sum(hi - lo for lo, hi in self.parts)


@dataclass
class CheckedQuote:
    text: str  # the quote as the draft has it, from its first to its last word
    at: tuple[int, int]  # where in the draft
    quoted: bool  # it stood in quotation marks
    status: str  # exact | altered | not_found
    speech_id: str | None = None
    title: str | None = None
    date: str | None = None
    start: int | None = None  # offsets into the speech's stored text: speech_text[start:end] == source_text
    end: int | None = None
    source_text: str | None = None
    similarity: float = 0.0
    diff: list[Op] = field(default_factory=list)
    also_in: list[str] = field(default_factory=list)  # other speeches that hold this quote word for word
    nearest: list[dict] = field(default_factory=list)  # not found: the passages closest to it

    def as_json(self) -> dict:
        return {
            "text": self.text, "at": list(self.at), "quoted": self.quoted, "status": self.status,
            "speech_id": self.speech_id, "title": self.title, "date": self.date, "start": self.start,
            "end": self.end, "source_text": self.source_text, "similarity": round(self.similarity, 4),
            "diff": [op.as_json() for op in self.diff], "also_in": list(self.also_in), "nearest": self.nearest,
        }


@dataclass
class QuoteCheck:
    kind = "verify"

    sentences: list[CheckedQuote]

    def counts(self) -> dict[str, int]:
        return {status: sum(s.status == status for s in self.sentences) for status in (EXACT, ALTERED, NOT_FOUND)}

    @property
    def all_exact(self) -> bool:
        return all(s.status == EXACT for s in self.sentences)

    def as_json(self) -> dict:
        return {"sentences": [s.as_json() for s in self.sentences], "counts": self.counts()}


def check_quotes(retriever, text: str) -> QuoteCheck:
    """Every quote of ``text`` checked against the library of ``retriever`` (module doc). BadInput for a text
    that is empty or longer than SPEECHES_MAX_VERIFY_CHARS."""
    text = checked_text(text, "text to check", retriever.settings.max_verify_chars, "SPEECHES_MAX_VERIFY_CHARS")
    draft = Key.of(text)
    units = draft_units(draft)
    if not units:
        raise BadInput("no_sentence", what="text to check", length=MIN_SENTENCE)
    library = _Library(retriever)
    return QuoteCheck([library.check(unit, draft) for unit in units])


# -- the quotes of a draft -----------------------------------------------------------------------------------------


def draft_units(draft: Key) -> list[Unit]:
    """The quotes to check in ``draft`` (module doc): its quotations, or else its sentences."""
    text = draft.text
    quotations = [(lo, hi) for lo, hi in _quotations(text) if _length(draft, lo, hi) >= MIN_QUOTE]
    units: list[Unit] = []
    if quotations:
        for lo, hi in quotations:
            if _length(draft, lo, hi) <= MAX_UNIT:
                units += _unit(draft, lo, hi, quoted=True)
            else:
                for s_lo, s_hi in sentence_spans(text, lo, hi):
                    units += _pieces(draft, s_lo, s_hi, quoted=True)
        return units
    for lo, hi in sentence_spans(text, 0, len(text)):
        lead = _LEAD_IN.match(text, lo, hi)
        units += _pieces(draft, lead.end() if lead else lo, hi, quoted=False)
    return units


def _quotations(text: str) -> list[tuple[int, int]]:
    """The contents of the outermost quotations, as [lo, hi) offsets. Unclosed or stray marks are no quotations."""
    found, stack = [], []
    for i, c in enumerate(text):
        if stack and c == stack[-1][0]:
            _, start = stack.pop()
            if not stack:
                found.append((start, i))
        elif c in _OPENERS:
            stack.append((_OPENERS[c], i + 1))
    return found


def sentence_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """The sentences of ``text[lo:hi]`` as spans (ends: 。！？；, closing quotes after them, line breaks)."""
    spans, pos = [], lo
    for match in _SENTENCE_END.finditer(text, lo, hi):
        spans.append((pos, match.end()))
        pos = match.end()
    if pos < hi:
        spans.append((pos, hi))
    return spans


def _length(draft: Key, lo: int, hi: int) -> int:
    return draft.position(hi) - draft.position(lo)


def _pieces(draft: Key, lo: int, hi: int, *, quoted: bool) -> list[Unit]:
    """A sentence as units: itself, or cut at clause punctuation (hard cuts as a last resort) when over MAX_UNIT."""
    if _length(draft, lo, hi) < MIN_SENTENCE:
        return []
    if _length(draft, lo, hi) <= MAX_UNIT:
        return _unit(draft, lo, hi, quoted=quoted)
    units, start, last = [], lo, lo
    for match in _CLAUSE_END.finditer(draft.text, lo, hi):
        if _length(draft, start, match.end()) > MAX_UNIT and last > start:
            units += _unit(draft, start, last, quoted=quoted)
            start = last
        last = match.end()
    while _length(draft, start, hi) > MAX_UNIT:
        cut = draft.start(draft.position(start) + MAX_UNIT)
        units += _unit(draft, start, cut, quoted=quoted)
        start = cut
    return units + _unit(draft, start, hi, quoted=quoted)


def _unit(draft: Key, lo: int, hi: int, *, quoted: bool) -> list[Unit]:
    """The span trimmed to its words and cut at "……" into parts (a part of one character is no part)."""
    cuts = [lo, *(p for m in _ELLIPSIS.finditer(draft.text, lo, hi) for p in (m.start(), m.end())), hi]
    parts = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        p, q = draft.position(a), draft.position(b)
        if q - p >= 2:
            parts.append((p, q))
    if not parts:
        return []
    return [Unit(draft.start(parts[0][0]), draft.end(parts[-1][1]), quoted, tuple(parts))]


# -- finding them in the library -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    speech_id: str
    spans: list[Span]
    ops: list[Op]
    similarity: float
    rank: int  # of the speech among the candidates: ties go to the better-ranked

    @property
    def verbatim(self) -> bool:
        return all(op.op in ("same", "elided") for op in self.ops)


class _Library:
    """What one check reads of the library: the keyword index (synced once), the speech records, and each candidate
    speech's text as a key, read once per check."""

    def __init__(self, retriever) -> None:
        self.store = retriever.store
        self.keyword = retriever.synced_keyword()
        self.records: dict[str, StoredSpeech] = {s.id: s for s in self.store.list_speeches()}
        self._texts: dict[str, Key] = {}

    def speech(self, speech_id: str) -> Key:
        if speech_id not in self._texts:
            self._texts[speech_id] = Key.of(self.store.speech_text(speech_id))
        return self._texts[speech_id]

    def candidates(self, query: str) -> list[tuple[str, float]]:
        """Passages of the speeches' current versions sharing the query's bigrams, best first."""
        found = []
        for pid, score in self.keyword.search(query, CANDIDATES):
            speech_id, version, _ = split_passage_id(pid)
            record = self.records.get(speech_id)
            if record is not None and record.version == version:
                found.append((pid, score))
        return found

    def check(self, unit: Unit, draft: Key) -> CheckedQuote:
        quote = draft.text[unit.start:unit.end]
        result = CheckedQuote(quote, (unit.start, unit.end), unit.quoted, NOT_FOUND)
        hits = self.candidates(quote)
        passages = self.store.passages_by_id([pid for pid, _ in hits])
        by_speech: dict[str, list] = {}
        for pid, _ in hits:
            if pid in passages and (passages[pid].speech_id in by_speech or len(by_speech) < SPEECHES_PER_QUOTE):
                by_speech.setdefault(passages[pid].speech_id, []).append(passages[pid])
        matches = []
        for rank, (speech_id, found) in enumerate(by_speech.items()):
            match = self._match(unit, draft, speech_id, found[:WINDOWS_PER_SPEECH], rank)
            if match is not None:
                matches.append(match)
        best = max(matches, key=lambda m: (m.verbatim, m.similarity, -m.rank), default=None)
        if best is None or not (best.verbatim or best.similarity >= ALTERED_MIN):
            result.nearest = [_passage_json(passages[pid]) for pid, _ in hits[:NEAREST] if pid in passages]
            result.similarity = best.similarity if best else 0.0
            return result
        source = self.speech(best.speech_id)
        record = self.records[best.speech_id]
        start, end = source.start(best.spans[0].lo), source.end(best.spans[-1].hi)
        result.status = EXACT if best.verbatim else ALTERED
        result.speech_id, result.title, result.date = record.id, record.title, record.date
        result.start, result.end, result.source_text = start, end, source.text[start:end]
        result.similarity, result.diff = best.similarity, best.ops
        if best.verbatim:
            result.similarity = 1.0
            result.also_in = [m.speech_id for m in matches if m.verbatim and m is not best]
        return result

    def _match(self, unit: Unit, draft: Key, speech_id: str, passages: list, rank: int) -> _Match | None:
        """The quote's best match in one speech: verbatim anywhere in it, else approximate near its passages."""
        source = self.speech(speech_id)
        tries = [spans for spans in [_verbatim(unit, draft, source)] if spans]
        if not tries:
            reach = unit.end - unit.start + 20
            for lo, hi in _windows([(p.start - reach, p.end + reach) for p in passages], source):
                spans = _approximate(unit, draft, source, lo, hi)
                if spans:
                    tries.append(spans)
        best = None
        for spans in tries:
            ops, same = diff(source, spans, draft)
            match = _Match(speech_id, spans, ops, similarity(same, unit.length, spans), rank)
            if best is None or (match.verbatim, match.similarity) > (best.verbatim, best.similarity):
                best = match
        return best


def _verbatim(unit: Unit, draft: Key, source: Key) -> list[Span] | None:
    """Each part of the quote word for word in the speech, in order, each within MAX_GAP of the one before."""
    first = draft.chars[slice(*unit.parts[0])]
    at = source.chars.find(first)
    while at >= 0:
        spans = [Span(at, at + len(first), *unit.parts[0], len(first))]
        for lo, hi in unit.parts[1:]:
            part = draft.chars[lo:hi]
            found = source.chars.find(part, spans[-1].hi, spans[-1].hi + MAX_GAP + len(part))
            if found < 0:
                break
            spans.append(Span(found, found + len(part), lo, hi, len(part)))
        else:
            return spans
        at = source.chars.find(first, at + 1)
    return None


def _approximate(unit: Unit, draft: Key, source: Key, lo: int, hi: int) -> list[Span] | None:
    """The parts aligned one after the other within the window [lo, hi) of the speech's key."""
    spans: list[Span] = []
    for p_lo, p_hi in unit.parts:
        found = locate(draft.chars[p_lo:p_hi], source.chars, spans[-1].hi if spans else lo, hi)
        if found is None:
            return None
        spans.append(Span(found[0], found[1], p_lo, p_hi, found[2]))
    return spans


def _windows(spans: list[tuple[int, int]], source: Key) -> list[tuple[int, int]]:
    """Text spans as key windows, overlapping ones merged, in the order given (best passage first)."""
    windows: list[tuple[int, int]] = []
    for lo, hi in spans:
        lo, hi = source.position(max(0, lo)), source.position(min(len(source.text), hi))
        for i, (a, b) in enumerate(windows):
            if lo < b and a < hi:
                windows[i] = (min(a, lo), max(b, hi))
                break
        else:
            windows.append((lo, hi))
    return windows


def _passage_json(passage) -> dict:
    return {"speech_id": passage.speech_id, "title": passage.title, "date": passage.date, "start": passage.start,
            "end": passage.end, "text": passage.text}

