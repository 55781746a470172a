"""Limits: how long a normal question waits while the largest request the limits allow is being answered.

    python bench/limits.py [--llm extractive] [--rounds 20] [--root DIR]

It starts ``python app.py`` (``--root``: another checkout's, e.g. /work/main, to compare; default this one) with a
temporary data dir (the sample speeches, the real embedder), then:

1. *alone*: ``--rounds`` normal questions one after another (``POST /api/ask``);
2. *beside the largest request*: ``--rounds`` times, a thread sends the largest request the default limits accept (a
   follow-up question of SPEECHES_MAX_QUESTION_CHARS characters with SPEECHES_MAX_HISTORY_TURNS messages of history,
   SPEECHES_MAX_HISTORY_CHARS characters in all, varied CJK text) and, 50 ms later, a normal question is sent; its
   latency is taken. Retrieval is one request at a time (issue 12 will lift that), so this is the worst case;
3. a body of 60 MB declared in ``Content-Length``: the time to its 413.

Printed: p50/p95 of the normal question alone and beside the largest request, their ratio (p50 beside / p50
alone, measured in this one run), the largest request's own p50, and the 413's time. The last line is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from appserver import ROOT, start_app

NORMAL = ["今年全市经济增长的预期目标是多少？", "生态环境保护要坚持什么？", "今年全县要办好哪些民生实事？",
          "如何优化营商环境？", "干部作风建设有什么要求？"]


def largest_request(rng: random.Random) -> dict:
    """A follow-up of 2,000 characters with 20 messages of 1,200 characters: the defaults' largest."""
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    text = lambda n: "".join(rng.choices(alphabet, k=n))  # noqa: E731
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": text(1200)} for i in range(20)]
    return {"question": "那" + text(1998) + "呢", "history": history}


def timed_ask(client: httpx.Client, url: str, body: dict) -> float:
    start = time.perf_counter()
    response = client.post(url + "/api/ask", json=body, timeout=600)
    if response.status_code != 200:
        sys.exit(f"/api/ask answered {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - start


def refusal_seconds(url: str) -> tuple[int | None, float]:
    """(status, seconds) of a POST declaring 60 MB and sending none of it; None if no answer within 30 s."""
    host, port = url.removeprefix("http://").split(":")
    start = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"POST /api/ask HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {60 * 1024 * 1024}\r\n\r\n".encode())
        try:
            status = int(conn.recv(65536).split()[1])
        except TimeoutError:
            status = None
    return status, time.perf_counter() - start


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="extractive", choices=["extractive", "local", "openai"])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py runs (default: this one)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    process, url = start_app(home / "data", args.llm, home / "app.log", root=args.root.resolve())
    rng = random.Random(12)
    try:
        with httpx.Client() as client:
            for question in NORMAL:  # warm: the models, the keyword index (queries are never cached)
                timed_ask(client, url, {"question": question})
            alone = [timed_ask(client, url, {"question": NORMAL[i % len(NORMAL)]}) for i in range(args.rounds)]
            beside, largest = [], []
            for i in range(args.rounds):
                big = largest_request(rng)
                thread = threading.Thread(target=lambda b=big: largest.append(timed_ask(httpx.Client(), url, b)))
                thread.start()
                time.sleep(0.05)
                beside.append(timed_ask(client, url, {"question": NORMAL[i % len(NORMAL)]}))
                thread.join()
        status, refused = refusal_seconds(url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)

    figures = {
        "root": str(args.root.resolve()), "llm": args.llm, "rounds": args.rounds,
        "normal_alone_p50_s": round(statistics.median(alone), 3), "normal_alone_p95_s": round(p(alone, 0.95), 3),
        "normal_beside_largest_p50_s": round(statistics.median(beside), 3),
        "normal_beside_largest_p95_s": round(p(beside, 0.95), 3),
        "ratio_p50": round(statistics.median(beside) / statistics.median(alone), 2),
        "largest_request_p50_s": round(statistics.median(largest), 3),
        "body_60mb_status": status, "body_60mb_refused_s": round(refused, 4),
    }
    print(f"normal question alone:            p50 {figures['normal_alone_p50_s']:.3f} s  "
          f"p95 {figures['normal_alone_p95_s']:.3f} s")
    print(f"beside the largest request:       p50 {figures['normal_beside_largest_p50_s']:.3f} s  "
          f"p95 {figures['normal_beside_largest_p95_s']:.3f} s  (ratio {figures['ratio_p50']:.2f})")
    print(f"the largest request itself:       p50 {figures['largest_request_p50_s']:.3f} s")
    print(f"a 60 MB body:                     {status or 'no answer'} in {refused * 1000:.1f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
