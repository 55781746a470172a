"""Load: concurrent simulated users against the running app, over HTTP on loopback.

    python bench/load.py [--llm extractive|local|openai] [--users 20] [--seconds 60] [--grace 30] [--data-dir DIR]
    python bench/load.py --heavy 10 [--short-runs 30]

``--heavy N`` measures instead whether heavy questions stall the others: the median latency of a short question
(``POST /api/ask``, one after another, ``--short-runs`` of them) alone, then while N users ask 2,000-character
questions (a seed speech's text, pasted, and a question) without pause; the ratio of the two is the figure
(target: at most 2). Both medians come from the same run of the same app.

It starts ``python app.py`` itself (``SPEECHES_PORT`` = a free port, ``SPEECHES_DATA_DIR`` = DIR or a temporary
folder; an empty library gets the sample speeches on the first run; ``SPEECHES_MODEL_DIR`` and the other
``SPEECHES_*`` variables of the environment are passed on), waits until ``GET /api/speeches`` answers, then runs
``--users`` simulated users for ``--seconds``: half of them ask through the JSON API (``POST /api/ask/stream``: the
answer of ``/api/ask``, streamed, with its queue positions), the other half through the Gradio queue with
gradio_client (``Client.submit`` on the chat endpoint, ``/ask``), each asking one question after another from a
fixed list (no think time). A user starts no new question after ``--seconds``; questions still running ``--grace``
seconds later are counted as *in flight* (neither completed nor errors) and abandoned.

Reported, per channel and in total: questions completed, errors (an HTTP error status, a Gradio error, or an answer
that is an error message; target 0), p50/p95 latency (send to full answer), queue wait and the largest queue
position a user was shown. Queue wait is, on the API, the time to the first line that is not a ``{"queue"}`` line
(the wait for the LLM plus reading the prompt); on Gradio, submit to the job leaving Gradio's own queue (from the
job's status; the wait for the LLM after that shows in the chat bubble, not in the job status). Then the
app process's peak resident memory (``VmHWM`` from /proc, which the kernel keeps for the whole process life).
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from appserver import start_app

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["今年全市经济增长的预期目标是多少？", "生态环境保护要坚持什么？", "今年全县要办好哪些民生实事？",
             "去年全市地区生产总值增长了多少？", "县里要抓好哪“三个一批”？", "全市要怎样扩大内需？",
             "如何优化营商环境？", "干部作风建设有什么要求？", "乡村振兴要做哪些工作？", "怎样保障和改善民生？"]
ERROR_MARKS = ("回答服务暂时不可用", "资料库暂时无法使用", "出了点问题", "输入有误")


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM), in MiB; None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[dict] = []

    def add(self, **row) -> None:
        with self.lock:
            self.rows.append(row)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3)


def questions(n: int, stop_at: float):
    """User ``n``'s questions, one after another from its own place in the list, until ``stop_at``."""
    k = n
    while time.monotonic() < stop_at:
        yield QUESTIONS[k % len(QUESTIONS)]
        k += 1


def api_user(n: int, url: str, stop_at: float, give_up_at: float, tally: Tally) -> None:
    """Asks through ``POST /api/ask/stream`` (the embed page's way): the same answer as ``/api/ask``, plus its
    ``{"queue": ...}`` lines while it waits for the LLM, so the wait and the positions shown can be measured."""
    with httpx.Client(timeout=None) as client:
        for question in questions(n, stop_at):
            start = time.monotonic()
            first = None
            max_rank = None
            body = None
            try:
                with client.stream("POST", url + "/api/ask/stream", json={"question": question},
                                   timeout=httpx.Timeout(max(1.0, give_up_at - start), connect=10)) as response:
                    if response.status_code != 200:
                        response.read()
                        tally.add(channel="api", outcome="error", question=question,
                                  detail=f"HTTP {response.status_code}: {response.text[:200]}")
                        continue
                    for line in response.iter_lines():
                        if not line.strip():
                            continue
                        item = json.loads(line)
                        if "queue" in item:
                            max_rank = max(max_rank or 0, item["queue"]["position"])
                            continue
                        if first is None:
                            first = time.monotonic()
                        if "answer" in item or "error" in item:
                            body = item
                        if time.monotonic() > give_up_at:
                            raise httpx.ReadTimeout("grace period over")
            except httpx.TimeoutException:
                tally.add(channel="api", outcome="in_flight", question=question, max_queue_position=max_rank)
                return
            except httpx.HTTPError as error:
                tally.add(channel="api", outcome="error", question=question, detail=f"{type(error).__name__}: {error}")
                continue
            end = time.monotonic()
            row = dict(channel="api", question=question, latency=end - start, queue_wait=(first or end) - start,
                       max_queue_position=max_rank)
            if body is None or "error" in body:
                tally.add(outcome="error", detail=(body or {}).get("error", "the stream ended without an answer")[:200],
                          **row)
            else:
                tally.add(outcome="ok", found=body["answer"].get("found"), backend=body["answer"].get("backend"),
                          **row)


