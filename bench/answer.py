"""Answers measured end to end: right answer and speech, refusals, verified sentences, time to evidence, first token.

    SPEECHES_DATA_DIR=/work/cache/data python bench/answer.py [--llm local|extractive]
        [--questions bench/sets/answer_bench.jsonl] [--corpus PATH ...] [--only KIND] [--show]

The library is the seeds and ../shared/corpora (provincial-2025, national-work-reports, party-congress-reports: 120
speeches), ingested once through the real pipeline into a temporary folder (embeddings cached under
SPEECHES_DATA_DIR); ``--corpus`` picks others (say, the seeds and samples/ alone). Each question of the set
({id, kind, question, history?, speech_ids?, gold_doc_ids, answers, answers_all?}; kinds single, named, two,
followup, unanswerable) goes through ``Assistant.ask_stream`` as the web app runs it (the prompt cache on), and:
- correct: an answerable question is answered (found), one of ``answers`` (every one of ``answers_all``) is in the
  answer, and a gold speech (every gold speech, for ``two``) is cited; an unanswerable one is refused (not found);
- refused: not found (false refusals on answerable questions, true refusals on unanswerable ones, apart);
- verified: of the sentences the model wrote, the share that passed the citation check (the rest went to
  ``unsupported_sentences``, out of the answer);
- time to evidence (the ``Evidence`` event), time to the first token of the synthesis, whole answer; with the local
  model also the raw llama.cpp time to first token for the same prompt (``bench/llm_raw.py``'s call), with the cache
  holding only the fixed system prompt as ours does, measured right after ours: the ratio ours / raw is per question,
  in one run.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def timed(stream) -> dict:
    """Follow an answer stream: when the evidence came, when the synthesis' first token came, the end; and what the
    model wrote (the deltas after the evidence, less the comparison's shared/different lines, which the code
    writes: answer/contrast.py)."""
    from answer.events import Delta, Evidence, follow
    from answer.wording import PHRASES

    code_lines = tuple(p[key].split("（")[0].split("(")[0] for p in PHRASES.values()
                       for key in ("shared_heading", "shared_none"))
    start, evidence_at, first, reply, written = time.perf_counter(), None, None, None, ""
    for reply in follow(stream):
        now = time.perf_counter() - start
        if isinstance(reply.event, Evidence) and evidence_at is None:
            evidence_at = now
        elif isinstance(reply.event, Delta) and evidence_at is not None:
            if not reply.event.text.startswith(code_lines):
                written += reply.event.text
            if first is None and reply.event.text.strip():
                first = now  # the synthesis' heading arrives with its first token
    return {"evidence_s": evidence_at, "ttft_s": first, "total_s": time.perf_counter() - start,
            "written": written, "result": reply.result}


def raw_first_token(server, messages, system: str) -> float:
    """llama.cpp alone: the cache first reset to hold only the system prompt (as it holds it for ours), then the
    same prompt's time to first token."""
    from langchain_core.messages import convert_to_openai_messages

    server.handle_chat_completions({"messages": [{"role": "system", "content": system},
                                                 {"role": "user", "content": "。"}],
                                    "max_tokens": 1, "temperature": 0.0, "cache_prompt": True}, lambda c: False)
    stamps: list[float] = []

    def on_chunk(chunk: dict) -> bool:
        if ((chunk.get("choices") or [{}])[0].get("delta") or {}).get("content"):
            stamps.append(time.perf_counter())
            return True  # the first token is all we time
        return False

    request = {"messages": convert_to_openai_messages(messages), "temperature": 0.0, "max_tokens": 4,
               "stream": True, "cache_prompt": True}
    start = time.perf_counter()
    server.handle_chat_completions(request, on_chunk)
    return (stamps[0] if stamps else time.perf_counter()) - start


def model_sentences(streamed: str) -> int:
    """Sentences the model wrote in a stream (the code's heading lines, ending in a colon, left out)."""
    from answer.citations import sentences

    return sum(1 for s in sentences(streamed) if not s.rstrip().endswith(("：", ":")))


def judge(query: dict, answer) -> dict:
    cited = {c.speech_id for c in answer.citations} | {s for c in answer.citations for s in c.also_in}
    gold = set(query["gold_doc_ids"])
    if not gold:
        return {"correct": not answer.found, "cited_gold": None}
    said = answer.answer
    right = (any(a in said for a in query["answers"]) if query["answers"] else True) and \
        all(a in said for a in query.get("answers_all", []))
    cited_gold = gold <= cited if query["kind"] == "two" else bool(gold & cited)
    return {"correct": answer.found and right and cited_gold, "cited_gold": cited_gold}


