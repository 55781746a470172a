"""Retrieval speed and memory at growing library sizes: our pipeline vs the raw library calls on the same input.

    python bench/retrieve.py [--sizes 1000,10000,100000] [--queries 200] [--mode hybrid] [--budget 300]
                             [--ef 32,64,128,256] [--jitter 0.5] [--profile N] [--put-speech] [--keep-source DIR]

The ncppolicies-dev corpus goes once into a temporary library through the real ingest pipeline (its passage vectors
come from the embedding cache under SPEECHES_DATA_DIR, so no model time is spent when the cache is warm). A second
temporary library is then filled to each size in turn, smallest first: a random (seeded) subset of the speeches for
a size below the corpus, whole replicas of it above (each speech stored again under the id ``ID~rN``, same text; a
partial last replica stops as soon as the size is reached). A replica's vectors are the original ones moved by
``--jitter`` times the difference of two random real passage vectors, renormalised: at 0.5 a replica keeps a cosine
of ~0.97 to its original, about what a real passage has to its nearest neighbour in the corpus (median .975; two
random passages: .88), so HNSW sees near-paraphrases rather than exact copies. The records are written in bulk
exactly as ``SpeechStore.put_speech`` leaves them (``--put-speech`` takes the real, much slower path, with exact
copies of the vectors). At each size:

- the keyword index is built from scratch (``KeywordIndex.sync``, bulk reads) and then opened again from its folder;
- N questions of the query set (cycled) are timed through ``Retriever.retrieve(q, k=5, mode=...)`` end to end, the
  query embedding alone, a raw Chroma query of that same precomputed vector (n_results=50), and keyword search alone;
  the ratio retrieve p50 / (embed p50 + raw Chroma p50) is ours vs the raw library calls on the same input;
- filtered retrieval: all speeches of the year 2020, a list of 10 speech ids, one speech (a different one for each
  question, so its vectors are never cached yet), a fixed pair of speeches (as a comparison asks again and again),
  and a raw Chroma query of the same vector filtered to that one speech (``where speech_id``) for comparison;
  ``store.list_speeches()`` alone on the first 20 questions (every retrieve reads the speech list);
- peak RSS of this process (so far) and the library's size on disk;
- with ``--ef``: recall of Chroma's HNSW search against exact search (numpy over every stored vector) for up to 100
  distinct questions, top 10 and top 50, at each HNSW search breadth (``ef_search``, set with
  ``collection.modify`` and applied by reloading the collection), with the query latency; measured after the rest,
  so the peak RSS above does not include the vectors it reads.

The question loop stops early when ``--budget`` seconds are spent (the table gives the count measured). A readable
table is printed per size; the last line is one JSON object with every figure. ``--profile N`` adds the top N
cProfile entries (cumulative time) of up to 50 retrieve calls at each size.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import itertools
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

quiet_network_clients()  # OMP_WAIT_POLICY=PASSIVE among others: it matters on 2 cores

from ingest.embeddings import cached_embeddings  # noqa: E402
from ingest.store import (  # noqa: E402
    _NO_VECTOR,
    EF_SEARCH,
    PASSAGES,
    SPEECHES,
    SpeechStore,
    _passage_meta,
    _record_meta,
    connect,
    embedding_text,
    open_store,
    passage_id,
)
from retriever.corpus import ingest_corpus, read_jsonl  # noqa: E402
from retriever.keyword import KeywordIndex  # noqa: E402
from retriever.search import MODES, Filters, Retriever  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "ncppolicies-dev"
RAW_N_RESULTS = 50
WARMUP = 5
PROFILED = 50  # retrieve calls under cProfile with --profile
LISTED = 20  # questions on which store.list_speeches() alone is timed too
RECALL_QUESTIONS = 100  # distinct questions for the HNSW recall check


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def timed(call: Callable[..., object], *args, **kwargs) -> tuple[float, object]:
    """(milliseconds, result) of ``call(*args, **kwargs)``."""
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


def disk_bytes(folder: Path) -> int:
    """Bytes actually allocated on disk (as du counts them) under ``folder``."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(parent, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MiB."""
    current = 0.0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Filler:
    """Puts speeches of the source library into the target one until it holds a given number of passages.

    By default the records are written in bulk, exactly as ``SpeechStore.put_speech`` leaves them (same ids,
    versions, metadata, documents and cached vectors), thousands of passages per Chroma call: put_speech makes four
    or more Chroma writes per speech at 30-130 ms each on this machine, i.e. 1-2 hours for 100k passages in 14k short
    speeches. ``--put-speech`` uses the real per-speech path instead.
    """

    def __init__(
        self, source: SpeechStore, target: SpeechStore, *, per_speech: bool = False, jitter: float = 0.5
    ) -> None:
        self.target = target
        self.per_speech = per_speech
        self.jitter = jitter
        stored = source.list_speeches()
        random.Random(0).shuffle(stored)  # a subset (size below the corpus) spans all years, not only the earliest
        self.speeches = []
        for record in stored:
            speech = record.to_speech(source.speech_text(record.id))
            passages = source.speech_passages(record.id)
            vectors = source._embeddings.embed_documents([embedding_text(speech, p) for p in passages])  # cache hits
            self.speeches.append((record, speech, passages, vectors))
        self.per_replica = sum(len(p) for _, _, p, _ in self.speeches)
        self.pool = np.asarray([v for _, _, _, vs in self.speeches for v in vs], dtype=np.float32)
        self.rng = np.random.default_rng(0)
        self._next: Iterator[tuple[int, int]] = ((r, i) for r in itertools.count() for i in range(len(self.speeches)))
        self.passages = 0
        self.speech_count = 0
        self.replicas = 0

    def fill(self, size: int) -> None:
        batch: list[tuple] = []
        batch_passages = 0
        limit = min(2000, self.target.max_batch)
        while self.passages < size:
            replica, index = next(self._next)
            record, speech, passages, vectors = self.speeches[index]
            speech_id = record.id if replica == 0 else f"{record.id}~r{replica}"
            speech = dataclasses.replace(speech, id=speech_id)
            passages = [dataclasses.replace(p, speech_id=speech_id) for p in passages]
            if replica and self.jitter and passages:
                vectors = self._jittered(vectors)
            if self.per_speech:
                self.target.put_speech(
                    speech, passages, version=record.version, chunking=record.chunking, file_sha256=""
                )
            else:
                if batch and batch_passages + len(passages) > limit:
                    self._write(batch)
                    batch, batch_passages = [], 0
                batch.append((record, speech, passages, vectors))
                batch_passages += len(passages)
            self.passages += len(passages)
            self.speech_count += 1
            self.replicas = replica + 1
        if batch:
            self._write(batch)

    def _jittered(self, vectors: list[list[float]]) -> list[list[float]]:
        """Each vector moved by jitter x (a - b), a and b random real passage vectors, and renormalised."""
        pick = self.rng.integers(0, len(self.pool), size=(2, len(vectors)))
        moved = np.asarray(vectors, dtype=np.float32) + self.jitter * (self.pool[pick[0]] - self.pool[pick[1]])
        return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).tolist()

    def _write(self, batch: list[tuple]) -> None:
        passages = [(record.version, speech, p, v) for record, speech, ps, vs in batch for p, v in zip(ps, vs)]
        raw_passages, raw_speeches = raw(self.target, PASSAGES), raw(self.target, SPEECHES)
        raw_passages.add(
            ids=[passage_id(speech.id, version, p.order) for version, speech, p, _ in passages],
            documents=[p.text for _, _, p, _ in passages],
            embeddings=[v for _, _, _, v in passages],
            metadatas=[_passage_meta(speech, p, version) for version, speech, p, _ in passages],
        )
        raw_speeches.add(
            ids=[speech.id for _, speech, _, _ in batch],
            documents=[speech.text for _, speech, _, _ in batch],
            embeddings=[_NO_VECTOR] * len(batch),
            metadatas=[
                {**_record_meta(speech, len(ps), record.version, record.chunking, ""), "pending": ""}
                for record, speech, ps, _ in batch
            ],
        )
        bump = getattr(self.target, "_bump", None)  # put_speech ends every write with a new library generation
        if bump is not None:
            bump()


