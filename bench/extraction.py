"""Extraction limits: what reading a file costs through ``ingest.readers`` (a child process under ReadLimits) next
to the raw library call on the same file, for real files and for crafted ones.

    python bench/extraction.py [--repeat 3] [--raw-timeout 60]

Files: the real PDF and DOCX of ../shared/hostile, an ordinary 30-page PDF, a 3.7 MB HTML page and a 1.2 M
character DOCX (both over SPEECHES_MAX_SPEECH_CHARS), the issue-11 bomb (10 pages sharing one compressed 5 MB
content stream) and a page drawing one form 5,000 times (all written by tests/security/hostile_files.py into a
temporary folder). For each: our outcome (characters read, or the refusal) and its best-of-``--repeat`` time, and
the raw library's time in a fresh process (pypdf ``extract_text`` of every page; python-docx paragraph texts;
``html.parser`` fed the page), stopped at ``--raw-timeout``. The ratio ours/raw is the child process's price on a
normal file and the bound's gain on a bomb. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "security"))

from hostile_files import form_bomb, long_docx, shared_stream_bomb, text_pdf  # noqa: E402

from ingest.readers import SpeechFileError, read_speech_text  # noqa: E402

HOSTILE = ROOT.parent / "shared" / "hostile"
RAW = {
    ".pdf": "from pypdf import PdfReader\nr = PdfReader(PATH)\nn = sum(len(p.extract_text() or '') for p in r.pages)",
    ".docx": "import docx\nn = sum(len(p.text) for p in docx.Document(PATH).paragraphs)",
    ".html": "from html.parser import HTMLParser\nHTMLParser().feed(open(PATH, encoding='utf-8').read())\nn = 0",
}


def ours(path: Path, repeat: int) -> tuple[str, float]:
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            outcome = f"read {len(read_speech_text(path).text):,} characters"
        except SpeechFileError as error:
            outcome = f"refused: {error.reason}"
        best = min(best, time.perf_counter() - start)
    return outcome, best


def raw(path: Path, timeout: float) -> float | None:
    """The raw library's time in a fresh process (imports excluded), or None past ``timeout``."""
    imports, body = RAW[path.suffix].split("\n", 1)
    code = (f"import time\nPATH = {str(path)!r}\n{imports}\nstart = time.perf_counter()\n"
            f"{body}\nprint(time.perf_counter() - start)")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw-timeout", type=float, default=60.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-extraction-"))
    html = folder / "long-page.html"
    html.write_text("<html><body>" + "<p>同志们，今天召开全市经济工作会议，<b>研究部署</b>明年工作。</p>\n" * 40_000
                    + "</body></html>", encoding="utf-8")
    files = {
        "real_speech_000.pdf (2 pages)": HOSTILE / "real_speech_000.pdf",
        "real_speech_002.docx": HOSTILE / "real_speech_002.docx",
        "ordinary 30-page PDF": text_pdf(folder / "thirty.pdf", pages=30),
        "3.7 MB HTML, 40,000 paragraphs": html,
        "DOCX of 1.2 M characters": long_docx(folder / "long.docx", 1_200_000),
        "issue-11 bomb: 10 pages x one 5 MB stream": shared_stream_bomb(folder / "bomb.pdf"),
        "one page drawing a form 5,000 times": form_bomb(folder / "form.pdf"),
    }
    rows = []
    for name, path in files.items():
        outcome, seconds = ours(path, args.repeat)
        raw_seconds = raw(path, args.raw_timeout)
        rows.append({"file": name, "bytes": path.stat().st_size, "outcome": outcome, "ours_s": round(seconds, 3),
                     "raw_s": None if raw_seconds is None else round(raw_seconds, 3),
                     "ratio": None if raw_seconds is None else round(seconds / max(raw_seconds, 1e-6), 2)})
        raw_text = f"> {args.raw_timeout:g} s" if raw_seconds is None else f"{raw_seconds:.3f} s"
        print(f"{name:45} ours {seconds:7.3f} s   raw {raw_text:>9}   {outcome[:90]}")
    print(json.dumps({"repeat": args.repeat, "raw_timeout_s": args.raw_timeout, "files": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
