"""BM25 keyword search over the library's passages: a derived index, kept in sync with the store by speech versions.

Design
- The index is *derived*: it can always be rebuilt from the store, so it never blocks anything. ``sync(store)``
  compares ``{speech id: version}`` from ``store.list_speeches()`` with the manifest the index was built from; when
  equal it returns at once. Otherwise it reads and tokenises the passages of added/changed speeches only, keeps the
  term counts of unchanged speeches, drops removed ones, and rebuilds the postings from those counts.
- What is stored is a term-frequency matrix in term-major (CSC) form: per term, the passage rows holding it and
  how often. BM25 weights are computed at query time over the query terms' postings only, so a sync never has to
  re-tokenise unchanged speeches nor recompute a weight matrix, and loading is reading a few ``.npy`` files.
  Scores equal bm25s' default (``method="lucene"``; a test checks it). bm25s itself is not used to build: its
  ``index()`` loops over documents in Python (24 s for ~100k tokenised passages), while merging cached counts
  after one changed speech takes ~0.3-0.9 s here.
- Saving is atomic: files are written to a temporary folder, renamed to a fresh generation folder, and then the
  ``CURRENT`` pointer file is replaced (``os.replace``). A crash leaves the previous generation in force. An index
  that cannot be read, or was built with another tokeniser or parameters, is discarded (empty) and rebuilt by the
  next ``sync``. Several processes may share the folder: the last writer wins, and one whose generation vanished
  while loading simply rebuilds. ``search`` reads one immutable snapshot, so it can run while ``sync`` swaps in
  another.
- Passage identity is the store's passage id (``ingest.store.passage_id``).
- At ~100k passages (2 busy cores): ~110 MB on disk, open 0.2-0.8 s, an unchanged sync ~10 ms plus the store's
  speech list, a sync after one changed speech 1-2.5 s (most of it merging and writing), a first build 26-35 s
  (passages read by id in pages of 5,000, ~10 s, instead of two Chroma gets per speech, which took 520 s; the rest
  tokenising; peak memory +0.65 GB), queries p50 ~3 ms / p95 ~7-12 ms.

Tokeniser (ncppolicies-dev: 4,069 passages of 300 chars/80 overlap, title + passage; 621 questions; hit = a passage
of a gold document). Differences under ~.003 MRR are one or two questions; (a) with k1=1.2 ties the best MRR and has
the best R@5, with half the postings of (b). A stopword list of function characters changed nothing.

| tokeniser, BM25 | R@1 | R@5 | R@10 | MRR@10 |
|---|---|---|---|---|
| (a) CJK bigrams + ASCII words/numbers, k1=1.5 b=.75 lucene | .786 | .939 | .973 | .849 |
| (a) + function-character stopwords | .787 | .937 | .973 | .850 |
| (b) (a) + CJK unigrams, k1=1.5 | .792 | .937 | .974 | .854 |
| (b) (a) + CJK unigrams, k1=1.2 | .794 | .934 | .973 | .856 |
| jieba search mode only, k1=1.5 | .747 | .899 | .945 | .810 |
| (c) jieba search mode + bigrams, k1=1.5 | .791 | .934 | .968 | .852 |
| **(a), k1=1.2 b=.75 lucene (chosen)** | .792 | .944 | .974 | .855 |
| (a), k1=1.2 b=.75 bm25+ | .792 | .940 | .971 | .855 |
| (a), k1=1.2 b=.9 lucene | .787 | .942 | .973 | .853 |
| (a), k1=1.5 b=.9 lucene | .779 | .940 | .974 | .846 |
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from array import array
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ingest.store import SpeechStore, passage_id

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75
FORMAT = f"keyword-v1 tokens=cjk-bigram+word k1={K1} b={B}"
CURRENT = "CURRENT"
_STALE_TMP_S = 3600
_GENERATION = re.compile(r"gen-[0-9a-f]{32}")

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"([{_CJK}]+)|(\d+(?:\.\d+)+|[^\W_{_CJK}]+)")
# Question words are no content: dropped from a query (not from passages) before it is tokenised, so "目标是什么"
# searches 目标 only, without the bigrams 是什/什么 that any passage with 什么 would match. ncppolicies-dev: keyword
# R@1 .787 -> .795, MRR .848 -> .854; hybrid R@1 .802 -> .808, MRR .857 -> .861 (docs/retrieval.md).
QUESTION_WORDS = (
    "为什么", "是什么", "是不是", "有没有", "有哪些", "是哪些", "是多少", "什么", "哪些", "如何", "是否", "怎么",
    "怎样", "多少", "哪个", "哪里", "哪家", "请问", "吗", "呢",
)
_QUESTION = re.compile("|".join(map(re.escape, QUESTION_WORDS)))
_DTYPES = {"indptr": np.int64, "rows": np.int32, "tf": np.uint16, "row_speech": np.int32, "row_order": np.int32,
           "row_length": np.int32}


def tokenize(text: str) -> list[str]:
    """Character bigrams of each CJK run (a lone CJK character is its own token), and whole words and numbers of
    other scripts, lower-cased; full-width letters and digits are folded (NFKC). Punctuation yields nothing."""
    tokens: list[str] = []
    for run, other in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        if not run:
            tokens.append(other)
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(map(str.__add__, run, run[1:]))  # bigrams; a third faster than slicing in a loop
    return tokens


def _token_runs(text: str) -> list[list[str]]:
    """The tokens of ``text`` run by run (``tokenize`` of each CJK run, each other word alone)."""
    return [tokenize(run or other) for run, other in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())]


def query_tokens(query: str) -> list[str]:
    """The tokens a search uses: those of ``query`` without its question words (``QUESTION_WORDS``)."""
    return tokenize(_QUESTION.sub(" ", query))


@dataclass(frozen=True, eq=False)
class _Snapshot:
    """One immutable state of the index. Rows are passages; ``tf`` is the (rows x vocab) count matrix as CSC."""

    speeches: tuple[tuple[str, str], ...]  # (speech id, version); row_speech indexes this
    vocab: tuple[str, ...]
    indptr: np.ndarray  # int64, len(vocab) + 1
    rows: np.ndarray  # int32, passage row of each posting
    tf: np.ndarray  # uint16, count of the term in that passage
    row_speech: np.ndarray  # int32
    row_order: np.ndarray  # int32, the passage's order within its speech
    row_length: np.ndarray  # int32, tokens in the passage
    term_ids: dict[str, int] = field(init=False, repr=False)
    versions: dict[str, str] = field(init=False, repr=False)
    positions: dict[str, int] = field(init=False, repr=False)  # speech id -> index in speeches
    idf: np.ndarray = field(init=False, repr=False)  # float32 per term
    norm: np.ndarray = field(init=False, repr=False)  # float32 per row: k1 * (1 - b + b * length / mean length)

    @classmethod
    def empty(cls) -> _Snapshot:
        z = np.zeros(0, dtype=np.int32)
        return cls((), (), np.zeros(1, dtype=np.int64), z, z.astype(np.uint16), z, z, z)

    def __post_init__(self) -> None:
        """Check the arrays fit together (a damaged file must fail here, not in a search) and derive the rest."""
        n, v, nnz = len(self.row_speech), len(self.vocab), len(self.rows)
        for name, dtype in _DTYPES.items():
            array_ = getattr(self, name)
            if array_.dtype != dtype or array_.ndim != 1:
                raise ValueError(f"keyword index array {name} is {array_.dtype}[{array_.ndim}d], not {dtype}[1d]")
        ok = (
            len(self.indptr) == v + 1 and self.indptr[0] == 0 and self.indptr[-1] == nnz == len(self.tf)
            and bool(np.all(self.indptr[1:] >= self.indptr[:-1]))
            and len(self.row_order) == n == len(self.row_length)
            and (not nnz or 0 <= int(self.rows.min()) and int(self.rows.max()) < n)
            and (not n or 0 <= int(self.row_speech.min()) and int(self.row_speech.max()) < len(self.speeches))
        )
        if not ok:
            raise ValueError("keyword index arrays do not fit together")
        df = np.diff(self.indptr).astype(np.float64)
        mean_length = float(self.row_length.mean()) if n else 1.0
        derived = {
            "term_ids": {t: i for i, t in enumerate(self.vocab)},
            "versions": dict(self.speeches),
            "positions": {sid: i for i, (sid, _) in enumerate(self.speeches)},
            "idf": np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32),
            "norm": (K1 * (1 - B + B * self.row_length / (mean_length or 1.0))).astype(np.float32),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)


class KeywordIndex:
    """A persisted BM25 index over the passages of one library (see the module docstring)."""

    def __init__(self, folder: Path, snapshot: _Snapshot | None = None) -> None:
        self.folder = Path(folder)
        self._snap = snapshot or _Snapshot.empty()
        self._unsaved = False
        self._synced = ""  # the library generation this index last matched
        self._sync_lock = threading.Lock()  # one sync at a time; searches read a snapshot and never wait

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex:
        """The index saved in ``folder``, or an empty one if there is none or it cannot be read."""
        return cls(folder, _load(Path(folder)))

    def __len__(self) -> int:
        return len(self._snap.row_speech)

    def speech_ids(self) -> set[str]:
        return set(self._snap.versions)

    # -- keeping in sync ----------------------------------------------------------------------------------------

    def sync(self, store: SpeechStore) -> bool:
        """Bring the index up to date with ``store`` and save it; False, having read nothing but the speech list,
        when it already was. A speech that changes or vanishes while being read is left out until the next sync."""
        generation = store.generation()
        if generation and generation == self._synced and not self._unsaved:
            return False  # nothing was written to the library since the last sync
        with self._sync_lock:  # a search waits for a sync under way: it would search without the new speech
            if generation and generation == self._synced and not self._unsaved:
                return False  # another thread synced meanwhile
            return self._sync(store, generation)

    def _sync(self, store: SpeechStore, generation: str) -> bool:
        listed = store.list_speeches()
        wanted = {s.id: s.version for s in listed}
        snap = self._snap
        if wanted == snap.versions:
            if self._unsaved:
                self._save()
            self._synced = generation
            return False
        kept = [(sid, ver) for sid, ver in snap.speeches if wanted.get(sid) == ver]
        fresh = _Fresh(snap.term_ids, len(kept))
        changed = [speech for speech in listed if snap.versions.get(speech.id) != speech.version]
        for got in store.current_passages(changed, texts=True):  # thousands of passages per read
            texts = [(order, f"{got.speech.title}\n{text}") for order, text in enumerate(got.texts)]
            fresh.add(got.speech.id, got.speech.version, texts)
        self._snap = _merge(snap, kept, fresh)
        self._unsaved = True
        self._save()
        if set(self._snap.versions.items()) == set(wanted.items()):
            self._synced = generation  # else a speech changed mid-read: look again next time
        return True

    def _save(self) -> None:
        """Save the current snapshot. A failure (disk full...) is logged: the index works from memory meanwhile,
        and every later ``sync`` tries again."""
        try:
            _save(self.folder, self._snap)
            self._unsaved = False
        except OSError as exc:
            log.warning("cannot save the keyword index to %s (%s); it will be saved on a later sync", self.folder, exc)

    # -- searching ----------------------------------------------------------------------------------------------

    def coverage(self, query: str, text: str) -> float:
        """How much of the query's weight (IDF of its distinct tokens) appears in ``text``: 0..1. A token that no
        passage holds counts with the highest IDF, so a question about something absent scores low."""
        snap = self._snap
        query_tokens = set(tokenize(query))
        if not query_tokens:
            return 0.0
        n = len(snap.row_speech)
        unseen = float(np.log1p((n + 0.5) / 0.5))
        weight = {t: float(snap.idf[snap.term_ids[t]]) if t in snap.term_ids else unseen for t in query_tokens}
        total = sum(weight.values())
        present = set(tokenize(text))
        return sum(w for t, w in weight.items() if t in present) / total if total else 0.0

    def term_weights(self, query: str, junctions: bool = True) -> dict[str, float]:
        """The search tokens of ``query`` (``query_tokens``: question words dropped) and their IDF in this library; a
        token no passage holds gets the highest IDF, as in ``coverage``. Without ``junctions``, a bigram no passage
        holds that only joins two held ones across one character (保护|护要|要坚|坚持 in "生态环境保护要坚持": 要 is a
        word of its own) is left out: it is no term of the question, and at the highest IDF it outweighed the rest."""
        snap = self._snap
        unseen = float(np.log1p((len(snap.row_speech) + 0.5) / 0.5))
        weights = {t: float(snap.idf[snap.term_ids[t]]) if t in snap.term_ids else unseen
                   for t in set(query_tokens(query))}
        if not junctions:
            for run in _token_runs(_QUESTION.sub(" ", query)):
                held = [t in snap.term_ids for t in run]
                i = 0
                while i < len(run):
                    j = i
                    while j < len(run) and not held[j]:
                        j += 1
                    if j > i and 0 < i and j < len(run) and j - i <= 2:  # unseen run[i:j] between held ones
                        for t in run[i:j]:
                            weights.pop(t, None)
                    i = max(j, i + 1)
        return weights

    def covering(self, query: str, titles: Mapping[str, str], at_least: float) -> list[tuple[str, float, float]]:
        """Every passage whose own text covers at least ``at_least`` of the query's weight (as ``coverage`` weighs
        it, question words left out) and holds two of its bigrams that follow each other in the query (three of
        its characters, near enough: 生态 and 环境 apart do not make 生态环境; a query of one bigram or word needs
        that one), with its BM25 score on that text: (passage id, coverage, score), in index order. A passage is
        indexed with its speech's title; the title's tokens are taken out again here (``titles``: speech id ->
        title), so a title naming the topic does not put every passage on it. Reads the postings of the query's
        tokens only: what a topic across the whole library costs (study/topic.py)."""
        snap = self._snap
        runs = [run for run in _token_runs(_QUESTION.sub(" ", query)) if run]
        tokens = {t for run in runs for t in run}
        n = len(snap.row_speech)
        if not tokens or not n:
            return []
        known = {t: snap.term_ids[t] for t in tokens if t in snap.term_ids}
        unseen = float(np.log1p((n + 0.5) / 0.5))
        total = float(sum(snap.idf[tid] for tid in known.values())) + unseen * (len(tokens) - len(known))
        cover = np.zeros(n, dtype=np.float32)
        score = np.zeros(n, dtype=np.float32)
        held: dict[str, np.ndarray] = {}  # token -> rows whose own text holds it
        folded: dict[int, str] = {}
        for token, tid in known.items():
            lo, hi = snap.indptr[tid], snap.indptr[tid + 1]
            rows, tf = snap.rows[lo:hi], snap.tf[lo:hi].astype(np.int32)
            in_title = np.zeros(len(snap.speeches), dtype=np.int32)
            for position in np.unique(snap.row_speech[rows]).tolist():
                if position not in folded:
                    title = titles.get(snap.speeches[position][0], "")
                    folded[position] = unicodedata.normalize("NFKC", title).lower()
                if token in folded[position]:
                    in_title[position] = tokenize(folded[position]).count(token)
            text_tf = tf - in_title[snap.row_speech[rows]]
            rows, text_tf = rows[text_tf > 0], text_tf[text_tf > 0].astype(np.float32)
            held[token] = rows
            cover[rows] += snap.idf[tid]
            score[rows] += snap.idf[tid] * text_tf / (text_tf + snap.norm[rows])
        anchored = np.zeros(n, dtype=bool)
        empty = np.zeros(0, dtype=np.int32)
        for run in runs:
            if len(run) == 1:
                anchored[held.get(run[0], empty)] = True
            for a, b in zip(run, run[1:]):
                anchored[np.intersect1d(held.get(a, empty), held.get(b, empty), assume_unique=True)] = True
        share = cover / total if total else cover
        hits = np.flatnonzero(anchored & (share > 0) & (share >= at_least - 1e-6))
        out = []
        for row in hits.tolist():
            sid, ver = snap.speeches[snap.row_speech[row]]
            out.append((passage_id(sid, ver, int(snap.row_order[row])), float(share[row]), float(score[row])))
        return out

    def search(
        self, query: str, k: int, allowed: Callable[[str], bool] | Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best passages for ``query`` as (passage id, BM25 score), best first, scores > 0 only.
        ``allowed`` keeps only passages of those speech ids (a collection, or a predicate on the speech id)."""
        snap = self._snap
        terms: dict[int, int] = {}
        for token in query_tokens(query):
            if (tid := snap.term_ids.get(token)) is not None:
                terms[tid] = terms.get(tid, 0) + 1
        if k < 1 or not terms:
            return []
        scores = np.zeros(len(snap.row_speech), dtype=np.float32)
        for tid, count in terms.items():
            lo, hi = snap.indptr[tid], snap.indptr[tid + 1]
            rows = snap.rows[lo:hi]
            tf = snap.tf[lo:hi].astype(np.float32)
            scores[rows] += (count * snap.idf[tid]) * tf / (tf + snap.norm[rows])
        hits = np.flatnonzero(scores > 0)
        if allowed is not None:
            ok = np.zeros(len(snap.speeches), dtype=bool)
            if callable(allowed):
                ok[:] = [bool(allowed(sid)) for sid, _ in snap.speeches]
            else:
                positions = [snap.positions[sid] for sid in allowed if sid in snap.positions]
                ok[np.fromiter(positions, dtype=np.int64, count=len(positions))] = True
            hits = hits[ok[snap.row_speech[hits]]]
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.lexsort((hits, -scores[hits]))]
        out = []
        for row in hits.tolist():
            sid, ver = snap.speeches[snap.row_speech[row]]
            out.append((passage_id(sid, ver, int(snap.row_order[row])), float(scores[row])))
        return out


