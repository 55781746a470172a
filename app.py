"""The speeches assistant's entry point.

    python app.py                                   serve the web app (on first run, add the sample speeches)
    python app.py ask "问题" [--speech ID ...] [--years 2020-2023] [--json]
    python app.py compare ID_A ID_B "主题" [--json]
    python app.py verify FILE|- [--json]             check a draft's quotes against the speeches (study/quotes.py)
    python app.py topic "主题" [--json]               a topic across the library (study/topic.py)

``ask`` and ``compare`` call the same functions as the web app and the HTTP API (answer/service.py) and print the
answer with its citations, or one JSON object with ``--json`` (schema in README.md). Exit status: 0 answered (also
when the speeches do not address the question: see ``found``), 1 the LLM could not be used, 2 bad input.
``verify`` exits 0 when every quote is verbatim, 1 when some are altered or not found, 2 on bad input (an empty or
undecodable file, a text over SPEECHES_MAX_VERIFY_CHARS); ``topic`` exits 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from settings import Settings, check_data_dir, quiet_network_clients

SAMPLES = Path(__file__).resolve().parent / "samples"


def ensure_library(settings: Settings, may_write: bool = True):
    """Open the library; an empty one gets the sample speeches (unless they were removed once), so a first run
    shows something. ``may_write`` False: this process is not the library's writer (ingest/writer.py)."""
    from ingest.pipeline import BarProgress
    from ingest.store import open_store
    from ingest.writer import LibraryWriter, WriteRequest

    store = open_store(settings)
    if may_write and not store.list_speeches() and store.flag("samples_removed") != "true":
        print("The library is empty: adding the sample speeches from samples/ ...", file=sys.stderr)
        report = LibraryWriter(store, settings).apply(WriteRequest(paths=[str(SAMPLES)]), BarProgress())
        print(report.summary(), file=sys.stderr)
    return store


def _say(text: str) -> None:
    print(f"app.py: {text}", file=sys.stderr, flush=True)


def log_to_stderr() -> None:
    """The app's log: warnings from everything, and what our own packages note (a stopped answer, a hand-off,
    the technical reason behind a message a user saw)."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for package in ("answer", "ingest", "retriever", "web"):
        logging.getLogger(package).setLevel(logging.INFO)


def serve_app(settings: Settings) -> None:
    """Become the library's writer (waiting for a running ``python -m ingest``), then serve."""
    from ingest.writer import APP, claim_library
    from web.server import serve

    log_to_stderr()
    claim = claim_library(settings, APP, say=_say)
    try:
        serve(settings, store=ensure_library(settings), claim=claim)
    finally:
        if claim is not None:
            claim.release()


def open_for_reading(settings: Settings):
    """The library for ``ask``/``compare``: samples are added to an empty one only when no other process is
    writing it."""
    from ingest.writer import INGEST, WriterLock, claim_library

    claim = claim_library(settings, INGEST, say=_say, wait=False)
    try:
        return ensure_library(settings, may_write=bool(settings.chroma_url) or isinstance(claim, WriterLock))
    finally:
        if isinstance(claim, WriterLock):
            claim.release()


def parse_years(text: str | None) -> tuple[int | None, int | None] | None:
    """'2020-2023', '2021' (one year), '2020-' or '-2023'."""
    if not text:
        return None
    low, sep, high = text.partition("-")
    try:
        low_year = int(low) if low.strip() else None
        high_year = (int(high) if high.strip() else None) if sep else low_year
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"years must look like 2020-2023, 2021, 2020- or -2023, not {text!r}") from None
    return low_year, high_year


def print_result(result, as_json: bool, streamed: bool) -> None:
    from ingest.speechtext import speech_label

    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    if not streamed:
        print(result.answer)
    print()
    for c in result.citations:
        print(f"[{c.label}] {speech_label(c.title, c.date)} {c.speech_id} {c.start}-{c.end}\n"
              f"    {' '.join(c.text.split())}")
    for sentence in result.unsupported_sentences:
        print(f"! not supported by its citations: {sentence}")


def run_stream(stream, as_json: bool, out=None):
    """Print an answer stream. In a terminal the text shows as it comes, and is then redrawn as the finished answer
    when that differs (the citation check adds [n] markers the model left out and drops unknown ones); into a pipe
    or file only the finished answer is written."""
    import shutil

    from answer.events import Reply, follow
    from terminal import rows_taken

    out = out or sys.stdout
    live = not as_json and out.isatty()
    reply, shown = Reply(), ""
    for reply in follow(stream):
        if live and reply.text.startswith(shown) and len(reply.text) > len(shown):
            out.write(reply.text[len(shown):])
            out.flush()
            shown = reply.text
    if shown:
        final = reply.result.answer if reply.result is not None else shown
        if final != shown:
            up = rows_taken(shown, shutil.get_terminal_size().columns) - 1
            out.write("\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J" + final)  # redraw: the answer as checked
        out.write("\n")
        out.flush()
    print_result(reply.result, as_json, streamed=bool(shown))


