"""Slow clients against a real app (issue 11): how soon slow-header and slow-body connections are closed, and what
they do to everyone else's requests meanwhile.

    python bench/slow_clients.py [--connections 120] [--header-timeout 10] [--body-timeout 120]

Starts ``python app.py`` (extractive) with those deadlines, measures ``GET /api/speeches`` alone (baseline), then
opens the connections (half send a header byte per second, half a body byte per second, like the attack of the
issue) and measures the same request while they are open. Loopback only; stops when the server has closed every
attack connection, or after twice the body deadline plus a minute. Prints when the connections were closed
(seconds after they opened) and the latency ratio under attack / alone, measured in this one run; the last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parent))  # after the project: bench/ingest.py, bench/study_tools.py
from appserver import start_app  # noqa: E402


def latencies(url: str, count: int) -> list[float]:
    times = []
    with httpx.Client(timeout=60) as client:
        for _ in range(count):
            start = time.perf_counter()
            client.get(f"{url}/api/speeches").raise_for_status()
            times.append(time.perf_counter() - start)
    return times


SLOW_HEADERS = b"GET /api/speeches HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SLOW_BODY = (b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000000\r\n\r\n{\"question\": \"")


def dribble(port: int, heads: dict[str, bytes], per_kind: int, ceiling: float, meanwhile=None) -> dict:
    """Open ``per_kind`` loopback connections for each (kind, request head) and send one more byte a second on each
    until the server closes it, or ``ceiling`` seconds; call ``meanwhile()`` once, a second in. Returns {kind:
    [seconds from open to close]} and "still_open": the count never closed (those are closed here)."""
    selector, opened = selectors.DefaultSelector(), {}
    for kind, head in heads.items():
        for _ in range(per_kind):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(head)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            opened[sock] = (kind, time.monotonic())
    closed: dict = {kind: [] for kind in heads}
    start, next_byte, called = time.monotonic(), time.monotonic() + 1, meanwhile is None
    while opened and time.monotonic() - start < ceiling:
        for key, _ in selector.select(timeout=0.1):
            try:
                data = key.fileobj.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:  # closed by the server (a refusal's response comes first, then the close)
                kind, began = opened.pop(key.fileobj)
                closed[kind].append(time.monotonic() - began)
                selector.unregister(key.fileobj)
                key.fileobj.close()
        if time.monotonic() >= next_byte:
            next_byte += 1
            for sock in opened:
                try:
                    sock.send(b"x")
                except OSError:
                    pass
        if not called and time.monotonic() - start > 1:
            meanwhile()
            called = True
    for sock in opened:
        sock.close()
    return {**closed, "still_open": len(opened)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=120)
    parser.add_argument("--header-timeout", type=float, default=10)
    parser.add_argument("--body-timeout", type=float, default=120)
    args = parser.parse_args()
    os.environ.update(SPEECHES_HEADER_TIMEOUT=str(args.header_timeout), SPEECHES_BODY_TIMEOUT=str(args.body_timeout))
    home = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    process, url = start_app(home / "data", "extractive", home / "app.log")
    try:
        alone, under_attack = latencies(url, 20), []
        closed = dribble(int(url.rsplit(":", 1)[1]), {"headers": SLOW_HEADERS, "body": SLOW_BODY},
                         args.connections // 2, 2 * args.body_timeout + 60,
                         meanwhile=lambda: under_attack.extend(latencies(url, 20)))
    finally:
        process.terminate()
        process.wait(30)
    summary = {
        "connections": args.connections, "header_timeout_s": args.header_timeout, "body_timeout_s": args.body_timeout,
        "headers_closed_after_s": {"min": round(min(closed["headers"]), 2), "max": round(max(closed["headers"]), 2)}
        if closed["headers"] else None,
        "bodies_closed_after_s": {"min": round(min(closed["body"]), 2), "max": round(max(closed["body"]), 2)}
        if closed["body"] else None,
        "still_open": closed["still_open"],
        "request_alone_ms": round(statistics.median(alone) * 1000, 1),
        "request_under_attack_ms": round(statistics.median(under_attack) * 1000, 1),
        "ratio": round(statistics.median(under_attack) / statistics.median(alone), 2),
    }
    print(f"{args.connections} slow connections: headers closed after {summary['headers_closed_after_s']} s, "
          f"bodies after {summary['bodies_closed_after_s']} s, {summary['still_open']} still open; "
          f"GET /api/speeches median {summary['request_alone_ms']} ms alone, {summary['request_under_attack_ms']} ms "
          f"under attack ({summary['ratio']}x)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
