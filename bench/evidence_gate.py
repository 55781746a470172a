"""The evidence gate measured: false refusals (answerable questions said to be unanswered) and true refusals
(unanswerable questions said to be so), apart, for a range of thresholds, against the retrieval gate used before.

    SPEECHES_DATA_DIR=/work/cache/data python bench/evidence_gate.py [--queries bench/sets/answer_gate.jsonl]
        [--corpus PATH ...] [--show]

The library is the seeds and ../shared/corpora (provincial-2025, national-work-reports, party-congress-reports),
ingested once through the real pipeline into a temporary folder (embeddings cached under SPEECHES_DATA_DIR). Each
question ({question, gold_doc_ids, answers}; no gold: unanswerable) is retrieved and its evidence chosen exactly as
``Assistant.ask_stream`` does (answer/service.py, answer/evidence.py), no LLM. Printed per threshold: false-refusal
rate, true-refusal rate, and the share of answerable questions answered with a gold answer string inside the quotes.
The last line is one JSON object. No figure here depends on a model's wording: the gate is code.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

SHARED = ROOT.parent / "shared"
CORPORA = [SHARED / "speeches" / "seed", SHARED / "corpora" / "provincial-2025",
           SHARED / "corpora" / "national-work-reports.jsonl", SHARED / "corpora" / "party-congress-reports.jsonl"]
THRESHOLDS = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)


def evidence_of(assistant, question: str) -> list:
    """The evidence selections ``ask_stream`` makes for a question asked without history: one, or one per speech
    when it names several."""
    from answer.service import KEYS, _rest
    from retriever.search import Filters

    retrieval = assistant._retrieve(question, assistant.settings.answer_passages, Filters())
    rest = _rest(retrieval)
    if len(retrieval.per_speech) > 1:
        return retrieval, [assistant._evidence(question, passages, rest=rest, prefix=key)
                           for key, passages in zip(KEYS, retrieval.per_speech.values())]
    return retrieval, [assistant._evidence(question, retrieval.passages, rest=rest)]


def main() -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=Path, default=ROOT / "bench" / "sets" / "answer_gate.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPORA)
    parser.add_argument("--show", action="store_true", help="print each question's scores")
    args = parser.parse_args()

    from answer.service import Assistant
    from retriever.corpus import ingest_library

    settings = Settings(llm="extractive")
    queries = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory(prefix="gate-") as work:
        started = time.perf_counter()
        store = ingest_library(args.corpus, settings, Path(work), progress=False)
        print(f"library: {len(store.list_speeches())} speeches in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        local = settings.model_copy(update={"data_dir": Path(work) / "data", "chroma_url": None})
        assistant = Assistant(local, store=store, llm=None)
        rows = []
        for query in queries:
            retrieval, chosen = evidence_of(assistant, query["question"])
            quoted = " ".join(q.text for s in chosen for q in s.quotes)
            rows.append({
                "question": query["question"], "answerable": bool(query.get("gold_doc_ids")),
                "best": max(s.best for s in chosen), "fits": any(s.fits and s.quotes for s in chosen),
                "retrieval_gate": retrieval.relevant,
                "answer_quoted": any(a in quoted for a in query.get("answers") or []),
            })
            if args.show:
                r = rows[-1]
                print(f"{'A' if r['answerable'] else 'U'} best={r['best']:.2f} fits={r['fits']!s:<5} "
                      f"retrieval={r['retrieval_gate']!s:<5} quoted={r['answer_quoted']!s:<5} {r['question']}",
                      file=sys.stderr)

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def figures(answered) -> dict:
        return {
            "false_refusals": round(sum(not answered(r) for r in answerable) / len(answerable), 3),
            "true_refusals": round(sum(not answered(r) for r in unanswerable) / len(unanswerable), 3),
            "answered_with_answer_quoted": round(
                sum(answered(r) and r["answer_quoted"] for r in answerable) / len(answerable), 3),
        }

    summary = {"answerable": len(answerable), "unanswerable": len(unanswerable),
               "retrieval_gate": figures(lambda r: r["retrieval_gate"])}
    print(f"{'gate':<28} false refusals  true refusals  answered, answer quoted")
    print(f"{'retrieval (before)':<28} {summary['retrieval_gate']['false_refusals']:>14} "
          f"{summary['retrieval_gate']['true_refusals']:>14} "
          f"{summary['retrieval_gate']['answered_with_answer_quoted']:>24}")
    for threshold in THRESHOLDS:
        for form in (False, True):
            name = f"evidence >= {threshold:.2f}" + (" + form" if form else "")
            got = figures(lambda r, threshold=threshold, form=form: r["best"] >= threshold and (r["fits"] or not form))
            summary[name] = got
            print(f"{name:<28} {got['false_refusals']:>14} {got['true_refusals']:>14} "
                  f"{got['answered_with_answer_quoted']:>24}")
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
