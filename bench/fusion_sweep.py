"""Every retrieval mode and fusion setting on one ingested evaluation corpus, in one process.

    python bench/fusion_sweep.py [--corpus C --queries Q]   (default ncppolicies-dev; figures in docs/retrieval.md)

The corpus goes once through the real ingest pipeline (embeddings from the cache under SPEECHES_DATA_DIR); each
setting is then scored with ``retriever.eval.evaluate``, exactly as ``python -m retriever.eval`` scores one. Prints
one JSON line per setting.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "ncppolicies-dev"
SETTINGS = [
    ("keyword", {}),
    ("dense", {}),
    ("hybrid", {"fusion": "convex", "dense_weight": 0.2, "keyword_weight": 0.8}),
    ("hybrid", {"fusion": "convex", "dense_weight": 0.3, "keyword_weight": 0.7}),
    ("hybrid", {"fusion": "convex", "dense_weight": 0.4, "keyword_weight": 0.6}),
    ("hybrid", {"fusion": "convex", "dense_weight": 0.5, "keyword_weight": 0.5}),
    ("hybrid", {"fusion": "rrf", "dense_weight": 1.0, "keyword_weight": 1.0}),
    ("hybrid", {"fusion": "rrf", "dense_weight": 0.4, "keyword_weight": 0.6}),
]
FIGURES = ("recall@1", "recall@5", "recall@10", "mrr@10", "strict_recall@1", "strict_recall@5", "strict_recall@10",
           "strict_mrr@10", "answer_hit@5", "p50_ms", "p95_ms")


def main() -> None:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=EVAL / "corpus.jsonl")
    parser.add_argument("--queries", type=Path, default=EVAL / "queries.jsonl")
    args = parser.parse_args()

    from retriever.corpus import ingest_corpus, read_jsonl
    from retriever.eval import evaluate
    from retriever.search import Retriever

    settings = Settings(_env_file=None)
    queries = read_jsonl(args.queries, ("question",))
    with tempfile.TemporaryDirectory(prefix="fusion-sweep-") as tmp:
        store = ingest_corpus(args.corpus, settings, Path(tmp), progress=False)
        local = settings.model_copy(update={"data_dir": Path(tmp) / "data"})
        for mode, update in SETTINGS:
            figures = evaluate(Retriever(store, local.model_copy(update=update)), queries, k=5, mode=mode)
            print(json.dumps({"mode": mode, **update, **{k: figures[k] for k in FIGURES}}), flush=True)


if __name__ == "__main__":
    main()
