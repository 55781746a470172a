"""Why the store sets Chroma's ``sync_threshold``: the cost of one write as a collection grows, Chroma's default
against ours, raw chromadb calls in one process (docs/design.md, "Chroma's write log is kept short").

    python bench/chroma_writes.py [--speeches 150] [--speech-chars 10000] [--passages 50000] [--writes 300]

- speeches: ``--speeches`` single-record adds of ``--speech-chars``-character documents with a 1-d vector (as the
  speeches collection stores them); the median of the first and of the last 50 writes;
- passages: ``--passages`` random 384-d vectors with 300-character documents added in bulk, then ``--writes`` upserts
  of 7 passages (one short speech); median and p95.
Prints a table and, last, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.store import _PASSAGES_HNSW, _SPEECHES_HNSW  # noqa: E402
from settings import quiet_network_clients  # noqa: E402


def _client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(str(path), settings=ChromaSettings(anonymized_telemetry=False))


def speeches(folder: Path, hnsw: dict, count: int, chars: int) -> dict:
    collection = _client(folder).create_collection("speeches", embedding_function=None, configuration={"hnsw": hnsw})
    body = "中华人民共和国国务院政府工作报告" * (chars // 16)
    times = []
    for i in range(count):
        start = time.perf_counter()
        collection.add(ids=[f"s{i}"], documents=[f"{i}{body}"], embeddings=[[1.0]], metadatas=[{"v": "x"}])
        times.append(time.perf_counter() - start)
    return {"first50_p50_s": round(statistics.median(times[:50]), 3),
            "last50_p50_s": round(statistics.median(times[-50:]), 3), "total_s": round(sum(times), 1)}


def passages(folder: Path, hnsw: dict, count: int, writes: int) -> dict:
    configuration = {"hnsw": {"space": "cosine", "ef_construction": 200, **hnsw}}
    collection = _client(folder).create_collection("passages", embedding_function=None, configuration=configuration)
    rng = np.random.default_rng(0)
    doc = "段落内容政府工作报告" * 30
    for i in range(0, count, 5000):
        n = min(5000, count - i)
        collection.add(ids=[f"b{j}" for j in range(i, i + n)], documents=[doc] * n,
                       embeddings=rng.standard_normal((n, 384)).astype(np.float32))
    times = []
    for i in range(writes):
        start = time.perf_counter()
        collection.upsert(ids=[f"s{i}#{j}" for j in range(7)], documents=[doc] * 7,
                          embeddings=rng.standard_normal((7, 384)).astype(np.float32))
        times.append(time.perf_counter() - start)
    times.sort()
    return {"p50_s": round(times[len(times) // 2], 3), "p95_s": round(times[int(0.95 * (len(times) - 1))], 3),
            "total_s": round(sum(times), 1)}


def main() -> None:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speeches", type=int, default=150)
    parser.add_argument("--speech-chars", type=int, default=10000)
    parser.add_argument("--passages", type=int, default=50000)
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    out = {}
    with tempfile.TemporaryDirectory(prefix="chroma-writes-") as tmp:
        for name, hnsw in (("default", {}), ("ours", _SPEECHES_HNSW)):
            out[f"speeches_{name}"] = speeches(Path(tmp) / f"s-{name}", hnsw, args.speeches, args.speech_chars)
            print(f"speeches, {name:7} {out[f'speeches_{name}']}", flush=True)
        passages_default = {k: v for k, v in _PASSAGES_HNSW.items() if k == "ef_search"}
        for name, hnsw in (("default", passages_default), ("ours", _PASSAGES_HNSW)):
            out[f"passages_{name}"] = passages(Path(tmp) / f"p-{name}", hnsw, args.passages, args.writes)
            print(f"passages, {name:7} {out[f'passages_{name}']}", flush=True)
    out["speeches_last50_ratio_ours_vs_default"] = round(
        out["speeches_ours"]["last50_p50_s"] / out["speeches_default"]["last50_p50_s"], 3)
    ratio = out["passages_ours"]["p50_s"] / out["passages_default"]["p50_s"]
    out["passages_p50_ratio_ours_vs_default"] = round(ratio, 3)
    print(json.dumps({"args": vars(args), **out}))


if __name__ == "__main__":
    main()
