"""Which speeches a question names: "2021年政府工作报告", "市十六届人大二次会议", "北京市", "十九大报告", "李克强"…

``SpeechDirectory(speeches).resolve(question)`` reads the question with the normalisation ingest uses for speeches
(``ingest/occasion.py``: 十六届 = 第十六届 = 16届, 人大 = 人民代表大会, Traditional forms) and matches what it names
against the facts of each speech record: its year, place, session, kind, speaker, meeting and title (ingest stores
them: ``occasion``, ``speaker``, ``extra["place"|"kind"|"session"]``; a record made before that is read from its
title alone). It answers a ``Resolution``: the named speeches in ``groups`` (one group per speech the question names:
"2021年和2022年…分别…" and "两篇讲话…分别…" give two), the words that named them, and the question without them.

What a mention means, and how sure it is:
- strong: a complete session ("十三届全国人大四次会议", "十九大"), a year bound to a kind of speech ("2021年政府工作
  报告", "2021年和2022年的报告"), a 《title》, a meeting ("全市经济工作会议"), a speaker, a place with a kind
  ("北京市政府工作报告"), "两篇讲话" when exactly two speeches of that kind are there;
- weak: a place, a kind, a bare year ("2020年国内生产总值增长了多少" may ask any later report), alone.
Mentions are applied strongest first; one that would leave no speech is dropped and listed in ``unmatched`` (so
"2022年政府工作报告对北京冬奥会…" keeps the 2022 report although 北京 names another speech). A kind of speech named
without a place means the national one when the library holds it ("2025年政府工作报告" is the premier's, not the 31
provincial ones). The resolution is ``strong`` when a strong mention applied and each group holds at most
``MAX_GROUP`` speeches; how retrieval uses it (filter or boost) is measured in docs/retrieval.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ingest.occasion import NATIONAL, Session, normalise, place_aliases, places_agree, read_title, sessions_in
from ingest.speechtext import YEAR_WORDS, years_as_digits
from ingest.store import StoredSpeech

MAX_GROUP = 3  # a strong resolution names at most this many speeches per group
TITLE_MIN = 12  # a title this long written out in a question names its speech
SPEECH_KINDS = frozenset({"讲话", "闭幕会讲话", "开幕会讲话"})
REPORT_KINDS = frozenset({"报告", "政府工作报告", "党代会报告"})
# kind words in a question (normalised), longest first, and the speech kinds each may mean
_KIND_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("政府工作报告", frozenset({"政府工作报告"})),
    ("党代会报告", frozenset({"党代会报告"})),
    ("全国代表大会报告", frozenset({"党代会报告"})),
    ("工作报告", frozenset({"政府工作报告"})),
    ("政府报告", frozenset({"政府工作报告"})),
    ("闭幕会", frozenset({"闭幕会讲话"})),
    ("闭幕式", frozenset({"闭幕会讲话"})),
    ("闭幕讲话", frozenset({"闭幕会讲话"})),
    ("开幕会", frozenset({"开幕会讲话"})),
    ("开幕式", frozenset({"开幕会讲话"})),
    ("党代会", frozenset({"党代会报告"})),
    ("决议", frozenset({"决议"})),
    ("讲话", SPEECH_KINDS),
    ("致辞", SPEECH_KINDS),
    ("报告", REPORT_KINDS),
)
_KIND_WORD = re.compile("|".join(map(re.escape, (word for word, _ in _KIND_WORDS))))
_KIND_OF = dict(_KIND_WORDS)
_NATIONAL_WORDS = re.compile(r"国务院|中央政府|中华人民共和国|全国人大|总理")
_YEAR = re.compile(YEAR_WORDS)
_BINDS = 16  # a year binds to a kind word (or session) this many characters after it, within the clause
_PAIR = re.compile(r"(?:这|那)?两(?:篇|份|个|次)(?P<word>讲话|报告|致辞|文件|材料)?")
_QUOTED = re.compile(r"《([^》]{2,80})》")
_CLAUSE_END = re.compile(r"[，。？！?!；;]")
_LEFTOVER = re.compile(r"^[的中里上和与及、，,\s]+|[的中里和与及、，,\s]+$")


@dataclass(frozen=True)
class Mention:
    """Words of the question that name speeches: ``facet`` (year, session, place, kind, speaker, meeting, title,
    pair), what they say, their span in the normalised question, and whether they are a strong reference."""

    facet: str
    value: object
    start: int
    end: int
    strong: bool
    words: str = ""


@dataclass(frozen=True)
class Resolution:
    question: str
    groups: tuple[tuple[str, ...], ...]  # speech ids per speech named; one group unless the question names several
    mentions: tuple[Mention, ...]  # the mentions that were applied
    unmatched: tuple[Mention, ...] = ()  # mentions that named no speech of the library (or contradicted the rest)
    strong: bool = False
    rest: str = ""  # the (normalised) question without the words that named the speeches

    @property
    def speech_ids(self) -> list[str]:
        return list(dict.fromkeys(sid for group in self.groups for sid in group))

    @property
    def words(self) -> list[str]:
        return [m.words for m in self.mentions]


@dataclass(frozen=True)
class SpeechFacts:
    id: str
    title: str
    year: int | None
    place: str | None
    session: Session | None
    kind: str | None
    speaker: str | None
    meeting: str | None  # the normalised meeting of "在…上的讲话", when it is no session
    title_n: str = field(repr=False, default="")

    @classmethod
    def of(cls, speech: StoredSpeech) -> SpeechFacts:
        """The facts ingest stored, completed from the title for records made before ingest stored them."""
        from_title = read_title(speech.title)
        extra = speech.extra or {}
        session = None
        for text in (extra.get("session"), speech.occasion):
            found = [s for s, _, _ in sessions_in(normalise(text))] if text else []
            session = next((s for s in found if s.complete), None) or session or (found[0] if found else None)
        if session is None or not session.complete:
            session = from_title.session if from_title.session is not None else session
        occasion = normalise(speech.occasion or from_title.text or "")
        meeting = None if session is not None or len(occasion) < 4 else re.sub(r"^\d{4}年", "", occasion)
        place = extra.get("place") or from_title.place or (session.place if session and len(session.place) > 1
                                                          else None)
        return cls(id=speech.id, title=speech.title, year=speech.year, place=place, session=session,
                   kind=extra.get("kind") or from_title.kind, speaker=speech.speaker or None, meeting=meeting,
                   title_n=normalise(speech.title))


class SpeechDirectory:
    """The facts of a library's speeches, indexed for ``resolve`` (build once per library listing)."""

    def __init__(self, speeches: Sequence[StoredSpeech], previous: SpeechDirectory | None = None) -> None:
        """``previous``: the directory of an earlier listing, whose facts are kept for unchanged speeches."""
        reuse = previous.facts if previous is not None else {}
        self.versions = {s.id: s.version for s in speeches}
        self.facts = {s.id: reuse[s.id] if s.id in reuse and previous.versions.get(s.id) == s.version
                      else SpeechFacts.of(s) for s in speeches}
        self._by: dict[str, dict[object, set[str]]] = {"year": {}, "kind": {}, "speaker": {}, "meeting": {},
                                                        "place": {}}
        for f in self.facts.values():
            for facet, value in (("year", f.year), ("kind", f.kind), ("speaker", f.speaker), ("meeting", f.meeting),
                                 ("place", f.place)):
                if value is not None:
                    self._by[facet].setdefault(value, set()).add(f.id)
        aliases = {alias for place in self._by["place"] for alias in place_aliases(place) if alias != NATIONAL}
        self._places = sorted(aliases, key=len, reverse=True)
        self._speakers = sorted((s for s in self._by["speaker"] if len(s) >= 2), key=len, reverse=True)
        self._meetings = sorted(self._by["meeting"], key=len, reverse=True)
        self._titles: dict[str, set[str]] = {}  # the first characters of each long title -> those titles
        for f in self.facts.values():
            if len(f.title_n) >= TITLE_MIN:
                self._titles.setdefault(f.title_n[:TITLE_MIN], set()).add(f.title_n)

    # -- reading the question ------------------------------------------------------------------------------------

    def mentions(self, question: str) -> tuple[str, list[Mention]]:
        """(the normalised question, what it names), in order of position."""
        q = years_as_digits(normalise(question))
        found: list[Mention] = []
        taken: list[tuple[int, int]] = []

        def add(mention: Mention) -> None:
            if any(s < mention.end and mention.start < e for s, e in taken):
                return
            taken.append((mention.start, mention.end))
            found.append(mention)

        for m in _QUOTED.finditer(q):
            add(Mention("title", m.group(1), m.start(), m.end(), True, m.group(0)))
        for at in range(len(q) - TITLE_MIN + 1):  # a whole title written out, without 《》
            for title in sorted(self._titles.get(q[at:at + TITLE_MIN], ()), key=len, reverse=True):
                if q.startswith(title, at):
                    add(Mention("title", title, at, at + len(title), True, title))
        for session, start, end in sessions_in(q):
            add(Mention("session", session, start, end, session.complete, q[start:end]))
        for meeting in self._meetings:
            for m in re.finditer(re.escape(meeting), q):
                add(Mention("meeting", meeting, m.start(), m.end(), True, meeting))
        for speaker in self._speakers:
            for m in re.finditer(re.escape(speaker), q):
                add(Mention("speaker", speaker, m.start(), m.end(), True, speaker))
        for m in _NATIONAL_WORDS.finditer(q):
            add(Mention("place", NATIONAL, m.start(), m.end(), False, m.group(0)))
        for place in self._places:
            for m in re.finditer(re.escape(place), q):
                add(Mention("place", place, m.start(), m.end(), False, place))
        for m in _PAIR.finditer(q):
            add(Mention("pair", m.group("word") or "", m.start(), m.end(), True, m.group(0)))
        for m in _KIND_WORD.finditer(q):
            add(Mention("kind", _KIND_OF[m.group(0)], m.start(), m.end(), False, m.group(0)))
        for m in _YEAR.finditer(q):
            add(Mention("year", int(m.group(1)), m.start(), m.end(), _bound(q, m.end(), found), m.group(0)))
        return q, sorted(found, key=lambda m: m.start)

    # -- resolving -----------------------------------------------------------------------------------------------

    def resolve(self, question: str, allowed: Collection[str] | None = None) -> Resolution | None:
        """The speeches ``question`` names among ``allowed`` (default: all); None when it names none. When it names
        only speeches the library does not hold, a resolution with no groups lists the mentions in ``unmatched``."""
        q, mentions = self.mentions(question)
        if not mentions:
            return None
        pool = set(self.facts) if allowed is None else set(allowed) & set(self.facts)
        by_facet: dict[str, list[Mention]] = {}
        for mention in mentions:
            by_facet.setdefault(mention.facet, []).append(mention)
        strength = {facet: any(m.strong for m in ms) for facet, ms in by_facet.items()}
        if "place" in by_facet and "kind" in by_facet:
            strength["place"] = True  # "北京市政府工作报告"
        order = sorted(by_facet, key=lambda facet: (not strength[facet], _FACET_ORDER.index(facet)))

        chosen, applied, unmatched = set(pool), [], []
        for facet in order:
            if facet == "pair":
                continue
            matching = set().union(*(self._matching(m) for m in by_facet[facet])) & chosen
            if facet == "kind" and "place" not in by_facet:
                matching = self._national_first(matching)
            if matching:
                chosen = matching
                applied.append(facet)
            else:
                unmatched.extend(by_facet[facet])
        missed = any(strength[m.facet] for m in unmatched) and not any(strength[f] for f in applied)
        groups = [] if missed else self._groups(by_facet, applied, chosen, pool)
        if not groups:  # nothing named, or a speech the library does not hold ("1981年政府工作报告" without it)
            return Resolution(question, (), (), tuple(unmatched), False, q) if unmatched else None
        strong = any(strength[f] for f in applied) or ("pair" in by_facet and len(groups) == 2)
        strong = strong and all(len(g) <= MAX_GROUP for g in groups)
        used = [m for m in mentions if m.facet in applied or (m.facet == "pair" and len(groups) == 2)]
        return Resolution(question, tuple(tuple(sorted(g)) for g in groups), tuple(used), tuple(unmatched), strong,
                          _rest(q, used))

    def _groups(self, by_facet: dict[str, list[Mention]], applied: list[str], chosen: set[str],
                pool: set[str]) -> list[set[str]]:
        """One group per speech named: the values of a facet named more than once ("2021年和2022年", "北京和上海")
        each with the other facets; "两篇讲话" when exactly two speeches (of that kind) are left; else one group."""
        for facet in ("title", "session", "year", "place", "speaker", "meeting"):
            values = [m for m in by_facet.get(facet, []) if facet in applied]
            if len({repr(m.value) for m in values}) < 2:
                continue
            others = set(pool)
            for other in applied:
                if other != facet:
                    others &= set().union(*(self._matching(m) for m in by_facet[other])) or others
            groups = [self._matching(m) & others for m in values]
            if "kind" in applied and "place" not in by_facet:
                groups = [self._national_first(g) for g in groups]
            groups = [g for g in groups if g]
            if len(groups) >= 2:
                return groups
        if "pair" in by_facet:
            word = by_facet["pair"][0].value
            kinds = SPEECH_KINDS if word in ("讲话", "致辞") else REPORT_KINDS if word == "报告" else None
            pair = chosen if applied else {sid for sid in pool if kinds is None or self.facts[sid].kind in kinds}
            if len(pair) == 2:
                return [{sid} for sid in sorted(pair)]
        return [chosen] if applied else []

    def _matching(self, mention: Mention) -> set[str]:
        value, by = mention.value, self._by
        if mention.facet in ("year", "speaker", "meeting"):
            return set(by[mention.facet].get(value, ()))
        if mention.facet == "kind":
            return set().union(*(by["kind"].get(kind, set()) for kind in value))
        if mention.facet == "place":
            generic = value in ("市", "省")
            return set().union(*(ids for place, ids in by["place"].items()
                                 if place == value or (not generic and places_agree(place, value))))
        facts = self.facts.values()
        if mention.facet == "session":
            return {f.id for f in facts if f.session is not None and value.matches(f.session)}
        if mention.facet == "title":
            wanted = normalise(value)
            return {f.id for f in facts if len(wanted) >= 4 and len(f.title_n) >= 4
                    and (wanted in f.title_n or f.title_n in wanted)}
        return set()

    def _national_first(self, ids: set[str]) -> set[str]:
        """A kind named without a place: the national speeches of that kind when there are any among ``ids``."""
        national = {sid for sid in ids if self.facts[sid].place == NATIONAL}
        return national or ids


_FACET_ORDER = ("title", "session", "meeting", "speaker", "year", "place", "kind", "pair")


def _bound(q: str, end: int, found: list[Mention]) -> bool:
    """Whether the year at ``q[:end]`` names a speech: a kind word or a session follows within the clause
    ("2021年政府工作报告", "2021年和2022年的报告", "2023年市七届人大一次会议")."""
    clause = _CLAUSE_END.split(q[end:end + _BINDS], maxsplit=1)[0]
    return bool(_KIND_WORD.search(clause) or any(m.facet == "session" and end <= m.start < end + len(clause)
                                                 for m in found))


def _rest(q: str, used: list[Mention]) -> str:
    """The question without the words that named the speeches (and the particles they leave dangling)."""
    spans = sorted((m.start, m.end) for m in used)
    pieces, at = [], 0
    for start, end in spans:
        pieces.append(q[at:start])
        at = max(at, end)
    pieces.append(q[at:])
    parts = [_LEFTOVER.sub("", p) for p in pieces]
    return unicodedata.normalize("NFKC", " ".join(p for p in parts if p)).strip()
