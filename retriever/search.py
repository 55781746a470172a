"""The one retrieval entry point: dense search in Chroma + BM25 keyword search, fused, de-duplicated, filtered.

``Retriever.retrieve(question, ...)`` returns a ``Retrieval``: passages best first, each with its text, score,
speech id/title/date, section and character offsets, plus a relevance signal the answering layer uses to say
"the speeches do not address this" without asking an LLM.

Filters (speech ids, year range, metadata fields) are resolved against the speech records into a set of allowed
speech ids; both searches are then restricted to it (Chroma with a ``speech_id $in`` filter, BM25 with a mask).
Readers trust only passages of a speech's current version (see ingest/store.py), so a concurrent ingest never
shows a half-written speech.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ingest.store import SpeechStore, StoredSpeech, UnknownSpeechError
from retriever.fusion import convex_fusion, reciprocal_rank_fusion
from retriever.keyword import KeywordIndex
from settings import Settings

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
_SPEECH_FIELDS = ("title", "date", "year", "speaker", "occasion", "source")


@dataclass(frozen=True)
class RetrievedPassage:
    passage_id: str
    speech_id: str
    title: str
    date: str | None
    order: int
    start: int
    end: int
    text: str
    section: str | None
    score: float  # the fused score that ordered the list
    dense_score: float | None = None  # cosine similarity, when the passage came up in dense search
    keyword_score: float | None = None  # BM25 score, when it came up in keyword search

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Retrieval:
    question: str
    passages: list[RetrievedPassage]
    relevance: float  # 0..1: the share of the question's keyword weight found in one of the top 3 passages
    relevant: bool  # relevance >= the calibrated threshold
    mode: str = "hybrid"
    filtered_speeches: list[str] | None = field(default=None)


@dataclass(frozen=True)
class Filters:
    """Which speeches to search. Empty = all."""

    speech_ids: Sequence[str] | None = None
    years: tuple[int | None, int | None] | None = None  # inclusive; None on a side = open
    where: Mapping[str, str | int] | None = None  # speech metadata field -> required value

    def __post_init__(self) -> None:
        if self.years is not None:
            low, high = self.years
            if low is not None and high is not None and low > high:
                raise ValueError(f"year range is reversed: {low} > {high}")

    def is_empty(self) -> bool:
        return not (self.speech_ids or self.years or self.where)

    def allowed(self, speeches: Mapping[str, StoredSpeech]) -> set[str]:
        chosen = set(speeches)
        if self.speech_ids:
            unknown = [s for s in self.speech_ids if s not in speeches]
            if unknown:
                raise UnknownSpeechError(unknown[0])
            chosen &= set(self.speech_ids)
        if self.years:
            low, high = self.years
            chosen = {
                s for s in chosen
                if speeches[s].year is not None
                and (low is None or speeches[s].year >= low)
                and (high is None or speeches[s].year <= high)
            }
        for name, value in (self.where or {}).items():
            known = name in _SPEECH_FIELDS or any(name in speeches[s].extra for s in speeches)
            if not known:
                raise ValueError(f"unknown speech metadata field {name!r} in filter")
            chosen = {s for s in chosen if _field(speeches[s], name) == value}
        return chosen


def _field(speech: StoredSpeech, name: str):
    return getattr(speech, name) if name in _SPEECH_FIELDS else speech.extra.get(name)


class Retriever:
    def __init__(self, store: SpeechStore, settings: Settings, keyword: KeywordIndex | None = None) -> None:
        self.store = store
        self.settings = settings
        self.keyword = keyword or KeywordIndex.open(settings.data_dir / "keyword")
        self._cached: tuple[str, dict[str, StoredSpeech], dict[str, str]] | None = None

    def retrieve(
        self,
        question: str,
        *,
        k: int = 5,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
    ) -> Retrieval:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = filters or Filters()
        speeches, current = self._library()
        allowed = None if filters.is_empty() else filters.allowed(speeches)
        if allowed is not None and not allowed:
            return Retrieval(question, [], 0.0, False, mode, [])
        depth = max(self.settings.retrieval_depth, 3 * k)

        dense = self._dense(question, depth, allowed, current) if mode != "keyword" else []
        keyword: list[tuple[str, float]] = []
        if mode != "dense":
            self.keyword.sync(self.store)
            keyword = [(pid, s) for pid, s in self.keyword.search(question, depth, allowed) if _current(pid, current)]

        if mode == "dense":
            fused = [(pid, score) for pid, score in dense]
        elif mode == "keyword":
            fused = list(keyword)
        elif self.settings.fusion == "rrf":
            fused = reciprocal_rank_fusion([dense, keyword], [self.settings.dense_weight, self.settings.keyword_weight])
        else:
            fused = convex_fusion([dense, keyword], [self.settings.dense_weight, self.settings.keyword_weight])

        details = self._details([pid for pid, _ in fused[: 4 * k + 10]])
        dense_scores, keyword_scores = dict(dense), dict(keyword)
        picked: list[RetrievedPassage] = []
        for pid, score in fused:
            meta_text = details.get(pid)
            if meta_text is None:
                continue
            meta, text = meta_text
            candidate = RetrievedPassage(
                passage_id=pid, speech_id=meta["speech_id"], title=meta.get("title", ""), date=meta.get("date"),
                order=meta["order"], start=meta["start"], end=meta["end"], text=text, section=meta.get("section"),
                score=score, dense_score=dense_scores.get(pid), keyword_score=keyword_scores.get(pid),
            )
            if not any(_same_words(candidate, kept) for kept in picked):
                picked.append(candidate)
            if len(picked) == k:
                break
        relevance = self._relevance(question, picked)
        return Retrieval(
            question, picked, relevance, relevance >= self.settings.relevance_threshold, mode,
            sorted(allowed) if allowed is not None else None,
        )

    def _library(self) -> tuple[dict[str, StoredSpeech], dict[str, str]]:
        """Speech id -> record and -> current version, rebuilt only when the library's generation changes."""
        generation = self.store.generation()
        if self._cached is None or self._cached[0] != generation or not generation:
            listed = self.store.list_speeches()
            self._cached = (generation, {s.id: s for s in listed}, {s.id: s.version for s in listed})
        return self._cached[1], self._cached[2]

    def retrieve_per_speech(self, question: str, speech_ids: Sequence[str], *, k: int = 3) -> dict[str, Retrieval]:
        """The best passages within each of the given speeches, searched separately (for comparisons)."""
        return {sid: self.retrieve(question, k=k, filters=Filters(speech_ids=[sid])) for sid in speech_ids}

    # -- the two searches ---------------------------------------------------------------------------------------

    def _dense(self, question: str, depth: int, allowed: set[str] | None, current: dict[str, str]):
        vector = self.store.embeddings.embed_query(question)
        if not current:
            return []
        where = {"speech_id": {"$in": sorted(allowed)}} if allowed is not None else None
        found = self.store.passages.query(query_embeddings=[vector], n_results=depth, where=where, include=["distances"])
        return [
            (pid, 1.0 - distance)
            for pid, distance in zip(found["ids"][0], found["distances"][0])
            if _current(pid, current)
        ]

    def _details(self, passage_ids: list[str]) -> dict[str, tuple[dict, str]]:
        if not passage_ids:
            return {}
        got = self.store.passages.get(ids=passage_ids, include=["metadatas", "documents"])
        return {pid: (meta, doc) for pid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"])}

    def _relevance(self, question: str, passages: list[RetrievedPassage]) -> float:
        """Keyword coverage (IDF-weighted) of the question by its best-covering top passage. Dense cosines were
        a weaker signal on the calibration sets and depend on the backend; docs/retrieval.md has the figures."""
        if not passages:
            return 0.0
        return max(self.keyword.coverage(question, f"{p.title}\n{p.text}") for p in passages[:3])


def _current(passage_id: str, current: Mapping[str, str]) -> bool:
    speech_id, version, _ = passage_id.rsplit("#", 2)
    return current.get(speech_id) == version


def _same_words(a: RetrievedPassage, b: RetrievedPassage) -> bool:
    """Overlapping spans of one speech, or the very same text (a speech stored twice)."""
    if a.speech_id == b.speech_id and a.start < b.end and b.start < a.end:
        return True
    return a.text == b.text
