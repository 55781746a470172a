"""Follow-up questions: which speech "第二篇讲话" means, and a standalone question to retrieve with.

References to speeches are resolved in code, not left to the model: "第N篇" is the Nth of the speeches the user
selected, or else of the speeches the conversation cited (in order of first citation); "这篇" is the speech cited
last. The resolved speech becomes a retrieval filter, so the right speech is searched whatever the rewrite says.
The question itself is rewritten by the LLM when one runs (the ``rewrite`` prompt), and otherwise by joining it to
the previous question, which is what a follow-up like "那第二篇讲话呢？" leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from answer.citations import MARKER
from answer.errors import BadInput

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ORDINAL = re.compile(r"第\s*([一二两三四五六七八九十]|\d{1,2})\s*(?:篇|个|份)(?:讲话)?")
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth|fifth)\s+(?:speech|one)\b", re.IGNORECASE)
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_THIS = re.compile(r"这篇(?:讲话)?|该讲话|这个讲话|上述讲话|this speech|that speech", re.IGNORECASE)
_FOLLOWUP_START = re.compile(
    r"^(那|那么|这|它|其|此|还有|另外|再|and\b|what about|how about|and what|also)", re.IGNORECASE
)
ROLES = ("user", "assistant")


@dataclass
class Turn:
    role: str
    content: str
    speech_ids: list[str] = field(default_factory=list)  # speeches this turn cited (assistant turns)


def parse_history(history: Sequence[Mapping] | None) -> list[Turn]:
    """Turns from ``[{"role": "user"|"assistant", "content": str, "citations": [{"speech_id": ...}]?}, ...]``."""
    turns = []
    for i, item in enumerate(history or []):
        if not isinstance(item, Mapping):
            raise BadInput("history", index=i, problem="must be an object with 'role' and 'content'")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise BadInput("history", index=i, problem=f"has role {role!r}; use 'user' or 'assistant'")
        if not isinstance(content, str):
            raise BadInput("history", index=i, problem="has no text 'content'")
        cited = [c.get("speech_id") for c in item.get("citations") or [] if isinstance(c, Mapping)]
        turns.append(Turn(role, content, [s for s in cited if isinstance(s, str)]))
    return turns


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
        token = match.group(1)
        n = int(token) if token.isdigit() else _CN_DIGITS[token]
    elif match := _ORDINAL_EN.search(question):
        n = _EN_ORDINALS[match.group(1).lower()]
    if n is not None:
        return candidates[n - 1] if 0 < n <= len(candidates) else None
    if _THIS.search(question) and last_cited:
        return last_cited[-1]
    return None


def is_followup(question: str, turns: Sequence[Turn]) -> bool:
    if not any(t.role == "user" for t in turns):
        return False
    bare = question.strip()
    return (
        len(bare) <= 12
        or bool(_FOLLOWUP_START.match(bare))
        or bare.rstrip("？?。 ").endswith("呢")
        or bool(_ORDINAL.search(bare) or _THIS.search(bare) or _ORDINAL_EN.search(bare))
    )


def joined_question(question: str, turns: Sequence[Turn]) -> str:
    """The rewrite without an LLM: the previous question supplies the topic the follow-up leaves out. References
    to speeches ("第二篇讲话") and fillers ("那…呢") are dropped: the speech is a filter by then, and the words would
    only dilute the keyword search."""
    previous = next((t.content for t in reversed(turns) if t.role == "user"), "")
    parts = [_bare(previous), _bare(question)]
    return " ".join(p for p in parts if p) or question.strip()


def _bare(text: str) -> str:
    text = _ORDINAL_EN.sub("", _THIS.sub("", _ORDINAL.sub("", text)))
    text = _FOLLOWUP_START.sub("", text.strip())
    return re.sub(r"呢\s*[？?]?$", "", text.strip()).strip(" ，,")


def history_lines(turns: Sequence[Turn], user: str, assistant: str, last: int = 4, width: int = 160) -> str:
    lines = []
    for turn in turns[-last:]:
        text = " ".join(MARKER.sub("", turn.content).split())
        text = text if len(text) <= width else text[:width] + "…"
        lines.append(f"{user if turn.role == 'user' else assistant}：{text}")
    return "\n".join(lines)


def clean_rewrite(text: str, question: str) -> str | None:
    """The model's rewrite, or None when it is not a usable question (empty, an answer, runaway text)."""
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(改写后的问题|独立问题|问题|Standalone question|Question)\s*[:：]\s*", "", line, flags=re.I)
    line = line.strip("\"'“”「」 ")
    if not line or len(line) > max(200, 4 * len(question)):
        return None
    return line


def name_speech(question: str, title: str) -> str:
    """The question with "第二篇讲话" / "this speech" replaced by the speech's title, for the answer prompt."""
    named = f"《{title}》"
    for pattern in (_ORDINAL, _THIS, _ORDINAL_EN):
        question = pattern.sub(named, question)
    return question
