"""Answer latency and accuracy on our seed-speech questions, against the raw llama.cpp runtime.

    python bench/answer.py [--llm local|extractive] [--data-dir DIR] [--questions bench/seed_questions.jsonl]

For each question of ``seed_questions.jsonl`` (written for the two seed speeches in ../shared/speeches/seed):
- ours: ``Assistant.ask_stream`` end to end (follow-up check, retrieval, prompt, LLM, citations, citation check):
  time to the first answer token, generated tokens per second, total;
- raw: the same messages (the prompt our chain built) sent straight to xllamacpp's ``handle_chat_completions``:
  time to the first token and tokens per second. The overhead ratio is ours / raw, measured in one run.
  Both sides run with llama.cpp's prompt cache off, so neither reuses the other's prompt. (The app runs with it on,
  which saves reading the fixed system prompt again: a few seconds per question.)
- accuracy: one of the gold answer strings is in the answer, and the gold speech is cited.
The last line is one JSON object with the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

SEED = ROOT.parent / "shared" / "speeches" / "seed"


def timed_stream(stream) -> dict:
    from answer.events import Delta, Reply, follow

    start, first, deltas, reply = time.perf_counter(), None, 0, Reply()
    for reply in follow(stream):
        if isinstance(reply.event, Delta):  # a token
            if first is None and reply.text.strip():
                first = time.perf_counter()
            deltas += 1
    final = reply.result
    end = time.perf_counter()
    first = first or end
    return {"ttft_s": first - start, "total_s": end - start, "tokens": deltas, "result": final,
            "tok_per_s": (deltas - 1) / (end - first) if deltas > 1 and end > first else 0.0}


def raw_stream(server, messages, max_tokens: int) -> dict:
    """The runtime alone: one blocking call, the callback notes when each token arrives."""
    from langchain_core.messages import convert_to_openai_messages

    stamps: list[float] = []

    def on_chunk(chunk: dict) -> bool:
        delta = ((chunk.get("choices") or [{}])[0].get("delta") or {}).get("content")
        if delta:
            stamps.append(time.perf_counter())
        return False

    request = {"messages": convert_to_openai_messages(messages), "temperature": 0.0, "max_tokens": max_tokens,
               "stream": True, "cache_prompt": False}
    start = time.perf_counter()
    server.handle_chat_completions(request, on_chunk)
    end = time.perf_counter()
    first = stamps[0] if stamps else end
    return {"ttft_s": first - start, "total_s": end - start, "tokens": len(stamps),
            "tok_per_s": (len(stamps) - 1) / (stamps[-1] - first) if len(stamps) > 1 and stamps[-1] > first else 0}


def main() -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="local", choices=["local", "extractive"])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-answer"))
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "seed_questions.jsonl")
    args = parser.parse_args()

    import prompts
    from answer import context as ctx
    from answer.service import Assistant
    from ingest.pipeline import Ingestor
    from ingest.store import open_store

    settings = Settings(data_dir=args.data_dir, llm=args.llm, _env_file=None)
    store = open_store(settings)
    print(Ingestor(store, settings, progress=False).run([SEED]).summary(), file=sys.stderr)
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]

    load_start = time.perf_counter()
    assistant = Assistant(settings, store=store)
    llm = assistant.llm
    load_s = time.perf_counter() - load_start
    server = None
    if llm is not None:
        from answer.llm.local import get_server

        server = get_server(llm.model_path, llm.threads, llm.context)
        uncached = llm.model_copy(update={"cache_prompt": False})

    rows = []
    for q in questions:
        row = {"question": q["question"]}
        if llm is not None:
            assistant._llm = uncached
        ours = timed_stream(assistant.ask_stream(q["question"]))
        answer = ours.pop("result")
        row.update({f"ours_{k}": v for k, v in ours.items()})
        row["correct"] = answer.found and any(a in answer.answer for a in q["answers"])
        row["cited_gold"] = any(c.speech_id == q["speech_id"] for c in answer.citations)
        row["found"] = answer.found
        row["unsupported"] = len(answer.unsupported_sentences)
        row["answer"] = answer.answer
        if llm is not None and answer.found:
            messages = prompts.load("answer", settings.language).format_messages(
                passages=ctx.format_material(answer.context), question=ctx.as_data(answer.standalone_question))
            row.update({f"raw_{k}": v for k, v in raw_stream(server, messages, settings.max_answer_tokens).items()})
        rows.append(row)
        print(f"{q['question'][:24]:<26} correct={row['correct']!s:<5} cited={row['cited_gold']!s:<5} "
              f"ttft ours {row['ours_ttft_s']:.2f}s raw {row.get('raw_ttft_s', 0):.2f}s "
              f"tok/s ours {row['ours_tok_per_s']:.1f} raw {row.get('raw_tok_per_s', 0):.1f}  {answer.answer[:60]!r}",
              file=sys.stderr)

    def median(key):
        values = [r[key] for r in rows if key in r]
        return round(statistics.median(values), 3) if values else None

    summary = {
        "llm": args.llm, "questions": len(rows), "load_s": round(load_s, 2),
        "accuracy": round(sum(r["correct"] and r["cited_gold"] for r in rows) / len(rows), 3),
        "answer_correct": sum(r["correct"] for r in rows), "gold_speech_cited": sum(r["cited_gold"] for r in rows),
        "ttft_s_ours": median("ours_ttft_s"), "ttft_s_raw": median("raw_ttft_s"),
        "tok_per_s_ours": median("ours_tok_per_s"), "tok_per_s_raw": median("raw_tok_per_s"),
        "total_s_ours": median("ours_total_s"),
    }
    if summary["ttft_s_raw"]:
        ratios = [r["ours_ttft_s"] / r["raw_ttft_s"] for r in rows if r.get("raw_ttft_s")]
        summary["ttft_overhead_ratio"] = round(statistics.median(ratios), 3)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