def gradio_user(n: int, client, api_name: str, stop_at: float, give_up_at: float, tally: Tally) -> None:
    from gradio_client.utils import Status

    for question in questions(n, stop_at):
        start = time.monotonic()
        started = None
        max_rank = None
        try:
            job = client.submit(question, [], [], None, None, api_name=api_name)
            while not job.done():
                status = job.status()
                if status.code == Status.IN_QUEUE and status.rank is not None:
                    max_rank = max(max_rank or 0, status.rank + 1)
                if started is None and status.code in (Status.PROCESSING, Status.ITERATING, Status.PROGRESS,
                                                       Status.FINISHED):
                    started = time.monotonic()
                if time.monotonic() > give_up_at:
                    # abandoned, not failed; cancelling waits for the app to stop the job: not on our clock
                    threading.Thread(target=_quietly, args=(job.cancel,), daemon=True).start()
                    tally.add(channel="gradio", outcome="in_flight", question=question, max_queue_position=max_rank)
                    return
                time.sleep(0.1)
            outputs = job.outputs()
            result = job.result()
        except Exception as error:  # noqa: BLE001 - every failure is an error figure
            tally.add(channel="gradio", outcome="error", question=question,
                      detail=f"{type(error).__name__}: {str(error)[:200]}")
            continue
        end = time.monotonic()
        messages = result[0] if isinstance(result, (list, tuple)) else result
        text = json.dumps(messages, ensure_ascii=False)
        error = next((m for m in ERROR_MARKS if m in text), None)
        row = dict(channel="gradio", question=question, latency=end - start,
                   queue_wait=(started or end) - start, max_queue_position=max_rank, updates=len(outputs))
        if error:
            tally.add(outcome="error", detail=f"answer is an error message ({error})", **row)
        else:
            tally.add(outcome="ok", **row)


def _quietly(call) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 - the bench is done with this job
        pass


def find_chat_endpoint(client) -> str:
    api = client.view_api(print_info=False, return_format="dict")
    names = list(api.get("named_endpoints", {}))
    for name in ("/ask", *names):
        if name in names and name.startswith("/ask"):
            return name
    raise SystemExit(f"no chat endpoint among the Gradio API's endpoints {names}")


def summarise(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["outcome"] == "ok"]
    latencies = [r["latency"] for r in ok]
    waits = [r["queue_wait"] for r in ok if "queue_wait" in r]
    ranks = [r["max_queue_position"] for r in rows if r.get("max_queue_position")]
    out = {"completed": len(ok), "errors": sum(r["outcome"] == "error" for r in rows),
           "in_flight": sum(r["outcome"] == "in_flight" for r in rows),
           "found": sum(bool(r.get("found")) for r in ok if "found" in r) if any("found" in r for r in ok) else None,
           "latency_p50_s": percentile(latencies, 50), "latency_p95_s": percentile(latencies, 95),
           "latency_max_s": round(max(latencies), 3) if latencies else None}
    if waits:
        out.update(queue_wait_p50_s=percentile(waits, 50), queue_wait_p95_s=percentile(waits, 95),
                   max_queue_position_shown=max(ranks) if ranks else None)
    return {k: v for k, v in out.items() if v is not None or k.startswith(("latency", "queue"))}


SEED = ROOT.parent / "shared" / "speeches" / "seed" / "002_d5a8c33760b2f744.txt"
SHORT = "今年全市经济增长的预期目标是多少？"


def heavy_question(n: int) -> str:
    """2,000 characters: a stretch of a seed speech (a different one for each user) and a question about it."""
    text = "".join(SEED.read_text(encoding="utf-8").split())
    start = (n * 397) % max(1, len(text) - 1990)
    return text[start:start + 1985] + "这段话讲的是什么？"


def short_latencies(url: str, runs: int) -> list[float]:
    out = []
    with httpx.Client(timeout=300) as client:
        for _ in range(runs):
            started = time.monotonic()
            response = client.post(url + "/api/ask", json={"question": SHORT})
            response.raise_for_status()
            out.append(time.monotonic() - started)
    return out