def main() -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="local", choices=["local", "extractive"])
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "sets" / "answer_bench.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPORA)
    parser.add_argument("--only", help="only questions of this kind")
    parser.add_argument("--show", action="store_true", help="print each answer")
    args = parser.parse_args()

    import prompts
    from answer import context as ctx
    from answer.service import Assistant
    from retriever.corpus import ingest_library

    settings = Settings(llm=args.llm)
    queries = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = [q for q in queries if not args.only or q["kind"] == args.only]
    with tempfile.TemporaryDirectory(prefix="bench-answer-") as work:
        store = ingest_library(args.corpus, settings, Path(work), progress=False)
        local = settings.model_copy(update={"data_dir": Path(work) / "data", "chroma_url": None})
        assistant = Assistant(local, store=store)
        load_start = time.perf_counter()
        llm = assistant.llm
        load_s = time.perf_counter() - load_start
        server, system = None, None
        if llm is not None:
            from answer.llm.local import get_server

            server = get_server(llm.model_path, llm.threads, llm.context)
            system = prompts.load("answer", settings.language).messages[0].prompt.template
        assistant.ask("热身：今年的经济增速目标是什么？")  # the embedder and the model's system prompt, loaded once

        rows = []
        for q in queries:
            got = timed(assistant.ask_stream(q["question"], history=q.get("history"), speech_ids=q.get("speech_ids")))
            answer = got.pop("result")
            written = model_sentences(got.pop("written")) if llm is not None else 0
            row = {"id": q["id"], "kind": q["kind"], "answerable": bool(q["gold_doc_ids"]), "found": answer.found,
                   **judge(q, answer), **got, "written": written, "unsupported": len(answer.unsupported_sentences),
                   "degraded": answer.degraded}
            if server is not None and answer.found and got["ttft_s"] and not any(c.label[0].isalpha()
                                                                                 for c in answer.context):
                messages = prompts.load("answer", settings.language).format_messages(
                    passages=ctx.format_material(answer.context), question=ctx.as_data(answer.standalone_question))
                row["raw_ttft_s"] = raw_first_token(server, messages, system)
                row["prompt_chars"] = sum(len(m.content) for m in messages)
            rows.append(row)
            print(f"{q['id']} {q['kind']:<12} correct={row['correct']!s:<5} found={answer.found!s:<5} "
                  f"evidence {row['evidence_s'] or 0:.2f}s ttft {row['ttft_s'] or 0:.1f}s "
                  f"raw {row.get('raw_ttft_s', 0):.1f}s total {row['total_s']:.1f}s "
                  f"unsupported {row['unsupported']}/{written}  {q['question']}", file=sys.stderr)
            if args.show:
                print(answer.answer + "\n" + "\n".join(f"  ✗ {s}" for s in answer.unsupported_sentences) + "\n",
                      file=sys.stderr)

    def median(key, subset=rows):
        values = [r[key] for r in subset if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    written = sum(r["written"] for r in rows)
    summary = {
        "llm": args.llm, "questions": len(rows), "load_s": round(load_s, 2),
        "correct": round(sum(r["correct"] for r in rows) / len(rows), 3),
        "correct_by_kind": {kind: f"{sum(r['correct'] for r in rows if r['kind'] == kind)}/"
                                  f"{sum(1 for r in rows if r['kind'] == kind)}"
                            for kind in dict.fromkeys(r["kind"] for r in rows)},
        "false_refusals": round(sum(not r["found"] for r in answerable) / max(1, len(answerable)), 3),
        "true_refusals": round(sum(not r["found"] for r in unanswerable) / max(1, len(unanswerable)), 3),
        "gold_speech_cited": round(sum(bool(r["cited_gold"]) for r in answerable) / max(1, len(answerable)), 3),
        "sentences_written": written,
        "sentences_verified": round(1 - sum(r["unsupported"] for r in rows) / written, 3) if written else None,
        "evidence_s_p50": median("evidence_s"), "ttft_s_p50": median("ttft_s") if llm is not None else None,
        "raw_ttft_s_p50": median("raw_ttft_s"),
        "total_s_p50": median("total_s"), "prompt_chars_p50": median("prompt_chars"),
        "degraded": sum(r["degraded"] for r in rows),
    }
    ratios = [r["ttft_s"] / r["raw_ttft_s"] for r in rows if r.get("raw_ttft_s") and r.get("ttft_s")]
    if ratios:
        summary["ttft_ratio_p50"] = round(statistics.median(ratios), 3)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
