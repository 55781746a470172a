"""Follow-up questions: which speech "第二篇讲话" means, and a standalone question to retrieve with.

A question is a follow-up only when it carries a reference cue (``has_cue``: 那…, …呢, 这篇, 该讲话, 第N篇, 它,
上述, 还有…); a short self-contained question ("如何改进干部作风？") is a new question, neither rewritten nor glued to
the previous one.

References to speeches are resolved in code, not left to the model: "第N篇" is the Nth of the speeches the user
selected, or else of the speeches the conversation cited (in order of first citation); "这篇" is the speech cited
last. The resolved speech becomes a retrieval filter, so the right speech is searched whatever the question's words say.
A follow-up that is only a reference ("那第二篇讲话呢？", "还有呢") keeps the conversation's topic: it is restated in
code (``restated``: the topic question, naming the referenced speech). One with words of its own about a referenced
speech is that question with the speech named (``named_followup``); any other is joined to the previous question,
which supplies what it leaves out (``joined_question``). No LLM is asked to rewrite: its call held the evidence back
by seconds and got fewer follow-ups right (docs/answers.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from answer.errors import BadInput
from ingest.speechtext import YEAR_WORDS, cn_number, quoted_title

_ORDINAL = re.compile(r"第\s*([一二两三四五六七八九十]|\d{1,2})\s*(?:篇|个|份)(?:讲话)?")
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth|fifth)\s+(?:speech|one)\b", re.IGNORECASE)
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_THIS = re.compile(r"这篇(?:讲话)?|该讲话|这个讲话|上述讲话|this speech|that speech", re.IGNORECASE)
# "两篇讲话…", when one of them is asked next
_BOTH_SPEECHES = re.compile(r"(?:这|那)?两(?:篇|份)(?:讲话|报告)?(?:中|里)?")
_FOLLOWUP_START = re.compile(
    r"^(那|那么|这|它|其|此|还有|另外|再|and\b|what about|how about|and what|also)", re.IGNORECASE
)
# cues anywhere in the question: a pronoun or a pointer back at what was said
_CUE = re.compile(r"它|上述|上面|前面(?:提到|说)|刚才|其中|这些|这一点|该(?:讲话|报告|文)|"
                  r"\b(?:it|they|them|this|that|these)\b",
                  re.IGNORECASE)
_YEAR = re.compile(YEAR_WORDS + "的?")
_FILLER = re.compile(r"^[\s，,。？?！!的了吗呢讲话报告篇份个]*$")
ROLES = ("user", "assistant")


@dataclass
class Turn:
    role: str
    content: str
    speech_ids: list[str] = field(default_factory=list)  # speeches this turn cited (assistant turns)


def parse_history(history: Sequence[Mapping] | None, max_turns: int | None = None,
                  max_chars: int | None = None) -> list[Turn]:
    """Turns from ``[{"role": "user"|"assistant", "content": str, "citations": [{"speech_id": ...}]?}, ...]``;
    ValueError when it is malformed or longer than ``max_turns`` messages or ``max_chars`` characters (the
    SPEECHES_MAX_HISTORY_* settings: only the last turns matter, and every character costs)."""
    history = list(history or [])
    if max_turns is not None and len(history) > max_turns:
        raise BadInput("history_turns", count=len(history), limit=max_turns)
    turns, chars = [], 0
    for i, item in enumerate(history):
        if not isinstance(item, Mapping):
            raise BadInput("history", index=i, problem="must be an object with 'role' and 'content'")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise BadInput("history", index=i, problem=f"has role {role!r}; use 'user' or 'assistant'")
        if not isinstance(content, str):
            raise BadInput("history", index=i, problem="has no text 'content'")
        chars += len(content)
        if max_chars is not None and chars > max_chars:
            raise BadInput("history_chars", limit=max_chars)
        cited = [c.get("speech_id") for c in item.get("citations") or [] if isinstance(c, Mapping)]
        turns.append(Turn(role, content, [s for s in cited if isinstance(s, str)]))
    return turns


def recent_history(history: Sequence[Mapping], max_turns: int, max_chars: int) -> list[Mapping]:
    """The most recent messages of ``history`` that ``parse_history`` accepts within those limits."""
    kept: list[Mapping] = []
    chars = 0
    for item in reversed(history[-max_turns:]):
        chars += len(item["content"])
        if chars > max_chars:
            break
        kept.append(item)
    return kept[::-1]


def mentioned_speeches(turns: Sequence[Turn], titles: Mapping[str, str]) -> list[str]:
    """Speech ids the conversation cited or named (by id or title), in order of first appearance."""
    order: dict[str, None] = {}
    for turn in turns:
        named = [(turn.content.find(text), sid) for sid, title in titles.items()
                 for text in (title, sid) if text and text in turn.content]
        for sid in turn.speech_ids + [sid for _, sid in sorted(named)]:
            order.setdefault(sid, None)
    return list(order)


def referenced_speech(question: str, candidates: Sequence[str], last_cited: Sequence[str]) -> str | None:
    """The speech "第二篇讲话" / "this speech" points at, among ``candidates`` (selected or mentioned speeches)."""
    match = _ORDINAL.search(question)
    n = None
    if match:
        n = cn_number(match.group(1))
    elif match := _ORDINAL_EN.search(question):
        n = _EN_ORDINALS[match.group(1).lower()]
    if n is not None:
        return candidates[n - 1] if 0 < n <= len(candidates) else None
    if _THIS.search(question) and last_cited:
        return last_cited[-1]
    return None


def has_cue(question: str) -> bool:
    """Whether the question points back at the conversation: 那…/…呢, 这篇/该讲话/第N篇, 它/上述/其中, 还有…"""
    bare = question.strip()
    return (
        bool(_FOLLOWUP_START.match(bare))
        or bare.rstrip("？?。.！! ").endswith("呢")
        or bool(_ORDINAL.search(bare) or _THIS.search(bare) or _ORDINAL_EN.search(bare) or _CUE.search(bare))
    )


def is_followup(question: str, turns: Sequence[Turn]) -> bool:
    """A follow-up: a question with a reference cue, asked after an earlier question."""
    return any(t.role == "user" for t in turns) and has_cue(question)


def topic(turns: Sequence[Turn]) -> str:
    """The question the conversation is about: the last user question that was not a reference-only follow-up
    ("那第二篇讲话呢？" keeps the topic of the question before it). Empty when there is none."""
    current = ""
    asked: list[Turn] = []
    for turn in turns:
        if turn.role == "user" and not (is_followup(turn.content, asked) and _is_reference_only(turn.content)):
            current = turn.content.strip()
        asked.append(turn)
    return current


def restated(question: str, turns: Sequence[Turn], title: str | None = None) -> str | None:
    """A reference-only follow-up as a standalone question: the conversation's topic, for the referenced speech
    (its title, or the question's own reference words when it could not be resolved). None for any other question,
    which needs a rewrite."""
    if not is_followup(question, turns) or not _is_reference_only(question):
        return None
    subject = topic(turns)
    if not subject:
        return None
    reference = quoted_title(title) if title else _reference_words(question)
    if not reference:
        return subject
    for pattern in (_ORDINAL, _THIS, _ORDINAL_EN, _BOTH_SPEECHES):
        if pattern.search(subject):
            return pattern.sub(reference, subject, count=1)
    return f"{reference}中，{subject}"


def _is_reference_only(question: str) -> bool:
    """Nothing left once the reference cues and fillers are gone: "那第二篇讲话呢？", "这篇呢", "还有呢"."""
    return bool(_FILLER.match(_CUE.sub("", _bare(question))))


def _reference_words(question: str) -> str:
    found = _ORDINAL.search(question) or _THIS.search(question) or _ORDINAL_EN.search(question)
    return found.group(0) if found else ""


def joined_question(question: str, turns: Sequence[Turn], limit: int | None = None) -> str:
    """The rewrite without an LLM: the conversation's topic supplies what the follow-up leaves out. References
    to speeches ("第二篇讲话") and fillers ("那…呢") are dropped: the speech is a filter by then, and the words would
    only dilute the keyword search. At most ``limit`` characters: the question's own words first, then as much of
    the topic as fits."""
    previous, current = topic(turns), _bare(question)
    years = [m.group(0) for m in _YEAR.finditer(current)]
    if years and _YEAR.search(previous):  # "那2022年的呢？": the new year takes the place of the one asked before
        first = _YEAR.search(previous)
        previous = previous[: first.start()] + "和".join(y.rstrip("的") for y in years) + \
            _YEAR.sub("", previous[first.end():])
        current = _YEAR.sub("", current).strip(" 的")
    previous = _bare(previous)
    if limit is not None:
        current = current[:limit]
        previous = previous[: max(limit - len(current) - 1, 0)]
    return " ".join(p for p in (previous, current) if p) or question.strip()[:limit]


def _bare(text: str) -> str:
    text = _ORDINAL_EN.sub("", _THIS.sub("", _ORDINAL.sub("", text)))
    text = _FOLLOWUP_START.sub("", text.strip())
    return re.sub(r"呢\s*[？?]?$", "", text.strip()).strip(" ，,")


def has_own_words(question: str) -> bool:
    """Whether a follow-up says what it asks about besides pointing back ("这篇讲话对人大代表有什么要求？"), so that,
    once its speech is named, it needs neither a rewrite nor the previous question."""
    return len(re.sub(r"\W", "", _CUE.sub("", _bare(question)))) >= 5 and not _is_reference_only(question)


def name_speech(question: str, title: str) -> str:
    """The question with "第二篇讲话" / "this speech" replaced by the speech's title, for the answer prompt."""
    named = quoted_title(title)
    for pattern in (_ORDINAL, _THIS, _ORDINAL_EN):
        question = pattern.sub(named, question)
    return question


def named_followup(question: str, title: str) -> str:
    """A follow-up that says what it asks ("那第二篇讲话对干部有什么要求呢？") as a standalone question: its speech
    named, its "那…呢" dropped ("《标题》对干部有什么要求？")."""
    named = name_speech(question.strip(), title)
    named = re.sub(r"^(?:那么|那|另外|再)\s*[，,]?", "", named)
    return re.sub(r"呢\s*([？?]?)$", r"\1", named)
