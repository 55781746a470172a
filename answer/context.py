"""Turning retrieved passages into numbered citations, the prompt's quoted material, and extractive answers."""

from __future__ import annotations

import re
from collections.abc import Sequence

from answer.citations import bigrams
from answer.segments import Draft, Run
from answer.types import Citation
from ingest.speechtext import CLOSERS, SENTENCE_ENDS, char_class, quoted_title, speech_label
from retriever.search import RetrievedPassage

_SENTENCE = re.compile(char_class(SENTENCE_ENDS + "\n", negate=True) + f"+{char_class(SENTENCE_ENDS)}?"
                       f"{char_class(CLOSERS)}*")


def to_citation(label: str, passage: RetrievedPassage) -> Citation:
    return Citation(
        label=label, speech_id=passage.speech_id, title=passage.title, date=passage.date, start=passage.start,
        end=passage.end, text=passage.text, section=passage.section, score=round(passage.score, 4),
        also_in=passage.also_in,
    )


def number(passages: Sequence[RetrievedPassage], prefix: str = "") -> list[Citation]:
    return [to_citation(f"{prefix}{i}", p) for i, p in enumerate(passages, 1)]


def as_data(text: str) -> str:
    """Speech text as quoted material: no angle bracket can close or open the prompt's own tags."""
    return text.replace("<", "＜").replace(">", "＞")


def format_material(citations: Sequence[Citation]) -> str:
    blocks = []
    for c in citations:
        head = f"[{c.label}]" + speech_label(as_data(c.title), c.date)
        if c.section:
            head += f" {as_data(c.section)}"
        blocks.append(f"{head}\n{as_data(c.text)}")
    return "\n\n".join(blocks)


def titles(names: Sequence[str]) -> str:
    """Speech titles as the answer names them: 《甲》, 《甲》和《乙》, 《甲》、《乙》和《丙》."""
    quoted = [quoted_title(name) for name in names]
    return "和".join(quoted) if len(quoted) <= 2 else "、".join(quoted[:-1]) + "和" + quoted[-1]


def naming(question: str, names: Sequence[str]) -> str:
    """The question with the speeches it names spelled out by title, unless it already gives every title: so that
    the answer says which speech it is about
    ("市十六届人大二次会议提出了哪些工程？（《在市人民代表大会第二次会议闭幕会上的讲话》）")."""
    missing = [name for name in names if name not in question]
    return f"{question}（{titles(names)}）" if missing else question


def best_sentence(text: str, question: str) -> str:
    """The sentence of ``text`` sharing most character bigrams with the question (verbatim, for quoting)."""
    wanted = bigrams(question)
    candidates = [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    if not candidates:
        return text.strip()
    return max(candidates, key=lambda s: (len(bigrams(s) & wanted), -abs(len(s) - 60)))


def extractive_answer(citations: Sequence[Citation], question: str, intro: str) -> Draft:
    """An answer with no LLM: the best sentence of each passage, quoted verbatim, with its citation. The quotes are
    text runs: whatever brackets a speech holds, they are never read as citation markers."""
    draft = Draft().line(intro)
    for c in citations:
        draft.line(f"「{best_sentence(c.text, question)}」", Run(cite=c.label), item=True)
    return draft
