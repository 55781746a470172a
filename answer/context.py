"""Turning retrieved passages into numbered citations, and quotes into the prompt's material."""

from __future__ import annotations

from collections.abc import Sequence

from answer.types import Citation
from ingest.speechtext import quoted_title, speech_label
from retriever.search import RetrievedPassage


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
    """The quotes as the prompt's material: each speech's title and date once, then its quotes, each after its
    label ("[1] …"). Nothing more: every token of the prompt is read before the first token of the answer."""
    blocks: list[str] = []
    speech = None
    for c in citations:
        if c.speech_id != speech:
            speech = c.speech_id
            blocks.append(speech_label(as_data(c.title), c.date))
        blocks.append(f"[{c.label}] {as_data(c.text)}")
    return "\n".join(blocks)


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
