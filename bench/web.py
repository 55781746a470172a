"""The web app as a user meets it, timed in a real browser (Debian's chromium through Playwright).

    python bench/web.py [--modes extractive,local] [--runs 3] [--data-dir DIR] [--keep-data]

For each answer mode (``SPEECHES_LLM``) it starts ``python app.py`` on a free port (first run: the sample speeches
are added; the local model file is assembled under DIR/models once), then, for the Gradio UI (``/``) and for the
embed page (``/embed``), ``--runs`` times in a fresh browser context:

- load -> interactive: from navigation start to the question box being visible and usable (the Gradio frontend
  fetches its config and renders first; the embed page is our own small page), and the ``load`` event;
- one question: from the Enter key to the evidence on screen (the quotes with their citation chips, which come
  before any LLM runs), to the first answer text (first token: the evidence's first words) and to the finished
  answer. The first question of a mode is "cold" (the local model loads on first use);
- the JSON API's stream (``/api/ask/stream``): from sending the request to its evidence line, ``--runs`` times per
  question (httpx, no browser).

Times are taken inside the page (``performance.now()``), not around Playwright calls. A table is printed; the last
line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from appserver import start_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Questions on the sample speeches, a different one for every page and run: a repeated prompt would be served from
# the local model's prompt cache and measure nothing.
QUESTIONS = ["今年全市经济增长的预期目标是多少？", "对破坏生态环境的行为要怎么办？", "今年全县要办好哪些民生实事？",
             "去年全市地区生产总值增长了多少？", "县里要抓好哪“三个一批”？", "全市要怎样扩大内需？"]
PAGES = {
    "ui": {"path": "/", "box": "#question textarea", "answer": "#chatbot .answer", "chip": "#chatbot a.cite-chip"},
    "embed": {"path": "/embed", "box": "#question", "answer": ".msg.bot .answer", "chip": ".msg.bot .chip"},
}
WATCH = """([answerSelector, chipSelector]) => {
  window.__t = {};
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !window.__t.enter) window.__t.enter = performance.now();
  }, true);
  new MutationObserver(() => {
    const answer = [...document.querySelectorAll(answerSelector)].pop();
    if (!answer || !window.__t.enter) return;
    const chars = answer.textContent.replace('▍', '').trim().length;
    if (chars && !window.__t.first) window.__t.first = performance.now();
    if (document.querySelector(chipSelector) && !window.__t.evidence) window.__t.evidence = performance.now();
    if (chars && !answer.classList.contains('streaming') && !window.__t.done) window.__t.done = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
INTERACTIVE = """(box) => {
  const el = document.querySelector(box);
  return el && !el.disabled && el.offsetParent !== null ? performance.now() : false;
}"""


def measure(browser, url: str, page_kind: str, question: str, timeout_s: float) -> dict:
    spec = PAGES[page_kind]
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    try:
        page.goto(url + spec["path"], wait_until="commit")
        interactive = page.wait_for_function(INTERACTIVE, arg=spec["box"], polling="raf",
                                             timeout=60_000).json_value()
        page.wait_for_load_state("load")
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        page.evaluate(WATCH, [spec["answer"], spec["chip"]])
        page.fill(spec["box"], question)
        page.press(spec["box"], "Enter")
        page.wait_for_function("() => window.__t.done", timeout=timeout_s * 1000)
        t = page.evaluate("window.__t")
        answer = page.locator(spec["answer"]).last.inner_text()
        return {"page": page_kind, "interactive_ms": round(interactive), "load_event_ms": round(load),
                "evidence_ms": round(t["evidence"] - t["enter"]) if t.get("evidence") else None,
                "first_token_ms": round(t["first"] - t["enter"]), "answer_ms": round(t["done"] - t["enter"]),
                "chips": page.locator(spec["chip"]).count(), "answer": " ".join(answer.split())[:80]}
    finally:
        context.close()


def api_evidence_ms(url: str, question: str) -> float:
    """Milliseconds from sending a question to ``/api/ask/stream`` to its evidence line."""
    import time

    import httpx

    start = time.perf_counter()
    with httpx.Client(timeout=300) as client, client.stream("POST", url + "/api/ask/stream",
                                                            json={"question": question}) as response:
        for line in response.iter_lines():
            if line.startswith('{"evidence"'):
                return round((time.perf_counter() - start) * 1000, 1)
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="extractive,local", help="comma-separated SPEECHES_LLM values")
    parser.add_argument("--runs", type=int, default=3, help="questions per page and mode")
    parser.add_argument("--data-dir", type=Path, help="library + model folder to use (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed for one answer")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-web-"))
    data_dir = args.data_dir.resolve() if args.data_dir else home / "data"
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for mode in args.modes.split(","):
                process, url = start_app(data_dir, mode, data_dir.parent / f"app-{mode}.log")
                try:
                    api = [api_evidence_ms(url, q) for _ in range(args.runs) for q in QUESTIONS]
                    results.append({"mode": mode, "page": "api", "evidence_ms": statistics.median(api)})
                    print(f"{mode:<10} api   evidence line p50 {statistics.median(api)} ms over {len(api)}", flush=True)
                    for n in range(args.runs):
                        for k, kind in enumerate(PAGES):
                            question = QUESTIONS[(n * len(PAGES) + k) % len(QUESTIONS)]
                            row = measure(browser, url, kind, question, args.timeout)
                            row.update(mode=mode, run=n + 1)
                            results.append(row)
                            print(f"{mode:<10} {kind:<5} run {n + 1}: evidence {row['evidence_ms']} ms  "
                                  f"interactive {row['interactive_ms']:>5} ms  "
                                  f"load {row['load_event_ms']:>5} ms  first token {row['first_token_ms']:>6} ms  "
                                  f"answer {row['answer_ms']:>6} ms  chips {row['chips']}  {row['answer'][:40]}",
                                  flush=True)
                finally:
                    process.terminate()
                    process.wait(30)
            browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    summary = {}
    for mode in args.modes.split(","):
        cold = next(r for r in results if r["mode"] == mode and r["page"] != "api")  # loads the model
        summary[f"{mode}/api"] = {"evidence_ms_median": next(r["evidence_ms"] for r in results
                                                             if r["mode"] == mode and r["page"] == "api")}
        summary[f"{mode}/cold"] = {"page": cold["page"], "first_token_ms": cold["first_token_ms"],
                                   "answer_ms": cold["answer_ms"]}
        for kind in PAGES:
            rows = [r for r in results if r["mode"] == mode and r["page"] == kind]
            warm = [r for r in rows if r is not cold] or rows
            summary[f"{mode}/{kind}"] = {
                "interactive_ms_median": statistics.median(r["interactive_ms"] for r in rows),
                "load_event_ms_median": statistics.median(r["load_event_ms"] for r in rows),
                "evidence_ms_median": statistics.median(r["evidence_ms"] or 0 for r in warm),
                "first_token_ms_median": statistics.median(r["first_token_ms"] for r in warm),
                "answer_ms_median": statistics.median(r["answer_ms"] for r in warm),
            }
    print("\nmode/page           interactive   load event   evidence   first token   answer   (warm medians)")
    for key, row in summary.items():
        if key.endswith("/api"):
            print(f"{key:<20} evidence line {row['evidence_ms_median']} ms")
        elif key.endswith("/cold"):
            print(f"{key:<20} first question ({row['page']}): first token {row['first_token_ms']} ms, "
                  f"answer {row['answer_ms']} ms")
        else:
            print(f"{key:<20} {row['interactive_ms_median']:>8} ms {row['load_event_ms_median']:>9} ms "
                  f"{row['evidence_ms_median']:>7} ms {row['first_token_ms_median']:>10} ms "
                  f"{row['answer_ms_median']:>8} ms")
    print(json.dumps({"summary": summary, "runs": results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
