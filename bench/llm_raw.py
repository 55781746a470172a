"""The local LLM timed raw (xllamacpp directly) and through our LangChain wrapper, on the same prompt.

    python bench/llm_raw.py [--runs 3] [--max-tokens 64] [--threads 2] [--ctx 4096] [--cache]

The model file comes from SPEECHES_MODEL_DIR (default DATA_DIR/models; assembled there on first use). The prompt is
a fixed system prompt, the two paragraphs of the seed speech 002 (from ../shared) that state the growth target, and a
question: about 500 tokens. Printed: load time, then per run and path time to first token, generated tokens,
generation speed and total time; the last line is one JSON object (medians, best runs, peak RSS). Both paths share
one loaded model (``answer.llm.local.get_server``); the prompt cache is off unless ``--cache``, so every run reads
the whole prompt and the two paths compare like for like.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

quiet_network_clients()  # OMP_WAIT_POLICY=PASSIVE: llama.cpp's OpenMP threads must not spin on 2 cores

from langchain_core.messages import convert_to_messages  # noqa: E402

from answer.llm.local import LocalChatModel, get_server  # noqa: E402
from answer.llm.model_file import ensure_model  # noqa: E402

SPEECH = ROOT.parent / "shared" / "speeches" / "seed" / "002_d5a8c33760b2f744.txt"
SYSTEM = ("你是讲话材料问答助手。只根据给出的材料回答，用中文，简洁，并用[1]这样的编号注明出处。"
          "材料没有提到的，就说材料没有提到。")
QUESTION = "今年的经济增速目标是什么？为什么说完成它任务艰巨？"


def bench_messages() -> list[dict]:
    """System prompt + the speech's two paragraphs that state the growth target, numbered as the answer prompt
    numbers passages, + the question: about 500 tokens (Chinese runs ~1.6 characters per token)."""
    paragraphs = [line.strip() for line in SPEECH.read_text(encoding="utf-8").splitlines() if "保8争9" in line]
    material = "\n".join(f"[{i}] {p}" for i, p in enumerate(paragraphs, 1))
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"材料：\n{material}\n\n问题：{QUESTION}"}]


def raw_stream(model_path, messages: list[dict], threads: int, ctx: int, max_tokens: int,
               cache_prompt: bool = False) -> tuple[float, int, float]:
    """(time to first token, tokens generated, total seconds) driving ``Server.handle_chat_completions`` directly,
    timing inside its callback: what the runtime itself costs."""
    server = get_server(model_path, threads, ctx)
    request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True,
               "cache_prompt": cache_prompt}
    first, timings = None, {}
    started = time.perf_counter()

    def on_chunk(chunk: dict) -> bool:
        nonlocal first, timings
        choice = (chunk.get("choices") or [{}])[0]
        if first is None and (choice.get("delta") or {}).get("content"):
            first = time.perf_counter() - started
        timings = chunk.get("timings") or timings
        return False

    server.handle_chat_completions(request, on_chunk)
    total = time.perf_counter() - started
    return (first if first is not None else total), timings.get("predicted_n", 0), total


def wrapped_stream(model_path, messages: list[dict], threads: int, ctx: int, max_tokens: int,
                   cache_prompt: bool = False) -> tuple[float, int, float]:
    """The same figures through ``LocalChatModel.stream`` (thread + queue bridge, LangChain callbacks)."""
    model = LocalChatModel(model_path=str(model_path), threads=threads, context=ctx, max_tokens=max_tokens,
                           cache_prompt=cache_prompt)
    first, tokens = None, 0
    started = time.perf_counter()
    for chunk in model.stream(convert_to_messages(messages)):
        if first is None and chunk.content:
            first = time.perf_counter() - started
        if chunk.usage_metadata:
            tokens = chunk.usage_metadata["output_tokens"]
    total = time.perf_counter() - started
    return (first if first is not None else total), tokens, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="default: SPEECHES_THREADS")
    parser.add_argument("--ctx", type=int, default=None, help="default: SPEECHES_LLM_CONTEXT")
    parser.add_argument("--cache", action="store_true", help="let llama.cpp reuse the cached prompt")
    args = parser.parse_args()
    settings = Settings()
    threads = args.threads or settings.threads
    ctx = args.ctx or settings.llm_context

    started = time.perf_counter()
    path = ensure_model(settings.models_dir)
    ensure_s = time.perf_counter() - started
    started = time.perf_counter()
    get_server(path, threads, ctx)
    load_s = time.perf_counter() - started
    print(f"model file ready in {ensure_s:.2f} s; loaded in {load_s:.2f} s ({threads} threads, ctx {ctx})")

    messages = bench_messages()
    server = get_server(path, threads, ctx)
    prompt_tokens = server.handle_chat_completions({"messages": messages, "max_tokens": 1, "temperature": 0.0,
                                                    "cache_prompt": False})["usage"]["prompt_tokens"]
    print(f"prompt: {prompt_tokens} tokens; {args.runs} runs of each path, max {args.max_tokens} tokens")

    results: dict[str, list[tuple[float, int, float]]] = {"raw": [], "wrapped": []}
    for run in range(args.runs):
        for name, fn in (("raw", raw_stream), ("wrapped", wrapped_stream)):
            ttft, n, total = fn(path, messages, threads, ctx, args.max_tokens, cache_prompt=args.cache)
            results[name].append((ttft, n, total))
            speed = (n - 1) / (total - ttft) if n > 1 and total > ttft else 0.0
            print(f"run {run + 1} {name:8s} ttft {ttft:6.2f} s  tokens {n:3d}  {speed:5.1f} tok/s  "
                  f"total {total:6.2f} s")

    summary = {"load_s": round(load_s, 2), "prompt_tokens": prompt_tokens, "threads": threads, "ctx": ctx,
               "cache_prompt": args.cache}
    for name, rows in results.items():  # medians, and the best run: on a shared box the best is the least disturbed
        ttfts = [r[0] for r in rows]
        speeds = [(r[1] - 1) / (r[2] - r[0]) if r[1] > 1 and r[2] > r[0] else 0.0 for r in rows]
        summary[f"{name}_ttft_s"] = round(statistics.median(ttfts), 3)
        summary[f"{name}_ttft_best_s"] = round(min(ttfts), 3)
        summary[f"{name}_total_s"] = round(statistics.median(r[2] for r in rows), 3)
        summary[f"{name}_tok_s"] = round(statistics.median(speeds), 2)
        summary[f"{name}_tok_s_best"] = round(max(speeds), 2)
    summary["overhead_ttft_s"] = round(summary["wrapped_ttft_s"] - summary["raw_ttft_s"], 3)
    summary["rss_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
