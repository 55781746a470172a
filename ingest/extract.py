"""PDF, DOCX and HTML files are read in a child process, so that no file can cost more than its time.

The parsers (pypdf, python-docx/lxml, html.parser) run pure-Python loops whose cost a crafted file controls, and a
thread cannot be stopped, so ``read_in_child`` runs ``python -m ingest.extract`` (a fresh interpreter: the app's
threads and models are not forked) and gives it ``ReadLimits``. The child:

- caps its own memory (``MEMORY_BYTES`` of address space): a file that needs more is refused, the app is not hurt;
- arms a processor-time timer for ``BASE_SECONDS`` while it opens the file, then re-arms it for what the file's
  size allows (``ReadLimits.seconds_for``: per PDF page, per MB of markup; at most SPEECHES_EXTRACT_TIMEOUT).
  Processor time, not wall time: on a busy 2-core box a small file must not fail because others ran. A second,
  wall-clock timer fires at SPEECHES_EXTRACT_TIMEOUT. When either fires, the child prints the refusal and exits
  at once (a Python exception would not do: pypdf catches and logs them and goes on): a bomb is refused in
  seconds, and the upload queue behind it moves on;
- prints one JSON object, ``{"text", "heading"}`` or ``{"error"}``, on stdout.

The parent kills the child SPEECHES_EXTRACT_TIMEOUT + ``GRACE_SECONDS`` after the start whatever it is doing (a
timer cannot interrupt one long C call). Starting the child costs ~0.25 s per file (python + pypdf imports); the
figures are in bench/extraction.py and docs/limits.md.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ingest.readers import BASE_SECONDS, ReadLimits, SpeechFileError, SpeechText, read_isolated

ROOT = Path(__file__).resolve().parents[1]
MEMORY_BYTES = 2 * 1024**3
GRACE_SECONDS = 5.0


def read_in_child(path: Path, limits: ReadLimits) -> SpeechText:
    """The text of a PDF, DOCX or HTML file, read by a child process under ``limits``; SpeechFileError if refused."""
    request = json.dumps({"path": str(Path(path).absolute()), "limits": asdict(limits)})
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, "-m", "ingest.extract"], input=request.encode(), capture_output=True,
                              timeout=limits.timeout + GRACE_SECONDS, env=environ, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise SpeechFileError(path, _too_slow(limits.timeout)) from None
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or ("text" not in reply and "error" not in reply):
        how = f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        raise SpeechFileError(path, f"could not be read: the reader process failed ({how})")
    if "error" in reply:
        raise SpeechFileError(path, reply["error"])
    return SpeechText(reply["text"], reply.get("heading"))


def _too_slow(seconds: float, processor: bool = False) -> str:
    spent = f"more than {seconds:g} s of processor time" if processor else f"longer than {seconds:g} s"
    return f"reading it took {spent}, the limit for a file of its size (SPEECHES_EXTRACT_TIMEOUT)"


def _reply(message: dict) -> None:
    sys.stdout.buffer.write(json.dumps(message, ensure_ascii=False).encode("utf-8", "replace"))
    sys.stdout.flush()


def main() -> None:
    """The child: read the request from stdin, print the reply, exit."""
    request = json.loads(sys.stdin.read())
    limits = ReadLimits(**request["limits"])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    allowed = [BASE_SECONDS]

    def out_of_time(signum, _frame) -> None:
        processor = signum == signal.SIGPROF
        _reply({"error": _too_slow(round(allowed[0], 1) if processor else limits.timeout, processor)})
        os._exit(0)

    def allow(seconds: float) -> None:
        allowed[0] = min(seconds, limits.timeout)
        signal.setitimer(signal.ITIMER_PROF, max(allowed[0] - time.process_time(), 0.001))

    signal.signal(signal.SIGPROF, out_of_time)
    signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, limits.timeout)
    allow(BASE_SECONDS)
    try:
        result = read_isolated(Path(request["path"]), limits, allow)
        reply = {"text": result.text, "heading": result.heading}
    except SpeechFileError as error:
        reply = {"error": error.reason}
    except MemoryError:
        reply = {"error": f"reading it needs more than {MEMORY_BYTES // 1024**3} GB of memory (a decompression bomb?)"}
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    _reply(reply)
    os._exit(0)


if __name__ == "__main__":
    main()
