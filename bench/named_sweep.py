"""Questions that name their speech: the plain search against each way of using the resolved reference.

    python bench/named_sweep.py [--mode hybrid|keyword|dense] [--set named|ncp|both]

One library of the seed speeches, the 2025 provincial reports and the national and party congress reports of
../shared/corpora goes once through the real ingest pipeline (embeddings from the cache under SPEECHES_DATA_DIR), and
``bench/sets/named_speeches.jsonl`` is scored on it with ``retriever.eval.evaluate`` under each policy of
``retriever/named.py``; ncppolicies-dev (its own library) the same way, to show what the resolver costs questions
that name no speech. Prints one JSON line per (set, policy); figures in docs/retrieval.md.
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

SHARED = ROOT.parent / "shared"
LIBRARY = [SHARED / "speeches" / "seed", SHARED / "corpora" / "provincial-2025",
           SHARED / "corpora" / "national-work-reports.jsonl", SHARED / "corpora" / "party-congress-reports.jsonl"]
NAMED = ROOT / "bench" / "sets" / "named_speeches.jsonl"
NCP = SHARED / "eval" / "ncppolicies-dev"
FIGURES = ("recall@1", "recall@5", "recall@10", "mrr@10", "all_gold@5", "answer_hit@5", "relevant_rate_on_gold",
           "p50_ms", "p95_ms")


def policies():
    from retriever.named import Policy

    yield "plain", None
    for strong in ("filter", "boost"):
        for query in ("asked", "rest", "rest+asked"):
            yield f"strong={strong} query={query}", Policy(strong=strong, weak="off", query=query)
    yield "strong=filter weak=boost", Policy(strong="filter", weak="boost", query="rest+asked")
    yield "strong=filter weak=filter", Policy(strong="filter", weak="filter", query="rest+asked")


def main() -> None:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("hybrid", "keyword", "dense"), default="hybrid")
    parser.add_argument("--set", choices=("named", "ncp", "both"), default="both")
    parser.add_argument("--by-via", action="store_true", help="also the named set's figures per kind of reference")
    args = parser.parse_args()

    from retriever import named
    from retriever.corpus import ingest_library, read_jsonl
    from retriever.eval import evaluate
    from retriever.search import Retriever

    settings = Settings(_env_file=None)
    runs = []
    if args.set in ("named", "both"):
        runs.append(("named", LIBRARY, read_jsonl(NAMED, ("question",))))
    if args.set in ("ncp", "both"):
        runs.append(("ncppolicies-dev", [NCP / "corpus.jsonl"], read_jsonl(NCP / "queries.jsonl", ("question",))))
    for name, corpora, queries in runs:
        with tempfile.TemporaryDirectory(prefix="named-sweep-") as tmp:
            store = ingest_library(corpora, settings, Path(tmp), progress=False)
            retriever = Retriever(store, settings.model_copy(update={"data_dir": Path(tmp) / "data"}))
            for label, policy in policies():
                search = None if policy is None else (
                    lambda q, n, m, policy=policy, retriever=retriever: named.retrieve(retriever, q, k=n, mode=m,
                                                                               policy=policy))
                figures = evaluate(retriever, queries, k=5, mode=args.mode, search=search)
                print(json.dumps({"set": name, "policy": label, "mode": args.mode,
                                  **{k: figures.get(k) for k in FIGURES}}, ensure_ascii=False), flush=True)
                if args.by_via and name == "named":
                    for via in sorted({q.get("via", "").split(",")[0] for q in queries}):
                        part = [q for q in queries if q.get("via", "").split(",")[0] == via]
                        got = evaluate(retriever, part, k=5, mode=args.mode, search=search)
                        print(json.dumps({"via": via, "n": len(part), "recall@5": got["recall@5"],
                                          "mrr@10": got["mrr@10"], "all_gold@5": got["all_gold@5"]},
                                         ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