class _Fresh:
    """Passages of added/changed speeches as term ids, appended to a copy of the vocabulary as they come."""

    def __init__(self, term_ids: dict[str, int], first_speech: int) -> None:
        self.term_ids = dict(term_ids)
        self.first_speech = first_speech
        self.speeches: list[tuple[str, str]] = []
        self.cols = array("i")
        self.indptr = array("q", [0])
        self.orders, self.lengths, self.owners = array("i"), array("i"), array("i")

    def add(self, speech_id: str, version: str, passages: list[tuple[int, str]]) -> None:
        owner = self.first_speech + len(self.speeches)
        self.speeches.append((speech_id, version))
        ids = self.term_ids
        for order, text in passages:
            tokens = tokenize(text)
            self.cols.extend([ids.setdefault(t, len(ids)) for t in tokens])
            self.indptr.append(len(self.cols))
            self.orders.append(order)
            self.lengths.append(len(tokens))
            self.owners.append(owner)

    def matrix(self, width: int) -> sp.csc_matrix:
        """Term counts of the fresh passages, (passages x width), as CSC with uint16 counts."""
        m = sp.csr_matrix(
            (np.ones(len(self.cols), dtype=np.uint16), np.frombuffer(self.cols, dtype=np.int32),
             np.frombuffer(self.indptr, dtype=np.int64)),
            shape=(len(self.orders), width),
        )
        m.sum_duplicates()
        return m.tocsc()