def read_draft(name: str) -> str:
    """The text to check: standard input for "-", else a file as ingest reads it (.txt/.md in UTF-8, UTF-16 or GBK;
    .docx, .pdf, .html). ValueError naming what was wrong."""
    from ingest.readers import SUPPORTED_EXTENSIONS, SpeechFileError, read_speech_text

    if name == "-":
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(f"standard input is not UTF-8 text ({error.reason} at byte {error.start})") from None
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"no such file: {name}")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise ValueError(f"{name}: not a file type the check reads ({' '.join(sorted(SUPPORTED_EXTENSIONS))})")
    try:
        return read_speech_text(path).text
    except SpeechFileError as error:
        raise ValueError(str(error)) from None


def print_check(check, as_json: bool) -> None:
    if as_json:
        print(json.dumps(check.as_json(), ensure_ascii=False, indent=2))
        return
    marks = {"exact": "✓ exact", "altered": "✗ altered", "not_found": "? not found"}
    for n, quote in enumerate(check.sentences, 1):
        print(f"{n}. {marks[quote.status]}: {quote.text}")
        if quote.speech_id:
            where = f"《{quote.title}》" + (f"（{quote.date}）" if quote.date else "")
            print(f"   {where} {quote.speech_id} {quote.start}-{quote.end}")
        if quote.status == "altered":
            shown = "".join(op.source if op.op == "same" else
                            f"〔省略{len(op.source)}字〕" if op.op == "elided" else
                            f"[-{op.source}-]" * bool(op.source) + f"{{+{op.text}+}}" * bool(op.text)
                            + "!" * op.significant for op in quote.diff)
            print(f"   source: {quote.source_text}\n   diff:   {shown}")
        for passage in quote.nearest:
            print(f"   nearest: 《{passage['title']}》 {passage['speech_id']} {passage['start']}-{passage['end']} "
                  f"{' '.join(passage['text'].split())[:60]}")
    counts = check.counts()
    print(f"\n{len(check.sentences)} quotes: {counts['exact']} exact, {counts['altered']} altered, "
          f"{counts['not_found']} not found")


def print_topic(view, as_json: bool) -> None:
    if as_json:
        print(json.dumps(view.as_json(), ensure_ascii=False, indent=2))
        return
    print(f"{view.topic}: {view.addressing} speeches address it" + (f" ({len(view.speeches)} listed)"
                                                                   if len(view.speeches) < view.addressing else ""))
    for year in view.years:
        if year.speeches:
            print(f"  {year.year or 'no year'}: {year.strength:6.1%} of passages, {year.addressing}/{year.speeches} "
                  "speeches")
    for speech in view.speeches:
        print(f"\n{speech.date or '—'} 《{speech.title}》 {speech.speech_id}: {speech.strength:.1%} "
              f"({speech.on_topic}/{speech.passages} passages)")
        for quote in speech.quotes:
            print(f"  [{quote.label}] {quote.start}-{quote.end} {' '.join(quote.text.split())}")


def main(argv: list[str] | None = None) -> int:
    quiet_network_clients()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # prog: app.py, or speeches
    commands = parser.add_subparsers(dest="command")
    ask = commands.add_parser("ask", help="answer a question from the speeches")
    ask.add_argument("question")
    ask.add_argument("--speech", action="append", default=[], metavar="ID", help="search only this speech (repeat)")
    ask.add_argument("--years", type=parse_years, help="search only speeches of these years: 2020-2023")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    compare = commands.add_parser("compare", help="compare what two speeches say about a topic")
    compare.add_argument("speech_a")
    compare.add_argument("speech_b")
    compare.add_argument("topic")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    verify = commands.add_parser("verify", help="check a draft's quotes against the speeches (exit 1: not all "
                                                "verbatim)")
    verify.add_argument("file", help="the draft: a .txt/.md/.docx/.pdf/.html file, or - for standard input")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    topic = commands.add_parser("topic", help="a topic across the library: the speeches on it, in date order")
    topic.add_argument("topic")
    topic.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from ingest.store import StoreError, UnknownSpeechError

    try:
        settings = Settings()
        check_data_dir(settings)
        if args.command is None:
            serve_app(settings)
            return 0
        store = open_for_reading(settings)
        if args.command in ("verify", "topic"):
            from retriever.search import Retriever

            retriever = Retriever(store, settings)
            if args.command == "topic":
                from study.topic import follow_topic

                print_topic(follow_topic(retriever, args.topic), args.json)
                return 0
            from study.quotes import check_quotes

            check = check_quotes(retriever, read_draft(args.file))
            print_check(check, args.json)
            return 0 if check.all_exact else 1
        from answer.llm.errors import LLMUnavailable
        from answer.service import Assistant

        assistant = Assistant(settings, store=store)
        try:
            if args.command == "ask":
                run_stream(assistant.ask_stream(args.question, speech_ids=args.speech, years=args.years), args.json)
            else:
                run_stream(assistant.compare_stream(args.speech_a, args.speech_b, args.topic), args.json)
        except LLMUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    except UnknownSpeechError as error:
        print(f"error: unknown speech id {error.args[0]!r}; list them with: python -m ingest --list", file=sys.stderr)
        return 2
    except (ValueError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
