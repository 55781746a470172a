"""What the answering layer hands to the CLI, the web app and the HTTP API: one shape for all three.

``as_json()`` is the documented JSON schema (README.md, "Answer JSON").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from answer.segments import Block


@dataclass(frozen=True)
class Citation:
    """A numbered passage an answer may cite: ``label`` is what appears in the text ("1", or "A1"/"B2" in a
    comparison). ``text == speech_text[start:end]`` of the cited speech."""

    label: str
    speech_id: str
    title: str
    date: str | None
    start: int
    end: int
    text: str
    section: str | None = None
    score: float = 0.0
    also_in: tuple[str, ...] = ()  # ids of other speeches holding this very text (retriever/search.py)

    def as_json(self) -> dict:
        n = int(self.label) if self.label.isdigit() else self.label
        return {"n": n, **asdict(self), "also_in": list(self.also_in)}


@dataclass
class Answer:
    kind: ClassVar[str] = "answer"  # its key in a stream's last line (answer/events.py)

    question: str  # as asked
    standalone_question: str  # after rewriting a follow-up with the conversation; == question otherwise
    answer: str
    found: bool  # False: the speeches do not address the question (decided in code from the evidence, before any LLM)
    citations: list[Citation] = field(default_factory=list)  # the cited passages, in order of first citation
    context: list[Citation] = field(default_factory=list)  # the evidence quotes (what the LLM is given), or, when
    # nothing was found, the nearest passages
    unsupported_sentences: list[str] = field(default_factory=list)  # the model's sentences that failed the check: not
    # part of the answer (the pages list them, folded, under 未能核实)
    dropped_markers: list[str] = field(default_factory=list)  # [n] markers that pointed at no passage
    backend: str = ""
    relevance: float = 0.0
    segments: list[Block] = field(default_factory=list)  # the answer laid out: answer/segments.py
    degraded: bool = False  # the LLM could not be used: the answer is the evidence alone
    degraded_reason: str | None = None  # why, in one line for the user

    def as_json(self) -> dict:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "segments": [b.as_json() for b in self.segments],
            "found": self.found,
            "citations": [c.as_json() for c in self.citations],
            "context": [c.as_json() for c in self.context],
            "unsupported_sentences": list(self.unsupported_sentences),
            "dropped_markers": list(self.dropped_markers),
            "backend": self.backend,
            "relevance": round(self.relevance, 4),
            "degraded": self.degraded,
            "degraded_reason": self.degraded_reason,
        }


@dataclass
class SpeechSide:
    """One speech's part of a comparison: its passages on the topic, labelled A1.. or B1.."""

    key: str  # "A" or "B"
    speech_id: str
    title: str
    date: str | None
    found: bool  # False: this speech does not address the topic
    passages: list[Citation] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "key": self.key, "speech_id": self.speech_id, "title": self.title, "date": self.date,
            "found": self.found, "passages": [c.as_json() for c in self.passages],
        }


@dataclass
class Comparison:
    kind: ClassVar[str] = "comparison"

    topic: str
    a: SpeechSide
    b: SpeechSide
    answer: str  # what each says, what they share, where they differ; [A1]/[B2] markers
    found: bool  # False when neither speech addresses the topic
    citations: list[Citation] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)
    dropped_markers: list[str] = field(default_factory=list)
    backend: str = ""
    segments: list[Block] = field(default_factory=list)
    degraded: bool = False
    degraded_reason: str | None = None

    def as_json(self) -> dict:
        return {
            "topic": self.topic,
            "answer": self.answer,
            "segments": [b.as_json() for b in self.segments],
            "found": self.found,
            "citations": [c.as_json() for c in self.citations],
            "unsupported_sentences": list(self.unsupported_sentences),
            "dropped_markers": list(self.dropped_markers),
            "speeches": {"A": self.a.as_json(), "B": self.b.as_json()},
            "backend": self.backend,
            "degraded": self.degraded,
            "degraded_reason": self.degraded_reason,
        }