def _merge(snap: _Snapshot, kept: list[tuple[str, str]], fresh: _Fresh) -> _Snapshot:
    """The rows of ``kept`` speeches from ``snap`` (their counts reused, renumbered in order), then ``fresh``'s.
    Postings are merged column by column without sorting: the postings of dropped rows are deleted, and the fresh
    rows, numbered after all kept ones, are inserted at the end of their term's postings. Linear in the postings."""
    keep_speech = np.zeros(len(snap.speeches), dtype=bool)
    keep_speech[np.asarray([snap.positions[sid] for sid, _ in kept], dtype=np.int64)] = True
    keep_row = keep_speech[snap.row_speech]
    kept_sel = np.flatnonzero(keep_row)
    old_width = len(snap.vocab)

    rows, tf, kept_ptr = snap.rows, snap.tf, snap.indptr
    if len(kept_sel) < len(keep_row):
        new_row = np.full(len(keep_row), -1, dtype=np.int32)
        new_row[kept_sel] = np.arange(len(kept_sel), dtype=np.int32)
        mapped = new_row[rows]
        live = mapped >= 0
        dropped = np.flatnonzero(~live)
        rows, tf = mapped[live], tf[live]
        per_term = np.bincount(np.searchsorted(snap.indptr, dropped, side="right") - 1, minlength=old_width)
        kept_ptr = snap.indptr - np.concatenate([[0], np.cumsum(per_term, dtype=np.int64)])

    vocab = list(snap.vocab)
    vocab.extend(itertools.islice(fresh.term_ids, old_width, None))  # dicts keep insertion order
    width = len(vocab)
    kept_ptr = np.concatenate([kept_ptr, np.full(width - old_width, kept_ptr[-1], dtype=np.int64)])
    add = fresh.matrix(width)
    add_count = np.diff(add.indptr).astype(np.int64)
    if add.nnz and not len(rows):  # a first build: the fresh postings are all (no index arrays of their size)
        rows, tf = add.indices.astype(np.int32) + np.int32(len(kept_sel)), add.data.astype(np.uint16)
    elif add.nnz:
        at = np.repeat(kept_ptr[1:], add_count)  # the end of each term's kept postings
        rows = np.insert(rows, at, add.indices.astype(np.int32) + np.int32(len(kept_sel)))
        tf = np.insert(tf, at, add.data.astype(np.uint16))
    indptr = kept_ptr + np.concatenate([[0], np.cumsum(add_count)])

    used = indptr[1:] > indptr[:-1]
    if not used.all():  # terms that only dropped passages had
        indptr = np.concatenate([[0], indptr[1:][used]])
        vocab = [t for t, u in zip(vocab, used.tolist()) if u]
    new_speech = np.cumsum(keep_speech, dtype=np.int32) - 1
    return _Snapshot(
        speeches=tuple(kept) + tuple(fresh.speeches),
        vocab=tuple(vocab),
        indptr=indptr.astype(np.int64),
        rows=np.ascontiguousarray(rows, dtype=np.int32),
        tf=np.ascontiguousarray(tf, dtype=np.uint16),
        row_speech=np.concatenate(
            [new_speech[snap.row_speech[kept_sel]], np.frombuffer(fresh.owners, dtype=np.int32)]
        ).astype(np.int32),
        row_order=np.concatenate([snap.row_order[kept_sel], np.frombuffer(fresh.orders, dtype=np.int32)]),
        row_length=np.concatenate([snap.row_length[kept_sel], np.frombuffer(fresh.lengths, dtype=np.int32)]),
    )