def heavy_run(url: str, users: int, runs: int) -> dict:
    """The ``--heavy`` figure (module doc)."""
    alone = short_latencies(url, runs)
    stop = threading.Event()
    heavy: list[float] = []
    errors: list[str] = []

    def user(n: int) -> None:
        question = heavy_question(n)
        with httpx.Client(timeout=600) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    response = client.post(url + "/api/ask", json={"question": question})
                except httpx.HTTPError as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    continue
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:100]}")
                else:
                    heavy.append(time.monotonic() - started)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    time.sleep(3)  # every heavy user has a question in flight
    loaded = short_latencies(url, runs)
    stop.set()
    for t in threads:
        t.join()
    return {"heavy_users": users, "short_runs": runs,
            "short_alone_p50_s": round(statistics.median(alone), 3),
            "short_loaded_p50_s": round(statistics.median(loaded), 3),
            "short_loaded_p95_s": percentile(loaded, 95),
            "ratio_p50": round(statistics.median(loaded) / statistics.median(alone), 2),
            "heavy_answered": len(heavy), "heavy_p50_s": percentile(heavy, 50), "errors": len(errors),
            "error_samples": errors[:3]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="extractive", choices=["extractive", "local", "openai"])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60, help="how long users start new questions")
    parser.add_argument("--grace", type=float, default=30, help="seconds after that for questions to finish")
    parser.add_argument("--gradio-users", type=int, help="how many users go through the Gradio queue "
                        "(default: half)")
    parser.add_argument("--data-dir", type=Path, help="the app's data dir (default: a temporary one)")
    parser.add_argument("--heavy", type=int, metavar="N", help="measure a short question alone and beside N users "
                        "asking 2,000-character questions (module doc)")
    parser.add_argument("--short-runs", type=int, default=30)
    args = parser.parse_args()
    if args.heavy:
        return heavy_main(args)

    from gradio_client import Client

    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    data_dir = args.data_dir.resolve() if args.data_dir else home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = home / f"app-{args.llm}.log"
    process, url = start_app(data_dir, args.llm, log_path)
    try:
        gradio_users = args.users // 2 if args.gradio_users is None else args.gradio_users
        # gradio_client's own default is a 5 s timeout on its HTTP calls; a browser waits longer than that
        clients = [Client(url + "/", verbose=False, httpx_kwargs={"timeout": httpx.Timeout(120, connect=30)})
                   for _ in range(gradio_users)]
        api_name = find_chat_endpoint(clients[0]) if clients else None
        if args.llm != "extractive":  # load the model once before the clock starts (a cold start is bench/web.py's)
            httpx.post(url + "/api/ask", json={"question": "热身"}, timeout=600)
        tally = Tally()
        start = time.monotonic()
        stop_at = start + args.seconds
        give_up_at = stop_at + args.grace
        threads = [threading.Thread(target=api_user, args=(n, url, stop_at, give_up_at, tally))
                   for n in range(args.users - gradio_users)]
        threads += [threading.Thread(target=gradio_user, args=(n, c, api_name, stop_at, give_up_at, tally))
                    for n, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        alive_after = process.poll() is None
        peak = peak_rss_mib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    rows = tally.rows
    report = {"llm": args.llm, "users": args.users, "api_users": args.users - gradio_users,
              "gradio_users": gradio_users, "seconds": args.seconds, "grace_s": args.grace,
              "wall_s": round(wall, 1), "app_alive_after": alive_after, "app_peak_rss_mib": peak,
              "total": summarise(rows),
              "api": summarise([r for r in rows if r["channel"] == "api"]),
              "gradio": summarise([r for r in rows if r["channel"] == "gradio"]),
              "error_samples": sorted({r["detail"] for r in rows if r["outcome"] == "error"})[:5],
              "error_kinds": dict(Counter(r["detail"][:60] for r in rows if r["outcome"] == "error")),
              "cpus": os.cpu_count()}
    total = report["total"]
    print(f"{args.llm}: {args.users} users for {args.seconds:g} s (+{args.grace:g} s grace) -> "
          f"{total['completed']} answered, {total['errors']} errors, {total['in_flight']} in flight; "
          f"latency p50 {total['latency_p50_s']} s p95 {total['latency_p95_s']} s; "
          f"Gradio queue wait p50 {report['gradio'].get('queue_wait_p50_s')} s "
          f"p95 {report['gradio'].get('queue_wait_p95_s')} s; app peak RSS {peak} MiB", file=sys.stderr)
    if report["error_samples"]:
        print("errors, e.g.: " + " | ".join(report["error_samples"]), file=sys.stderr)
        print(f"the app's log:\n{log_path.read_text(errors='replace')[-6000:]}", file=sys.stderr)
    print(json.dumps(report, ensure_ascii=False))
    if not args.data_dir:
        shutil.rmtree(home, ignore_errors=True)
    return 0


def heavy_main(args) -> int:
    home = Path(tempfile.mkdtemp(prefix="bench-heavy-"))
    data_dir = args.data_dir.resolve() if args.data_dir else home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    process, url = start_app(data_dir, args.llm, home / "app.log")
    try:
        short_latencies(url, 3)  # warm: the keyword index, the embedding model
        report = {"llm": args.llm, **heavy_run(url, args.heavy, args.short_runs), "cpus": os.cpu_count()}
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"a short question: {report['short_alone_p50_s']} s alone, {report['short_loaded_p50_s']} s beside "
          f"{args.heavy} users asking 2,000-character questions (ratio {report['ratio_p50']})", file=sys.stderr)
    print(json.dumps(report, ensure_ascii=False))
    if not args.data_dir:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
