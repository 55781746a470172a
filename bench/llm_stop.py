"""How soon an abandoned answer frees the local model, and what reading prompts in small batches costs.

    python bench/llm_stop.py [--runs 3] [--batches 64,2048] [--stop-after 1.0]

The model file comes from SPEECHES_MODEL_DIR (default DATA_DIR/models). One llama.cpp server is loaded per batch
size (``n_batch`` = ``n_ubatch``; answer/llm/local.py uses ``PROMPT_BATCH``, llama.cpp's default is 2048), and the
runs alternate between them, so both see the same machine. Per run and batch size, with the prompt of
bench/llm_raw.py (~500 tokens, prompt cache off):

- ``read``: time to the first token, i.e. reading the prompt (through ``stream_chat``, the app's bridge);
- ``free``: the stream is closed ``--stop-after`` seconds into reading the prompt (a reader who left); the time
  from that close until ``stream_chat`` has returned, i.e. until llama.cpp let go of the request.

The last line is one JSON object: medians per batch size and the ratios of the first batch size to the last.
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

quiet_network_clients()

import xllamacpp  # noqa: E402
from llm_raw import bench_messages  # noqa: E402

from answer.llm.local import server_params, stream_chat  # noqa: E402
from answer.llm.model_file import ensure_model  # noqa: E402


def load(path: Path, threads: int, ctx: int, batch: int):
    params = server_params(path, threads, ctx)
    params.n_batch = params.n_ubatch = batch
    return xllamacpp.Server(params)


def read_time(server, messages: list[dict]) -> float:
    request = {"messages": messages, "max_tokens": 2, "temperature": 0.0, "cache_prompt": False}
    started = time.perf_counter()
    for chunk in stream_chat(server, request, timeout=600):
        if (chunk.get("choices") or [{}])[0].get("delta", {}).get("content"):
            return time.perf_counter() - started
    return time.perf_counter() - started


def free_time(server, messages: list[dict], stop_after: float) -> float:
    """Close the stream ``stop_after`` s into the prompt; seconds from the close to llama.cpp letting go."""
    request = {"messages": messages, "max_tokens": 64, "temperature": 0.0, "cache_prompt": False}
    stream = stream_chat(server, request, timeout=600)
    next(stream)  # the first progress chunk: reading has begun
    time.sleep(stop_after)
    started = time.perf_counter()
    stream.close()  # joins the generation thread (stream_chat waits for llama.cpp)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", default="64,2048")
    parser.add_argument("--stop-after", type=float, default=1.0)
    args = parser.parse_args()
    settings = Settings()
    batches = [int(b) for b in args.batches.split(",")]
    path = ensure_model(settings.models_dir)
    servers = {b: load(path, settings.threads, settings.llm_context, b) for b in batches}
    messages = bench_messages()
    rows: dict[int, dict[str, list[float]]] = {b: {"read": [], "free": []} for b in batches}
    for run in range(args.runs):
        for batch in batches:
            read = read_time(servers[batch], messages)
            free = free_time(servers[batch], messages, args.stop_after)
            rows[batch]["read"].append(read)
            rows[batch]["free"].append(free)
            print(f"run {run + 1} batch {batch:5d}: read the prompt {read:6.2f} s; freed {free:6.2f} s after close",
                  flush=True)
    summary = {"threads": settings.threads, "stop_after_s": args.stop_after, "runs": args.runs}
    for batch in batches:
        summary[f"batch_{batch}_read_s"] = round(statistics.median(rows[batch]["read"]), 2)
        summary[f"batch_{batch}_free_s"] = round(statistics.median(rows[batch]["free"]), 2)
    first, last = batches[0], batches[-1]
    summary["read_ratio"] = round(summary[f"batch_{first}_read_s"] / summary[f"batch_{last}_read_s"], 2)
    summary["free_ratio"] = round(summary[f"batch_{first}_free_s"] / summary[f"batch_{last}_free_s"], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