# -- persistence ------------------------------------------------------------------------------------------------


def _save(folder: Path, snap: _Snapshot) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex
    tmp = folder / f".tmp-{tag}"
    tmp.mkdir()
    try:
        for name in _DTYPES:
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, getattr(snap, name), allow_pickle=False)
                _flush(f)
        _write_json(tmp / "vocab.json", list(snap.vocab))
        _write_json(tmp / "manifest.json", {"format": FORMAT, "speeches": [list(s) for s in snap.speeches]})
        generation = f"gen-{tag}"
        os.replace(tmp, folder / generation)
        pointer = folder / f".{CURRENT}-{tag}"
        pointer.write_text(generation, encoding="utf-8")
        os.replace(pointer, folder / CURRENT)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _clean(folder, keep=generation)


def _clean(folder: Path, keep: str) -> None:
    """Remove superseded generations and temporary folders that a crashed writer left behind long ago."""
    for entry in folder.iterdir():
        if entry.name.startswith("gen-") and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(".tmp-") or entry.name.startswith(f".{CURRENT}-"):
            try:
                if time.time() - entry.stat().st_mtime > _STALE_TMP_S:
                    (shutil.rmtree if entry.is_dir() else os.remove)(entry)
            except OSError:
                pass


def _load(folder: Path) -> _Snapshot:
    for _ in range(2):  # a second try if another process replaced the generation while we read it
        try:
            generation = (folder / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return _Snapshot.empty()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("keyword index pointer in %s unreadable (%s); it will be rebuilt", folder, exc)
            return _Snapshot.empty()
        try:
            return _read(folder / generation)
        except Exception as exc:  # any damage: the index is derived, so drop it and rebuild
            error = exc
            try:
                again = (folder / CURRENT).read_text(encoding="utf-8").strip() != generation
            except OSError:
                again = False
            if not again:
                break
    log.warning("keyword index in %s unreadable (%s); it will be rebuilt", folder, error)
    return _Snapshot.empty()


def _read(path: Path) -> _Snapshot:
    if not _GENERATION.fullmatch(path.name):
        raise ValueError(f"bad generation name {path.name!r}")
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"built as {manifest.get('format')!r}, not {FORMAT!r}")
    arrays = {name: np.load(path / f"{name}.npy", allow_pickle=False) for name in _DTYPES}
    vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
    if not all(isinstance(t, str) for t in vocab):
        raise ValueError("vocabulary is not a list of strings")
    speeches = tuple((str(s), str(v)) for s, v in manifest["speeches"])
    return _Snapshot(speeches=speeches, vocab=tuple(vocab), **arrays)


def _write_json(path: Path, value: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
        _flush(f)


def _flush(f) -> None:
    f.flush()
    os.fsync(f.fileno())
