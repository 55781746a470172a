"""The stricter citation check: does each answer sentence say only what the passages it cites say?

``unsupported(answer, context)`` returns the sentences that fail, each with its problems. On top of the share of a
sentence's character bigrams found in its cited passages (``answer/citations.py``, the check until now), a sentence
is supported only if
- every number in it (years included, "二〇二三年" read as 2023) is a number of the cited passages, as a whole
  number: "5" is not supported by "2025";
- every place it names ("北京市", "上海", "宁夏回族自治区") is named there;
- every 《title》 it gives is a title or a text there, and every quoted formula (“五心工程”, 「…」) is there verbatim;
- every item of an enumeration ("就业、教育、医疗、住房") is there;
- every session it names ("市十六届人大二次会议") is a session of the cited passages or their speech's title;
- a speech it names by title is one it cites;
- in a comparison (labels A1, B2…), a sentence that says both (都, 均, 共同, 一致, both; not where these
  are the speech's own words, "共同横下一条心") cites each speech, and the passages it cites of each side support it
  (without markers: each side's passages), and one that speaks of speech A cites A;
- a sentence saying something is not mentioned ("没有提到X") does not cite a passage that mentions X.
A sentence without markers is checked against every passage, as before; headings and lead-in lines ("…如下：") claim
nothing and are skipped. How well this separates supported from unsupported sentences, against the check until now,
on a labelled set: docs/answers.md (``python bench/support_check.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from answer.citations import (_CONTENT, _ENUMERATOR, MIN_CHECKED_CHARS, SUPPORT_THRESHOLD, bigrams, labels_in,
                              sentences)
from answer.types import Citation
from ingest.occasion import PROVINCE, normalise, place_aliases, sessions_in
from ingest.speechtext import SENTENCE_ENDS, quoted_title, years_as_digits

_MARKER = re.compile(r"[\[［【]\s*[A-Z]?\d{1,2}(?:\s*[,，、]\s*[A-Z]?\d{1,2})*\s*[\]］】]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TITLE = re.compile(r"《([^》]{1,100})》")
_QUOTE = re.compile(r"“([^”]{2,60})”|「([^」]{2,200})」|‘([^’]{2,60})’|\"([^\"]{2,60})\"")
_PLACE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:省|市|县|自治区|自治州)(?![场长委民区级直属内外域])")
_PLACE_CUT = re.compile(r"^.*[在向于日年月的和与及、，是对将]")
_NOT_PLACES = re.compile(r"^(?:全|本|我|各|该|城|超|股|楼|上|省|市|县|区|中心|副中心|城区|大中|地级|县级|省级|直辖)")
# a sentence saying that both speeches say something (in a comparison)
_BOTH = re.compile(r"(?<![首成京])都(?![市会])|(?<![人平])均(?![衡等匀])|共同(?!富裕|体)|一致|"
                   r"\bboth\b", re.IGNORECASE)
_SIDE = re.compile(r"^([A-Z])\d")
# "没有提到X": a sentence saying something is not mentioned, citing a passage that mentions it, contradicts it
_NEGATION = re.compile(r"(?:没有|未|并未|没)(?:提到|提及|涉及|谈到|说到)(?P<what>[^，。；]{4,})")
NEGATION_FOUND = 0.8
_FRAME = re.compile(r"两篇讲话|两篇|二者|两者|双方|都|均|共同|一致")  # the words that say "both", not what both say
_SIDE_NAMED = re.compile(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9])")
_LIST = re.compile(r"[\u4e00-\u9fff]{2,6}(?:、[\u4e00-\u9fff]{2,6}){2,}")


@dataclass(frozen=True)
class Problem:
    """One reason a sentence is not supported: ``check`` (overlap, number, place, title, quote, list, session,
    names_speech, both_sides, negation) and what was missing."""

    check: str
    detail: str


@dataclass(frozen=True)
class Unsupported:
    sentence: str
    problems: tuple[Problem, ...]

    @property
    def reason(self) -> str:
        return "; ".join(f"{p.check}: {p.detail}" for p in self.problems)


def unsupported(answer: str, context: Mapping[str, Citation],
                notes: Mapping[str, str] | None = None) -> list[Unsupported]:
    """The sentences of ``answer`` that the passages they cite (``context`` by label) do not support. ``notes``:
    what the library knows of each speech beyond its title (``speech_notes``), which a sentence may also state."""
    found = []
    for sentence in sentences(answer):
        problems = check_sentence(sentence, context, notes)
        if problems:
            found.append(Unsupported(sentence, problems))
    return found


def without(text: str, dropped: Sequence[str]) -> str:
    """``text`` without the sentences ``dropped`` (sentences of it, as ``unsupported`` gives them), and without the
    blank lines and bare list leads they leave."""
    for sentence in dropped:
        at = text.find(sentence)
        if at >= 0:
            text = text[:at] + text[at + len(sentence):]
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line.strip() and not _BARE_LEAD.fullmatch(line)).strip()


_BARE_LEAD = re.compile(r"\s*(?:[-*•·]|\d{1,2}[.、)）])?\s*[，,；;。]?\s*")


def speech_notes(speeches: Sequence) -> dict[str, str]:
    """Speech id -> its occasion, session, place and date (from speech records), for ``unsupported``: a sentence
    naming the session or year of the speech it cites is supported even if the cited passage does not repeat it."""
    notes = {}
    for s in speeches:
        extra = getattr(s, "extra", None) or {}
        notes[s.id] = " ".join(v for v in (s.occasion, extra.get("session"), extra.get("place"), s.date) if v)
    return notes


def check_sentence(sentence: str, context: Mapping[str, Citation],
                   notes: Mapping[str, str] | None = None) -> tuple[Problem, ...]:
    """Why ``sentence`` is not supported by what it cites; () when it is (or claims nothing)."""
    claim = _ENUMERATOR.sub("", _MARKER.sub("", sentence)).strip()
    if len(_CONTENT.findall(claim)) < MIN_CHECKED_CHARS or claim.rstrip().endswith(("：", ":")):
        return ()  # headings, glue and lead-in lines claim nothing
    labels = list(dict.fromkeys(label for label in labels_in(sentence) if label in context))
    cited = [context[label] for label in labels] or list(context.values())
    texts = [f"{c.title}\n{(notes or {}).get(c.speech_id, '')}\n{c.text}" for c in cited]
    source = "\n".join(texts)
    problems = []

    share = _share(claim, texts)
    if share < SUPPORT_THRESHOLD:
        problems.append(Problem("overlap", f"{share:.2f} of its character pairs are in what it cites"))
    numbers = set(_NUMBER.findall(_digits(source)))
    for number in dict.fromkeys(_NUMBER.findall(_digits(claim))):
        if number not in numbers:
            problems.append(Problem("number", number))
    for place in _places(claim):
        if not any(alias in source for alias in place_aliases(place) + [place]):
            problems.append(Problem("place", place))
    titles = [c.title for c in cited]
    for title in dict.fromkeys(m.group(1).strip() for m in _TITLE.finditer(claim)):
        if not _title_supported(title, titles, source):
            problems.append(Problem("title", quoted_title(title)))
    squeezed = _squeeze(source)
    for match in _QUOTE.finditer(claim):
        quoted = next(g for g in match.groups() if g).strip().rstrip(SENTENCE_ENDS + "，")
        if _squeeze(quoted) not in squeezed:
            problems.append(Problem("quote", quoted))
    for item in _list_items(claim):
        if item not in squeezed:
            problems.append(Problem("list", item))
    known = [s for text in texts for s, _, _ in sessions_in(normalise(text))]
    for session, _, _ in sessions_in(normalise(claim)):
        if session.complete and not any(session.matches(other) for other in known):
            problems.append(Problem("session", session.text()))
    negated = _NEGATION.search(claim)
    if negated and labels and _share(negated.group("what"), texts) >= NEGATION_FOUND:
        problems.append(Problem("negation", "says it is not mentioned, citing a passage that mentions it"))
    problems.extend(_naming_problems(claim, labels or list(context), context, source))
    return tuple(problems)


def _naming_problems(claim: str, labels: Sequence[str], context: Mapping[str, Citation],
                     source: str) -> list[Problem]:
    """A speech named by its title must be cited; in a comparison a sentence saying "both" must cite each side, and
    one speaking of side A ("A侧重于…", "讲话A") must cite A."""
    problems = []
    cited_speeches = {context[label].speech_id for label in labels}
    by_speech = {c.speech_id: c.title for c in context.values()}
    for speech_id, title in by_speech.items():
        named = quoted_title(title) in claim or (len(title) >= 8 and title in claim)
        if speech_id not in cited_speeches and title and named:
            problems.append(Problem("names_speech", f"names {quoted_title(title)} but cites none of its passages"))
    sides = {m.group(1) for label in context if (m := _SIDE.match(label))}
    if len(sides) < 2:
        return problems
    cited_sides = {m.group(1) for label in labels if (m := _SIDE.match(label))}
    if any(not _quoted_words(claim, m.start(), m.end(), source) for m in _BOTH.finditer(claim)):
        missing = sorted(sides - cited_sides)
        if missing:
            problems.append(Problem("both_sides", f"says both but cites no passage of side {', '.join(missing)}"))
        for side in sorted(sides - set(missing)):  # and each side's passages must say it
            side_labels = [label for label in labels if label.startswith(side)]
            share = _share(_FRAME.sub("", claim), [_text(context[label]) for label in side_labels])
            if share < SUPPORT_THRESHOLD:
                problems.append(Problem("both_sides", f"side {side}'s cited passages do not say it ({share:.2f})"))
    for side in sorted({m.group(1) for m in _SIDE_NAMED.finditer(claim)} & sides - cited_sides):
        problems.append(Problem("names_speech", f"speaks of speech {side} but cites none of its passages"))
    return problems


def _share(claim: str, texts: Sequence[str]) -> float:
    """The share of the claim's character pairs found in ``texts`` (the overlap test of answer/citations.py)."""
    grams = bigrams(claim)
    found = set().union(*(bigrams(t) for t in texts)) if texts else set()
    return len(grams & found) / len(grams) if grams else 1.0


