"""What a speech's title and opening lines say about its occasion: the session, the place, the kind, the speaker.

``read_occasion(title, text)`` reads them at ingest (``ingest/metadata.py`` stores them in the speech's ``occasion``,
``speaker`` and ``extra["place"]`` / ``extra["kind"]``), and ``retriever/speech_refs.py`` reads questions with the
same functions, so "市十六届人大二次会议", "市第十六届人民代表大会第二次会议" and "第16届人大2次会议" are one session
whichever way a speech or a question writes it (``normalise``: Chinese numerals before 届/次/大 become digits,
人民代表大会 becomes 人大, the Traditional forms of these words become Simplified).

Precision comes first: a wrong session or place would send a question to the wrong speech. So a session is read from
the title, else from the opening's first session phrase that is not a look back ("第十二届全国人民代表大会第一次会议
以来的五年", "从…会议闭幕到…"); a place only where the title or a session phrase puts it ("2025年北京市政府工作报告",
"在上海市第十六届人民代表大会…"); a speaker only from a short line of the opening ("国务院总理李克强", "龚正市长在…").
A speech none of this applies to (a policy notice, say) gets nothing, and a question can then not name it this way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.speechtext import CN_NUMERALS, FULL_STOPS, char_class, chinese_number, cn_number

OPENING_CHARS = 500  # the part of a text read for its occasion
SPEAKER_LINE = 90  # a line this short in the opening may name the speaker

_TRADITIONAL = str.maketrans("屆會議國華報講話閉開黨產務員體於",
                             "届会议国华报讲话闭开党产务员体于")
_NUMBERED = re.compile(rf"第?([{CN_NUMERALS}]{{1,4}}|\d{{1,3}})\s*(届|次)")
_CONGRESS_SHORT = re.compile(rf"([{CN_NUMERALS}]{{1,3}})大"
                             r"(?=报告|上|的报告|所作|提出|指出|强调|[)）]|$|[，。？?、和与及])")
_ABBREVIATIONS = (("人民代表大会", "人大"), ("常务委员会", "常委会"), ("中国人民政治协商会议", "政协"),
                  ("政治协商会议", "政协"), ("代表大会上的报告", "代表大会报告"))

# sessions, on normalised text
_NPC = re.compile(r"(?P<place>[\u4e00-\u9fff*]{0,12}?)(?P<term>\d{1,3})届(?P<national>全国)?人大(?:常委会)?"
                  r"(?P<meeting>\d{1,2})次(?:全体)?会议")
_NPC_TERM_AFTER = re.compile(r"(?P<place>[\u4e00-\u9fff*]{0,12}?)(?P<national>全国)?人大(?P<term>\d{1,3})届"
                             r"(?P<meeting>\d{1,2})次(?:全体)?会议")
_NPC_PARTIAL = re.compile(r"(?P<place>[\u4e00-\u9fff*]{0,12}?)人大(?P<meeting>\d{1,2})次会议")
_CPPCC = re.compile(r"(?P<place>[\u4e00-\u9fff*]{0,12}?)政协(?:第?(?P<term>\d{1,3})届(?P<national>全国)?委员会)?"
                    r"(?P<meeting>\d{1,2})次会议")
_PARTY = re.compile(r"(?:中国共产党|中共|党的)?(?P<term>\d{1,2})次全国代表大会|(?:党的)?(?P<short>\d{1,2})大"
                    r"(?=报告|上|的报告|所作|提出|指出|强调|[)）]|$|[，。？?、和与及])")
_LOCAL_PARTY = re.compile(r"(?P<place>[\u4e00-\u9fff*]{0,12}?)(?P<term>\d{1,2})次党代会")
_LOOK_BACK_AFTER = re.compile(r"^.{0,8}?(?:以来|以后|到现在|到这次|到我们|期间|闭幕到|的决议|的决定|批准|召开的时候)")
_LOOK_BACK_BEFORE = re.compile(r"(?:从|自)[^，。]{0,10}$")
_PLACE_CUT = re.compile(r"^.*[在向于日年月的和与及、，：:]")
_GENERIC_PLACES = frozenset({"市", "省", "县", "区", "州", "自治区"})
_PLACE_SUFFIX = re.compile(r"(?:壮族|回族|维吾尔)?(?:特别行政区|自治区|自治州|自治县|省|市|县|区|州|盟|旗)$")
NATIONAL = "全国"
# the provincial-level places by the names a text uses for them ("宁夏" for 宁夏回族自治区)
PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
             "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
             "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")
PROVINCE = re.compile("|".join(sorted(PROVINCES, key=len, reverse=True)))
_NATIONAL_TITLE = re.compile(r"中华人民共和国|国务院|全国人大|中央人民政府")

# kinds, most specific first; on a normalised title (or a short opening line)
_KIND_RULES = (
    ("决议", re.compile(r"决议")),
    ("政府工作报告", re.compile(r"政府工作报告")),
    ("党代会报告", re.compile(r"\d次全国代表大会|党代会|[(（]\d{1,2}大[)）]")),
    ("闭幕会讲话", re.compile(r"闭幕")),
    ("开幕会讲话", re.compile(r"开幕")),
    ("讲话", re.compile(r"讲话|致辞")),
    ("报告", re.compile(r"报告")),
)
_MEETING = re.compile(r"在(?P<meeting>[^，。；]{2,40}?)(?:闭幕会|开幕会|闭幕式|开幕式|全体会议)?上的(?:讲话|致辞|报告)")
_GOV_REPORT_PLACE = re.compile(r"^(?:\d{4}年(?:度)?)?(?P<place>[\u4e00-\u9fff]{2,12}?)(?:人民)?政府工作报告")
_SPEAKER_TITLES = "总理|副总理|省长|代省长|市长|代市长|县长|区长|主席|书记|主任"
_NAME_CHAR = r"(?:(?![日月年在向于的和与及省市县区])[\u4e00-\u9fff])"
_SPEAKER = (
    re.compile(rf"(?:{_SPEAKER_TITLES})(?P<name>{_NAME_CHAR}{{2,3}}?)(?:同志)?(?:作|在|代表|$)"),
    re.compile(rf"(?P<name>{_NAME_CHAR}{{2,3}}?)(?:同志)?(?:{_SPEAKER_TITLES})(?:在|作)"),
)
_SENTENCE = re.compile(f"{char_class(FULL_STOPS, negate=True)}*{char_class(FULL_STOPS)}?")
_NAME_LINE = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_DATE_OR_VENUE_LINE = re.compile(r"^(?:——|—|-)|^[（(]?\d{4}年\d{1,2}月\d{1,2}日[)）]?$|会[议議]上$|大会上的报告$")
_NOT_NAMES = {"同志们", "各位代表", "政府工作报告", "同志", "代表们", "各位委员", "来源"}


@dataclass(frozen=True)
class Session:
    """A session of a congress: ``body`` 人大 / 政协 / 党代会, ``term`` (届, or the congress's number: 十九大 = 19),
    ``meeting`` (次会议; None for a party congress), ``place`` as written before it ("北京市", "市", "全国", "")."""

    body: str
    term: int | None
    meeting: int | None
    place: str = ""

    def matches(self, other: Session) -> bool:
        """The same session, as far as both say: a missing term or a generic place ("市") leaves it open."""
        if self.body != other.body:
            return False
        for mine, theirs in ((self.term, other.term), (self.meeting, other.meeting)):
            if mine is not None and theirs is not None and mine != theirs:
                return False
        return places_agree(self.place, other.place)

    @property
    def complete(self) -> bool:
        return self.term is not None and (self.meeting is not None or self.body == "党代会")

    def text(self) -> str:
        """The session written out: "市第十六届人民代表大会第二次会议", "中国共产党第十九次全国代表大会"."""
        term = f"第{chinese_number(self.term)}" if self.term else ""
        meeting = f"第{chinese_number(self.meeting)}次会议" if self.meeting else ""
        if self.body == "党代会":
            if self.place == NATIONAL:
                return f"中国共产党{term}次全国代表大会"
            return f"{self.place}{term}次党代会"
        national = "全国" if self.place == NATIONAL else ""
        place = "" if national else self.place
        if self.body == "政协":
            return f"{place}政协{term + '届' if term else ''}{national}委员会{meeting}"
        return f"{place}{term + '届' if term else ''}{national}人民代表大会{meeting}"


@dataclass(frozen=True)
class Occasion:
    """What the title and the opening say; every field may be None."""

    kind: str | None = None
    place: str | None = None
    session: Session | None = None
    text: str | None = None  # the session written out, else the meeting of "在…上的讲话" ("全市经济工作会议")
    speaker: str | None = None


def normalise(text: str) -> str:
    """Text in the form sessions are matched in: NFKC (full-width digits), no spaces, Simplified forms of the
    session words, 人民代表大会 → 人大, and Chinese numerals before 届/次/大 as digits (第十六届 → 16届)."""
    text = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL)
    text = re.sub(r"[^\S\n]+|[\u200b\u200d\ufeff]+", "", text)  # lines stay apart: a place never spans two
    for long, short in _ABBREVIATIONS:
        text = text.replace(long, short)
    text = _NUMBERED.sub(lambda m: f"{cn_number(m.group(1))}{m.group(2)}" if cn_number(m.group(1)) else m.group(0),
                         text)
    return _CONGRESS_SHORT.sub(lambda m: f"{cn_number(m.group(1))}大" if cn_number(m.group(1)) else m.group(0), text)


def sessions_in(text: str) -> list[tuple[Session, int, int]]:
    """Every session ``normalise``d ``text`` names, with its span in that text, in order."""
    if "届" not in text and "次" not in text and "大" not in text:
        return []  # most texts: no session to look for
    found: list[tuple[Session, int, int]] = []
    taken: list[tuple[int, int]] = []

    def add(session: Session, match: re.Match) -> None:
        start = match.start()
        if "place" in match.groupdict():  # the span starts at the place, not at the words before it
            start = match.end("place") - (len(session.place) if session.place != NATIONAL else 0)
        if any(s < match.end() and start < e for s, e in taken):
            return
        taken.append((start, match.end()))
        found.append((session, start, match.end()))

    for pattern in (_NPC, _NPC_TERM_AFTER):
        for m in pattern.finditer(text):
            place = NATIONAL if m.group("national") else _place_before(m.group("place"))
            add(Session("人大", int(m.group("term")), int(m.group("meeting")), place), m)
    for m in _CPPCC.finditer(text):
        place = NATIONAL if m.group("national") else _place_before(m.group("place"))
        add(Session("政协", int(m.group("term")) if m.group("term") else None, int(m.group("meeting")), place), m)
    for m in _PARTY.finditer(text):
        add(Session("党代会", int(m.group("term") or m.group("short")), None, NATIONAL), m)
    for m in _LOCAL_PARTY.finditer(text):
        add(Session("党代会", int(m.group("term")), None, _place_before(m.group("place"))), m)
    for m in _NPC_PARTIAL.finditer(text):
        add(Session("人大", None, int(m.group("meeting")), _place_before(m.group("place"))), m)
    found.sort(key=lambda item: item[1])
    return found


def _place_before(words: str | None) -> str:
    """The place written right before a session ("日在北京市" → "北京市", "**市" → "市", "报告北京市" → "北京市");
    "" when none."""
    place = _PLACE_CUT.sub("", (words or "").replace("*", ""))
    province = PROVINCE.search(place)
    if province:
        place = place[province.start():]
    return place if _PLACE_SUFFIX.search(place) or place == NATIONAL else ""


def places_agree(a: str | None, b: str | None) -> bool:
    """Whether two places can be the same: equal, one an alias of the other ("北京" / "北京市"), or one only a level
    ("市" agrees with any city, "" with anything)."""
    if not a or not b:
        return True
    if a == b:
        return True
    if a in _GENERIC_PLACES or b in _GENERIC_PLACES:
        level, other = (a, b) if a in _GENERIC_PLACES else (b, a)
        return other.endswith(level) and other != NATIONAL
    return bool(set(place_aliases(a)) & set(place_aliases(b)))


def place_aliases(place: str) -> list[str]:
    """How a question may write a place: "宁夏回族自治区" → 宁夏回族自治区, 宁夏; "北京市" → 北京市, 北京."""
    if not place:
        return []
    if place == NATIONAL:
        return [NATIONAL]
    short = _PLACE_SUFFIX.sub("", place)
    return [place] + ([short] if len(short) >= 2 and short != place else [])


def read_occasion(title: str, text: str) -> Occasion:
    """The occasion of a speech from its title and the opening of its text (see the module docstring)."""
    lines = [line.strip() for line in text[:OPENING_CHARS].split("\n") if line.strip()]
    short = [line for line in lines if len(line) <= SPEAKER_LINE]
    title_n = normalise(title)
    kind = _kind(title_n) or next((k for k in (_kind(normalise(line)) for line in short[:3])
                                   if k in ("政府工作报告", "党代会报告")), None)
    session = _session(title_n, [normalise(part) for part in _venue_parts(lines)], kind)
    return Occasion(kind=kind, place=_place(title_n, session), session=session,
                    text=session.text() if session else _meeting(title), speaker=_speaker(short))


def read_title(title: str) -> Occasion:
    """The occasion a title alone gives (for speech records made before ingest stored it)."""
    title_n = normalise(title)
    session = next((s for s, _, _ in sessions_in(title_n)), None)
    return Occasion(kind=_kind(title_n), place=_place(title_n, session), session=session,
                    text=session.text() if session else _meeting(title))


def _kind(normalised_title: str) -> str | None:
    return next((kind for kind, rule in _KIND_RULES if rule.search(normalised_title)), None)


def _venue_parts(lines: list[str]) -> list[str]:
    """Where an opening states its own session: its short lines ("——2024年3月5日在第十四届全国人民代表大会第二次会议
    上") and the first two sentences of its first paragraph ("我代表国务院，向第六届全国人民代表大会第一次会议作…",
    "…市第十六届人民代表大会第二次会议圆满完成了各项议程"). Later sentences talk about other sessions."""
    parts, paragraph_seen = [], False
    for line in lines:
        if len(line) <= SPEAKER_LINE:
            parts.append(line)
        elif not paragraph_seen:
            paragraph_seen = True
            parts.append("".join(_SENTENCE.findall(line)[:2]))
    return parts


def _session(title_n: str, venue_parts: list[str], kind: str | None) -> Session | None:
    """The title's session, completed (or supplied) by the opening's first complete one that agrees with it, is of
    the speech's kind of body, and does not look back ("…会议以来", "从…会议闭幕到…", "根据…会议的决议")."""
    body = {"政府工作报告": "人大", "决议": "人大", "党代会报告": "党代会"}.get(kind or "")
    in_title = next((s for s, _, _ in sessions_in(title_n) if body in (None, s.body)), None)
    if in_title is not None and in_title.complete:
        return in_title
    found = [(candidate, part, start, end) for part in venue_parts for candidate, start, end in sessions_in(part)]
    for candidate, part, start, end in sorted(found, key=lambda f: not f[0].complete):  # complete ones first
        if (body in (None, candidate.body) and not _looks_back(part, start, end)
                and (in_title is None or in_title.matches(candidate))):
            return candidate
    return in_title


def _looks_back(text: str, start: int, end: int) -> bool:
    return bool(_LOOK_BACK_AFTER.match(text[end:]) or _LOOK_BACK_BEFORE.search(text[max(0, start - 12):start]))


def _meeting(title: str) -> str | None:
    match = _MEETING.search(unicodedata.normalize("NFKC", title))
    return (re.sub(r"^\d{4}年", "", match.group("meeting")).strip() or None) if match else None


def _place(title_n: str, session: Session | None) -> str | None:
    match = _GOV_REPORT_PLACE.search(title_n)
    if match:
        words = match.group("place")
        return NATIONAL if _NATIONAL_TITLE.search(words) else words
    if session is not None and session.place and session.place not in _GENERIC_PLACES:
        return session.place
    return None


def _speaker(lines: list[str]) -> str | None:
    """A speaker named in a short opening line: after or before an office ("国务院总理李克强", "龚正市长在…"), or alone
    on the line after the venue or date line ("——在…大会上的报告" / "（2017年10月18日）" then "习近平")."""
    cleaned = [re.sub(r"[\s\u3000]+", "", line) for line in lines]
    for line in cleaned:
        for pattern in _SPEAKER:
            match = pattern.search(line)
            if match and match.group("name") not in _NOT_NAMES:
                return match.group("name")
    for before, line in zip(cleaned, cleaned[1:]):
        if _DATE_OR_VENUE_LINE.search(before) and _NAME_LINE.match(line) and line not in _NOT_NAMES:
            return line
    return None
