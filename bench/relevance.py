"""Calibrate the relevance signal: how well it keeps answerable questions and rejects questions about other things.

    python bench/relevance.py --corpus ../shared/eval/cmrc2018-trial/corpus.jsonl \
        --queries ../shared/eval/cmrc2018-trial/queries.jsonl --negatives ../shared/eval/ncppolicies-dev/queries.jsonl

Positives: the corpus's own questions that have gold documents. Negatives: another set's questions. For each it
records the keyword coverage (the signal without the dense term) and the best dense cosine, then prints, for cosine
weights 0..3 and a range of thresholds, the share of positives kept and of negatives rejected. The embedding cache
under SPEECHES_DATA_DIR (./data) makes a second run fast.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import Settings, quiet_network_clients  # noqa: E402


def main() -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--negatives", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=400, help="questions of each kind")
    parser.add_argument("--center", type=float, default=0.85)
    args = parser.parse_args()

    from retriever.corpus import ingest_corpus, read_jsonl
    from retriever.search import Retriever

    settings = Settings(relevance_cosine_weight=0.0)  # the signal's keyword part alone; the cosine is added below
    positives = [q["question"] for q in read_jsonl(args.queries, ("question",)) if q.get("gold_doc_ids")]
    negatives = [q["question"] for q in read_jsonl(args.negatives, ("question",))]
    rows = []
    with tempfile.TemporaryDirectory(prefix="speeches-relevance-") as tmp:
        store = ingest_corpus(args.corpus, settings, Path(tmp), progress=False)
        retriever = Retriever(store, settings)
        for label, questions in ((1, positives[: args.limit]), (0, negatives[: args.limit])):
            for question in questions:
                found = retriever.retrieve(question, k=3)
                dense = retriever.retrieve(question, k=1, mode="dense")
                cosine = dense.passages[0].dense_score if dense.passages else 0.0
                rows.append((label, found.relevance, cosine))
    y, coverage, cosine = (np.array(column) for column in zip(*rows))
    print(f"{(y == 1).sum()} positives, {(y == 0).sum()} negatives; best cosine median: positives "
          f"{np.median(cosine[y == 1]):.3f}, negatives {np.median(cosine[y == 0]):.3f}")
    for weight in (0, 1, 2, 3):
        score = coverage + weight * (cosine - args.center)
        cells = [f"t={t:.2f} keep {(score[y == 1] >= t).mean():.3f} reject {(score[y == 0] < t).mean():.3f}"
                 for t in (0.18, 0.20, 0.22, 0.25, 0.28, 0.30)]
        print(f"coverage + {weight}*(cos-{args.center}): " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