def _text(citation: Citation) -> str:
    return f"{citation.title}\n{citation.text}"


def _quoted_words(claim: str, start: int, end: int, source: str) -> bool:
    """Whether the words around ``claim[start:end]`` are the speech's own ("共同横下一条心" restated), not the answer
    saying that both speeches do something."""
    return _squeeze(claim[max(0, start - 2):end + 3]) in _squeeze(source)


def _list_items(claim: str) -> list[str]:
    """The items of an enumeration of three or more short words joined by 、 ("就业、教育、医疗、交通等"): a
    list restated from a passage keeps its items, so each must be there."""
    items = []
    for match in _LIST.finditer(claim):
        words = match.group(0).split("、")
        words[-1] = re.sub(r"(?:等|和|及|以及).*$", "", words[-1])
        words[0] = words[0][-4:]  # the run before the first 、 may be more than the first item
        items.extend(w for w in words[1:] if 2 <= len(w) <= 4)
    return list(dict.fromkeys(items))


def _digits(text: str) -> str:
    """Full-width digits folded, and Chinese-numeral years as digits ("二〇二三年" → "2023年")."""
    text = unicodedata.normalize("NFKC", text)
    return years_as_digits(text)


def _places(claim: str) -> list[str]:
    """Places a sentence names: provinces by name ("上海", "宁夏") and other words ending in 省/市/县/自治区 that are
    no common word ("全市", "城市"), cut at the word before them ("2025年北京市" → "北京市")."""
    found = [m.group(0) for m in PROVINCE.finditer(claim)]
    for match in _PLACE.finditer(claim):
        place = _PLACE_CUT.sub("", match.group(0))
        if len(place) >= 2 and not _NOT_PLACES.match(place) and not any(p in place or place in p for p in found):
            found.append(place)
    return list(dict.fromkeys(found))


def _title_supported(title: str, titles: Sequence[str], source: str) -> bool:
    wanted = _squeeze(title)
    if not wanted:
        return True
    return wanted in _squeeze(source) or any(wanted in _squeeze(t) or (_squeeze(t) and _squeeze(t) in wanted)
                                             for t in titles)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
