"""What ingest produces: a ``Speech`` (its whole normalised text and metadata) and its ``Passage``s."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Speech:
    id: str
    title: str
    text: str  # the whole normalised text; every passage is a slice of it
    source: str  # the file it was read from
    date: str | None = None  # ISO date, or a year-month "2023-01", or a year "2023"
    year: int | None = None
    speaker: str | None = None
    occasion: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Changes whenever the text or the metadata changes: the key of incremental ingest."""
        meta = repr((self.title, self.date, self.year, self.speaker, self.occasion, sorted(self.extra.items())))
        return hashlib.sha256((meta + "\0" + self.text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Passage:
    speech_id: str
    order: int  # 0, 1, 2... within the speech
    start: int  # character offsets into Speech.text: text == speech.text[start:end]
    end: int
    text: str
    section: str | None = None  # the heading the passage falls under ("一、…", "二是…")
