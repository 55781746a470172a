"""Chunk size and overlap against keyword retrieval on ncppolicies-dev (no embeddings needed).

    python bench/chunk_sweep.py   (figures in docs/retrieval.md)

Each setting chunks the corpus as ingest does (title + passage), indexes it with bm25s using our tokeniser and BM25
parameters; a hit is a passage of a gold document among the top passages (as in retriever.eval).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.chunking import split_passages  # noqa: E402
from ingest.normalise import normalise_text  # noqa: E402
from retriever.keyword import B, K1, tokenize  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "ncppolicies-dev"
SIZES = [(200, 50), (300, 0), (300, 80), (300, 150), (400, 100), (500, 120)]


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def main() -> None:
    import bm25s

    docs, queries = _jsonl(EVAL / "corpus.jsonl"), _jsonl(EVAL / "queries.jsonl")
    for size, overlap in SIZES:
        texts, owners = [], []
        for doc in docs:
            text = normalise_text(doc["text"], join_broken_lines=False)
            for passage in split_passages(doc["id"], text, size=size, overlap=overlap):
                texts.append(f"{doc['title']}\n{passage.text}")
                owners.append(doc["id"])
        index = bm25s.BM25(k1=K1, b=B, method="lucene")
        index.index([tokenize(t) for t in texts], show_progress=False)
        ranks = []
        for query in queries:
            found, _ = index.retrieve([tokenize(query["question"])], k=30, show_progress=False)
            ranked = [owners[i] for i in found[0]]
            ranks.append(next((j for j, o in enumerate(ranked[:10], 1) if o in query["gold_doc_ids"]), None))

        def recall(n: int, ranks=ranks) -> float:
            return float(np.mean([r is not None and r <= n for r in ranks]))

        mrr = float(np.mean([1 / r if r else 0.0 for r in ranks]))
        print(json.dumps({"size": size, "overlap": overlap, "passages": len(texts), "recall@1": round(recall(1), 3),
                          "recall@5": round(recall(5), 3), "recall@10": round(recall(10), 3),
                          "mrr@10": round(mrr, 3)}), flush=True)


if __name__ == "__main__":
    main()
