"""Retrieval evaluation on a question set with gold documents.

    python -m retriever.eval --corpus CORPUS [CORPUS...] --queries QUERIES.jsonl [--k 5] [--mode dense|keyword|hybrid]

The corpora (JSONL files of {id, title, text} per line, or folders of speeches: retriever/corpus.py) go into one
temporary library through the real ingest pipeline (embeddings cached under SPEECHES_DATA_DIR, so a second run is
fast). Each query ({id, question, gold_doc_ids, answers}) is retrieved with the given mode, through the same search
the answers use (``retriever/named.py``: a question that names its speech searches that speech; ``--no-named``
for the plain search); a hit is a passage of a gold document. A query with ``"gold_all": true`` names several
speeches and asks about each: ``all_gold@k`` counts it when a passage of every gold document is in the top k.
Queries with no gold documents are not counted for recall: on them the relevance signal should say "not
addressed", and that rate is reported. ``--negatives`` adds such questions from another set (say, questions about
another corpus).

A passage whose exact text several documents hold is returned once, with the other documents in its ``also_in``
(retriever/search.py): it is a passage of each of them, so it is a hit when any of them is gold. ``strict_*``
figures count only the document the passage was returned under (the order among identical copies is arbitrary).
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from settings import Settings, quiet_network_clients


def evaluate(retriever, queries: list[dict], *, k: int, mode: str, search=None) -> dict:
    """Figures for ``queries``; ``search(question, k, mode)`` retrieves (default: ``retriever.retrieve``)."""
    search = search or (lambda question, n, m: retriever.retrieve(question, k=n, mode=m))
    depth = max(k, 10)
    ranks: list[int | None] = []
    answer_hits = 0
    answerable = 0
    latencies: list[float] = []
    relevant_on_gold: list[bool] = []
    rejected_without_gold: list[bool] = []
    skipped = 0
    strict_ranks: list[int | None] = []
    all_gold: list[bool] = []
    for query in queries:
        if not str(query["question"]).strip():
            skipped += 1  # a blank question in the set: nothing to retrieve
            continue
        start = time.perf_counter()
        result = search(query["question"], depth, mode)
        latencies.append((time.perf_counter() - start) * 1000)
        gold = set(map(str, query.get("gold_doc_ids") or []))
        if not gold:
            rejected_without_gold.append(not result.relevant)
            continue
        relevant_on_gold.append(result.relevant)
        top = result.passages[:10]
        ranks.append(next((i for i, p in enumerate(top, 1) if p.speech_id in gold or gold & set(p.also_in)), None))
        strict_ranks.append(next((i for i, p in enumerate(top, 1) if p.speech_id in gold), None))
        if query.get("gold_all"):
            covered = {g for p in top[:k] for g in gold if p.speech_id == g or g in p.also_in}
            all_gold.append(covered == gold)
        answers = [a for a in query.get("answers") or [] if a]
        if answers:
            answerable += 1
            top_text = "".join(p.text for p in result.passages[:k])
            answer_hits += any(a in top_text for a in answers)

    def recall(n: int, ranks: list[int | None] = ranks) -> float:
        return sum(1 for r in ranks if r is not None and r <= n) / len(ranks) if ranks else 0.0

    def mrr(ranks: list[int | None]) -> float:
        return round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else 0.0

    latencies.sort()
    return {
        "mode": mode,
        "queries": len(queries) - skipped,
        "skipped_blank": skipped,
        "with_gold": len(ranks),
        "recall@1": round(recall(1), 4),
        "recall@5": round(recall(5), 4),
        "recall@10": round(recall(10), 4),
        "mrr@10": mrr(ranks),
        **{f"strict_recall@{n}": round(recall(n, strict_ranks), 4) for n in (1, 5, 10)},
        "strict_mrr@10": mrr(strict_ranks),
        f"answer_hit@{k}": round(answer_hits / answerable, 4) if answerable else None,
        f"all_gold@{k}": round(sum(all_gold) / len(all_gold), 4) if all_gold else None,
        "relevant_rate_on_gold": round(sum(relevant_on_gold) / len(relevant_on_gold), 4) if relevant_on_gold else None,
        "not_addressed_rate_without_gold": (
            round(sum(rejected_without_gold) / len(rejected_without_gold), 4) if rejected_without_gold else None
        ),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
    }


def print_table(figures: dict) -> None:
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(prog="python -m retriever.eval", description="Evaluate retrieval.")
    parser.add_argument("--corpus", type=Path, nargs="+", required=True,
                        help="JSONL corpora and/or folders of speeches, made into one library")
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--mode", choices=("dense", "keyword", "hybrid"), default="hybrid")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries (and N negatives)")
    parser.add_argument(
        "--negatives", type=Path, help="questions the corpus does not address (their gold documents are ignored)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--no-named", action="store_true",
                        help="the plain search, without resolving the speeches a question names")
    args = parser.parse_args(argv)

    from retriever import named
    from retriever.corpus import ingest_library, read_jsonl
    from retriever.search import Retriever

    try:
        queries = read_jsonl(args.queries, ("question",))
        queries = queries[: args.limit] if args.limit else queries
        if args.negatives:
            negatives = read_jsonl(args.negatives, ("question",))
            negatives = negatives[: args.limit] if args.limit else negatives
            queries += [{"question": q["question"], "gold_doc_ids": []} for q in negatives]
        settings = Settings()
        with tempfile.TemporaryDirectory(prefix="speeches-eval-") as tmp:
            store = ingest_library(args.corpus, settings, Path(tmp), progress=not args.quiet)
            local = settings.model_copy(update={"data_dir": Path(tmp) / "data"})
            retriever = Retriever(store, local)
            search = None if args.no_named else (
                lambda question, n, m: named.retrieve(retriever, question, k=n, mode=m))
            figures = evaluate(retriever, queries, k=args.k, mode=args.mode, search=search)
            figures = {"corpus": " ".join(map(str, args.corpus)), "passages": store.passage_count(),
                       "named": not args.no_named, **figures}
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_table(figures)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