def raw(store: SpeechStore, name: str):
    """The store's Chroma collection itself: the raw library calls ours are measured against, and the bulk writes
    that fill a library fast (below SpeechStore on purpose)."""
    return store._client.get_collection(name, embedding_function=None)


def measure_size(
    size: int,
    filler: Filler,
    settings: Settings,
    questions: list[str],
    mode: str,
    profile_top: int,
    budget_s: float,
    efs: list[int],
) -> dict:
    store = filler.target
    log(f"size {size:,}: filling the library ({filler.passages:,} passages so far)")
    build_ms, _ = timed(lambda: filler.fill(size))
    passages = store.passage_count()
    speeches = store.list_speeches()
    chroma = raw(store, PASSAGES)

    keyword_dir = settings.data_dir / "keyword"
    shutil.rmtree(keyword_dir, ignore_errors=True)  # a full build at every size
    log(f"size {size:,}: building the keyword index over {passages:,} passages")
    index = KeywordIndex.open(keyword_dir)
    keyword_build_ms, _ = timed(lambda: index.sync(store))
    del index
    keyword_load_ms, index = timed(lambda: KeywordIndex.open(keyword_dir))
    keyword_first_ms, _ = timed(lambda: (index.sync(store), index.search(questions[0], RAW_N_RESULTS, None)))
    retriever = Retriever(store, settings, keyword=index)

    years_2020 = Filters(years=(2020, 2020))
    in_2020 = Filters(years=(2020, 2020)).allowed({s.id: s for s in speeches})
    ten_ids = Filters(speech_ids=[s.id for s in speeches[:: max(1, len(speeches) // 10)][:10]])
    rotation = random.Random(1).sample(speeches, min(len(speeches), len(questions)))  # one speech per question
    pair = Filters(speech_ids=[s.id for s in sorted(speeches, key=lambda s: -s.passages)[:2]])  # the two longest
    pair_passages = sum(s.passages for s in speeches if s.id in pair.speech_ids)

    log(f"size {size:,}: {len(questions)} questions ({mode}); {len(in_2020)} speeches in 2020")
    for question in questions[:WARMUP]:
        retriever.retrieve(question, k=5, mode=mode)
        chroma.query(query_embeddings=[store.embed_query(question)], n_results=RAW_N_RESULTS)
        index.search(question, RAW_N_RESULTS, None)

    n_results = min(RAW_N_RESULTS, passages)
    names = ("retrieve", "embed", "chroma", "keyword", "year", "ids", "one", "chroma_one", "pair", "list")
    samples: dict[str, list[float]] = {k: [] for k in names}
    vectors: dict[str, list[float]] = {}
    deadline = time.perf_counter() + budget_s
    for number, question in enumerate(questions):
        if number and time.perf_counter() > deadline:
            log(f"size {size:,}: time budget spent after {number} of {len(questions)} questions")
            break
        samples["retrieve"].append(timed(retriever.retrieve, question, k=5, mode=mode)[0])
        elapsed, vector = timed(store.embed_query, question)
        vectors.setdefault(question, vector)
        samples["embed"].append(elapsed)
        samples["chroma"].append(timed(chroma.query, query_embeddings=[vector], n_results=n_results)[0])
        samples["keyword"].append(timed(index.search, question, RAW_N_RESULTS, None)[0])
        samples["year"].append(timed(retriever.retrieve, question, k=5, mode=mode, filters=years_2020)[0])
        samples["ids"].append(timed(retriever.retrieve, question, k=5, mode=mode, filters=ten_ids)[0])
        one = rotation[number % len(rotation)]
        only = Filters(speech_ids=[one.id])
        samples["one"].append(timed(retriever.retrieve, question, k=5, mode=mode, filters=only)[0])
        samples["chroma_one"].append(timed(
            chroma.query, query_embeddings=[vector], n_results=min(RAW_N_RESULTS, max(1, one.passages)),
            where={"speech_id": {"$in": [one.id]}},
        )[0])
        samples["pair"].append(timed(retriever.retrieve, question, k=5, mode=mode, filters=pair)[0])
        if number < LISTED:  # the speech list that every retrieve (and every keyword sync) reads
            samples["list"].append(timed(store.list_speeches)[0])
    stats = {name: percentiles(values) for name, values in samples.items()}

    profile = None
    if profile_top:
        profiler = cProfile.Profile()
        profiler.enable()
        for question in questions[: min(PROFILED, len(samples["retrieve"]))]:
            retriever.retrieve(question, k=5, mode=mode)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile_top)
        profile = out.getvalue()

    current_mib, peak_mib = rss_mib()
    chroma_bytes = disk_bytes(settings.data_dir / "chroma")
    keyword_bytes = disk_bytes(keyword_dir)
    raw_p50 = stats["embed"]["p50_ms"] + stats["chroma"]["p50_ms"]
    row = {
        "size": size,
        "passages": passages,
        "speeches": len(speeches),
        "replicas": filler.replicas,
        "fill_s": round(build_ms / 1000, 1),
        "keyword_build_s": round(keyword_build_ms / 1000, 2),
        "keyword_load_ms": round(keyword_load_ms, 1),
        "keyword_first_query_ms": round(keyword_first_ms, 1),
        "mode": mode,
        "queries": len(samples["retrieve"]),
        "retrieve": stats["retrieve"],
        "embed_query": stats["embed"],
        "raw_chroma_query": stats["chroma"],
        "keyword_search": stats["keyword"],
        "ratio_retrieve_p50_vs_raw": round(stats["retrieve"]["p50_ms"] / raw_p50, 3),
        "filtered_year_2020": {**stats["year"], "speeches": len(in_2020),
                               "passages": sum(s.passages for s in speeches if s.id in in_2020)},
        "filtered_10_ids": stats["ids"],
        "filtered_1_speech_uncached": stats["one"],
        "raw_chroma_query_1_speech": stats["chroma_one"],
        "filtered_2_speeches": {**stats["pair"], "passages": pair_passages},
        "list_speeches": stats["list"],
        "rss_mib": round(current_mib),
        "peak_rss_mib": round(peak_mib),
        "disk_mib": round((chroma_bytes + keyword_bytes) / 2**20, 1),
        "disk_chroma_mib": round(chroma_bytes / 2**20, 1),
        "disk_keyword_mib": round(keyword_bytes / 2**20, 1),
        **({"profile": profile} if profile else {}),
    }
    if efs:
        row["hnsw_recall"] = measure_recall(filler, settings, speeches, list(vectors.values())[:RECALL_QUESTIONS], efs)
    return row


def measure_recall(
    filler: Filler, settings: Settings, speeches: list, queries: list[list[float]], efs: list[int]
) -> dict:
    """Chroma's top 10/50 against exact top 10/50 over every stored vector, at each HNSW ef_search. Leaves
    ``filler.target`` a freshly opened store (back at EF_SEARCH)."""
    from chromadb.api.client import SharedSystemClient

    store = filler.target
    log(f"recall: reading the vectors of {len(speeches):,} speeches")
    read_ms, got = timed(lambda: list(store.current_passages(speeches, texts=False, vectors=True)))
    ids = [pid for g in got for pid in g.ids]
    matrix = np.concatenate([g.vectors for g in got if len(g.ids)])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    del got
    exact = []
    for q in queries:
        scores = matrix @ (np.asarray(q, dtype=np.float32) / np.linalg.norm(q))
        top = np.argpartition(-scores, RAW_N_RESULTS - 1)[:RAW_N_RESULTS]
        exact.append([ids[i] for i in top[np.argsort(-scores[top])]])
    del matrix
    out: dict = {"vector_read_s": round(read_ms / 1000, 2), "questions": len(queries), "by_ef": {}}
    for ef in efs:
        SharedSystemClient.clear_system_cache()  # Chroma applies ef_search when a process loads the collection
        collection = connect(settings).get_collection("passages", embedding_function=None)
        collection.modify(configuration={"hnsw": {"ef_search": ef}})
        collection.query(query_embeddings=[queries[0]], n_results=RAW_N_RESULTS)  # load the index
        at10, at50, latency = [], [], []
        for q, want in zip(queries, exact):
            elapsed, found = timed(collection.query, query_embeddings=[q], n_results=RAW_N_RESULTS, include=[])
            got_ids = found["ids"][0]
            latency.append(elapsed)
            at10.append(len(set(got_ids[:10]) & set(want[:10])) / 10)
            at50.append(len(set(got_ids) & set(want)) / len(want))
        out["by_ef"][ef] = {"recall@10": round(statistics.mean(at10), 4), "recall@50": round(statistics.mean(at50), 4),
                            **percentiles(latency)}
        log(f"recall: ef_search {ef}: {out['by_ef'][ef]}")
    SharedSystemClient.clear_system_cache()
    filler.target = SpeechStore(connect(settings), store._embeddings, store.backend)  # back at EF_SEARCH
    return out


def print_table(row: dict) -> None:
    mode = row["mode"]
    print(f"\n== {row['passages']:,} passages, {row['speeches']:,} speeches ({row['replicas']} replica(s)); "
          f"{row['queries']} questions, mode {mode} ==")
    print(f"library fill {row['fill_s']} s; keyword index build {row['keyword_build_s']} s, "
          f"load {row['keyword_load_ms']} ms, first sync+search {row['keyword_first_query_ms']} ms")
    print(f"{'':48} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    year = row["filtered_year_2020"]
    for label, key in (
        (f"Retriever.retrieve k=5 ({mode})", "retrieve"),
        ("  query embedding alone", "embed_query"),
        (f"  raw Chroma query n={RAW_N_RESULTS}", "raw_chroma_query"),
        (f"  keyword search alone k={RAW_N_RESULTS}", "keyword_search"),
        (f"filtered: year 2020 ({year['speeches']} speeches, {year['passages']} passages)", "filtered_year_2020"),
        ("filtered: 10 speech ids", "filtered_10_ids"),
        ("filtered: 1 speech, vectors not cached", "filtered_1_speech_uncached"),
        ("  raw Chroma query filtered to that speech", "raw_chroma_query_1_speech"),
        (f"filtered: 2 speeches ({row['filtered_2_speeches']['passages']} passages)", "filtered_2_speeches"),
        (f"store.list_speeches() alone (n={min(LISTED, row['queries'])})", "list_speeches"),
    ):
        s = row[key]
        print(f"{label:48} {s['p50_ms']:9.1f} {s['p95_ms']:9.1f} {s['max_ms']:9.1f}")
    print(f"ratio retrieve p50 / (embed p50 + raw Chroma p50): {row['ratio_retrieve_p50_vs_raw']:.2f}")
    print(f"memory: RSS {row['rss_mib']} MiB, peak {row['peak_rss_mib']} MiB; disk {row['disk_mib']} MiB "
          f"(Chroma {row['disk_chroma_mib']}, keyword {row['disk_keyword_mib']})")
    if row.get("hnsw_recall"):
        recall = row["hnsw_recall"]
        print(f"HNSW recall vs exact ({recall['questions']} questions; "
              f"all vectors read in {recall['vector_read_s']} s):")
        for ef, r in recall["by_ef"].items():
            print(f"  ef_search {ef:4}: recall@10 {r['recall@10']:.3f}  recall@50 {r['recall@50']:.3f}  "
                  f"query p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms")
    if row.get("profile"):
        print(f"-- cProfile, {min(PROFILED, row['queries'])} retrieve calls, by cumulative time --\n"
              f"{row['profile'].rstrip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="library sizes in passages, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="questions per size (the query set is cycled)")
    parser.add_argument("--mode", default="hybrid", choices=MODES)
    parser.add_argument("--corpus", type=Path, default=EVAL / "corpus.jsonl")
    parser.add_argument("--query-file", type=Path, default=EVAL / "queries.jsonl")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N cProfile entries")
    parser.add_argument("--budget", type=float, default=300, metavar="S",
                        help="seconds of question timing per size; stops early (and says so) when spent")
    parser.add_argument("--keep-source", type=Path, metavar="DIR",
                        help="ingest the corpus into DIR and keep it; a later run with the same DIR reuses it")
    parser.add_argument("--put-speech", action="store_true", help="fill through SpeechStore.put_speech (slow)")
    parser.add_argument("--jitter", type=float, default=0.5,
                        help="how far replica vectors move from the originals (0 = exact copies)")
    parser.add_argument("--ef", default="", help="HNSW ef_search values for the recall check, comma-separated")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    efs = [int(e) for e in args.ef.split(",") if e.strip()]
    if not sizes or sizes[0] < 1 or args.queries < 1:
        parser.error("sizes and --queries must be positive")

    settings = Settings()
    if not settings.data_dir.is_absolute():  # the embedding cache of the checkout, wherever this is run from
        settings = settings.model_copy(update={"data_dir": (Path.cwd() / settings.data_dir).resolve()})
    asked = [row["question"] for row in read_jsonl(args.query_file, ("question",)) if row["question"].strip()]
    questions = list(itertools.islice(itertools.cycle(asked), args.queries))

    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-retrieve-") as tmp:
        kept = args.keep_source
        reused = kept is not None and (kept / "data" / "chroma").is_dir()
        if reused:
            log(f"reusing the corpus library in {kept} (made by an earlier run with --keep-source)")
            ingest_ms, source = timed(lambda: open_store(
                settings.model_copy(update={"data_dir": kept / "data", "chroma_url": None}),
                cached_embeddings(settings),
            ))
        else:
            log(f"ingesting {args.corpus} (embedding cache {settings.data_dir / 'cache'})")
            workdir = kept if kept is not None else Path(tmp) / "source"
            ingest_ms, source = timed(lambda: ingest_corpus(args.corpus, settings, workdir, progress=False))
        library = settings.model_copy(update={"data_dir": Path(tmp) / "library", "chroma_url": None})
        target = open_store(library, source._embeddings)
        filler = Filler(source, target, per_speech=args.put_speech, jitter=args.jitter)
        log(f"source library: {filler.per_replica:,} passages in {len(filler.speeches)} speeches, "
            f"{ingest_ms / 1000:.1f} s")
        for size in sizes:
            row = measure_size(size, filler, library, questions, args.mode, args.profile, args.budget, efs)
            print_table(row)
            sys.stdout.flush()
            rows.append({k: v for k, v in row.items() if k != "profile"})

    summary = {
        "bench": "retrieve",
        "backend": settings.embedding,
        "corpus": str(args.corpus),
        "source_passages": filler.per_replica,
        "source_ingest_s": round(ingest_ms / 1000, 1),
        "source_reused": reused,
        "jitter": args.jitter,
        "ef_search": EF_SEARCH,
        "total_s": round(time.perf_counter() - started, 1),
        "sizes": rows,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
