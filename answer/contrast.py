"""What two speeches share and where they differ, built in code from claims supported on both sides.

A claim is a sentence the model wrote about one speech that passed the citation check against that speech's quotes
(answer/verify.py). It is shared when the other speech's quotes support it too, by the same check: the line then
cites a quote of each speech. A claim only one speech's quotes support is that speech's alone. So a shared line can
never credit one speech's words to both, whatever the model would have written; the model is not asked to compare
(a small model put A's words under "共同点" in two of two comparisons: docs/answers.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from answer import verify
from answer.citations import MARKER, labels_in, sentences, support
from answer.segments import Draft, Run
from answer.types import Citation
from answer.wording import phrase

MAX_ITEMS = 3  # lines per part


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without its markers
    labels: tuple[str, ...]  # the quotes of its own side it cites


@dataclass(frozen=True)
class Side:
    key: str  # "A", "B"
    claims: tuple[Claim, ...]
    quotes: Mapping[str, Citation]  # label -> quote


def claims_of(text: str, quotes: Mapping[str, Citation]) -> tuple[Claim, ...]:
    """The claims of a checked summary: its sentences with markers, without them."""
    found = []
    for sentence in sentences(text):
        labels = tuple(dict.fromkeys(label for label in labels_in(sentence) if label in quotes))
        core = MARKER.sub("", sentence).strip()
        if labels and len(re.sub(r"\W", "", core)) >= 6:
            found.append(Claim(core, labels))
    return tuple(found)


def quoted_claims(quotes: Mapping[str, Citation]) -> tuple[Claim, ...]:
    """Without a summary (no LLM), the quotes themselves are the claims."""
    return tuple(Claim(q.text, (label,)) for label, q in quotes.items())


def contrast(a: Side, b: Side, language: str, notes: Mapping[str, str] | None = None, *,
             list_alone: bool = True) -> Draft:
    """The 共同点 and, with ``list_alone``, 不同点 lines of two sides (not when the claims are the quotes, which
    the answer shows already)."""
    shared: list[tuple[Claim, str]] = []  # (claim, the other side's supporting label)
    alone: dict[str, list[Claim]] = {a.key: [], b.key: []}
    for mine, other in ((a, b), (b, a)):
        for claim in mine.claims:
            label = _supported_by(claim, other, notes)
            if label is None:
                alone[mine.key].append(claim)
            elif not any(support(claim.text, [c.text]) >= 0.8 for c, _ in shared):
                shared.append((claim, label))
    draft = Draft()
    if shared:
        draft.line(phrase(language, "shared_heading"))
        for claim, label in shared[:MAX_ITEMS]:
            draft.line(_sentence(claim.text), *_cites(sorted([*claim.labels, label])), item=True)
    else:
        draft.line(phrase(language, "shared_none"))
    if list_alone and (alone[a.key] or alone[b.key]):
        draft.line(phrase(language, "different_heading"))
        for side in (a, b):
            for claim in alone[side.key][:MAX_ITEMS]:
                draft.line(f"{side.key}：{_sentence(claim.text)}", *_cites(claim.labels), item=True)
    return draft


def _supported_by(claim: Claim, side: Side, notes: Mapping[str, str] | None) -> str | None:
    """The label of the quote of ``side`` that supports ``claim`` best, when the check passes against its quotes."""
    if not side.quotes or verify.check_sentence(claim.text, side.quotes, notes):
        return None
    return max(side.quotes, key=lambda label: support(claim.text, [side.quotes[label].text]))


def _sentence(text: str) -> str:
    text = text.rstrip("。；;，, ")
    return text + "。"


def _cites(labels: Sequence[str]) -> list[Run]:
    return [Run(cite=label) for label in labels]
