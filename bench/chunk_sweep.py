"""Chunk-size sweep for keyword search on ncppolicies-dev (no embeddings needed).

    python bench/chunk_sweep.py   (figures in docs/retrieval.md)
"""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bm25s
from ingest.chunking import split_passages
from ingest.normalise import normalise_text
from retriever.keyword import tokenize, K1, B
D = Path(__file__).resolve().parents[2] / "shared" / "eval" / "ncppolicies-dev"
docs = [json.loads(l) for l in open(D / "corpus.jsonl", encoding="utf-8") if l.strip()]
queries = [json.loads(l) for l in open(D / "queries.jsonl", encoding="utf-8") if l.strip()]
for size, overlap in [(200, 50), (300, 0), (300, 80), (300, 150), (400, 100), (500, 120)]:
    texts, owners = [], []
    for d in docs:
        t = normalise_text(d["text"], join_broken_lines=False)
        for p in split_passages(d["id"], t, size=size, overlap=overlap):
            texts.append(d["title"] + "\n" + p.text); owners.append(d["id"])
    owners = np.array(owners)
    r = bm25s.BM25(k1=K1, b=B, method="lucene"); r.index([tokenize(t) for t in texts], show_progress=False)
    ranks = []
    for q in queries:
        docs_, scores = r.retrieve([tokenize(q["question"])], k=30, show_progress=False)
        seen = []
        for i in docs_[0]:
            if owners[i] not in seen: pass
            seen.append(owners[i])
        rank = next((j for j, o in enumerate(seen[:10], 1) if o in q["gold_doc_ids"]), None)
        ranks.append(rank)
    R = lambda n: np.mean([x is not None and x <= n for x in ranks])
    print(f"size={size} overlap={overlap} passages={len(texts)} R@1={R(1):.3f} R@5={R(5):.3f} R@10={R(10):.3f} MRR@10={np.mean([1/x if x else 0 for x in ranks]):.3f}", flush=True)
