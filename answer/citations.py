"""Citation markers in an answer, and the check that each answer sentence is supported by what it cites.

Markers are ``[1]``, ``[A2]``, ``[1, 3]``, ``[1][2]`` and their full-width forms ``［1］`` ``【1】``. A marker naming a
passage that was not in the prompt is dropped from the text and logged: a citation must always resolve.

The support check is lexical on purpose. Answers here restate their passages closely (the prompt asks for it and
the model is small), so the share of a sentence's character bigrams found in the passages it cites separates
restatement from invention well, costs microseconds, and works the same with every backend. A sentence also fails
when it carries a number the cited passages do not contain: wrong figures are the most damaging invention in
political speeches ("5%左右"). A sentence without a marker is checked against every passage of the prompt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from answer.types import Citation
from ingest.speechtext import CLOSERS, SENTENCE_ENDS, char_class

log = logging.getLogger(__name__)

MARKER = re.compile(r"[\[［【]\s*([A-Z]?\d{1,2}(?:\s*[,，、]\s*[A-Z]?\d{1,2})*)\s*[\]］】]")
LABEL = re.compile(r"[A-Z]?\d{1,2}")
_END = char_class(SENTENCE_ENDS)
_SENTENCE_END = re.compile(f"(?<={_END})|\n+")
_CLAIM = re.compile(char_class(SENTENCE_ENDS + "\n", negate=True) + f"+{_END}*(?:\\s*" + MARKER.pattern + ")*")
_HEADING = re.compile(r"《[^》]*》|\"[^\"]*\"")  # a speech's title on its own line heads a part of an answer
_ENUMERATOR = re.compile(r"^\s*(?:\d{1,2}\s*[.、)）]|[（(]\d{1,2}[)）]|[-*•])\s*")  # "1. ", "（2）", "- "
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CONTENT = re.compile(r"[\w]", re.UNICODE)
SUPPORT_THRESHOLD = 0.5  # share of a sentence's bigrams found in its passages (docs/answers.md)
MIN_CHECKED_CHARS = 8  # shorter sentences are headings or glue ("相同点：")


def labels_in(text: str) -> list[str]:
    return [label for match in MARKER.finditer(text) for label in LABEL.findall(match.group(1))]


def resolve_markers(text: str, context: Mapping[str, Citation]) -> tuple[str, list[Citation], list[str]]:
    """(text with unknown labels removed, cited passages in order of first citation, dropped labels)."""
    cited: dict[str, Citation] = {}
    dropped: list[str] = []

    def rewrite(match: re.Match) -> str:
        keep = []
        for label in LABEL.findall(match.group(1)):
            if label in context:
                keep.append(label)
                cited.setdefault(label, context[label])
            else:
                dropped.append(label)
        return "".join(f"[{label}]" for label in keep)

    cleaned = MARKER.sub(rewrite, text)
    if dropped:
        log.warning("dropped citation markers that point at no passage: %s", ", ".join(dropped))
    return cleaned, list(cited.values()), dropped


def sentences(text: str) -> list[str]:
    """Answer sentences, each keeping its trailing markers ("…目标。[1]" stays one sentence)."""
    pieces = [p for p in _SENTENCE_END.split(text) if p and p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and not _strip_markers(piece).strip(" \t,，" + SENTENCE_ENDS + CLOSERS):
            merged[-1] += piece  # a marker or closing quote after the full stop belongs to the sentence before it
        else:
            merged.append(piece)
    return [s.strip() for s in merged if s.strip()]


def _strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def bigrams(text: str) -> set[str]:
    chars = "".join(_CONTENT.findall(text.lower()))
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def support(sentence: str, passages: Sequence[str]) -> float:
    """Share of the sentence's character bigrams that occur in the passages; 0 when a number is not there."""
    claim = _ENUMERATOR.sub("", _strip_markers(sentence))
    grams = bigrams(claim)
    if not grams:
        return 1.0
    source = "\n".join(passages)
    if any(number not in source for number in _NUMBER.findall(claim)):
        return 0.0
    found = set().union(*(bigrams(p) for p in passages)) if passages else set()
    return len(grams & found) / len(grams)


def _source(citation: Citation) -> str:
    """What a citation vouches for: its passage, and the title of its speech (answers name the speech)."""
    return f"{citation.title}\n{citation.text}"


def add_missing_markers(answer: str, context: Mapping[str, Citation]) -> str:
    """Give each claim the model left without a marker the marker of the passage that supports it best, when that
    passage supports it (small models often drop the markers; the support test is the same as the check's)."""

    def mark(match: re.Match) -> str:
        sentence = match.group(0)
        claim = _strip_markers(sentence)
        if (labels_in(sentence) or len(_CONTENT.findall(claim)) < 2 or claim.rstrip().endswith(("：", ":"))
                or _HEADING.fullmatch(claim.strip())):
            return sentence
        label, best = max(((label, support(sentence, [_source(c)])) for label, c in context.items()),
                          key=lambda x: x[1])
        if best < SUPPORT_THRESHOLD:
            return sentence
        end = len(sentence.rstrip(SENTENCE_ENDS + " "))
        return f"{sentence[:end]}[{label}]{sentence[end:]}"

    return _CLAIM.sub(mark, answer) if context else answer


def unsupported_sentences(answer: str, context: Mapping[str, Citation]) -> list[str]:
    """The check the answers used before answer/verify.py (overlap and digits only); bench/support_check.py still
    measures it, as the baseline of the stricter one."""
    flagged = []
    for sentence in sentences(answer):
        claim = _strip_markers(sentence)
        if len(_CONTENT.findall(claim)) < MIN_CHECKED_CHARS or claim.rstrip().endswith(("：", ":")):
            continue  # headings, glue and lead-in lines ("以下是…内容：") claim nothing
        labels = [label for label in labels_in(sentence) if label in context]
        passages = [_source(context[label]) for label in labels] or [_source(c) for c in context.values()]
        if support(sentence, passages) < SUPPORT_THRESHOLD:
            flagged.append(sentence)
    return flagged
