"""The speeches assistant's entry point.

    python app.py                                   serve the web app (on first run, add the sample speeches)
    python app.py ask "问题" [--speech ID ...] [--years 2020-2023] [--json]
    python app.py compare ID_A ID_B "主题" [--json]

``ask`` and ``compare`` call the same functions as the web app and the HTTP API (answer/service.py) and print the
answer with its citations, or one JSON object with ``--json`` (schema in README.md). Exit status: 0 answered (also
when the speeches do not address the question: see ``found``), 1 the LLM could not be used, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from settings import Settings, check_data_dir, quiet_network_clients

SAMPLES = Path(__file__).resolve().parent / "samples"


def ensure_library(settings: Settings):
    """Open the library; an empty one gets the sample speeches, so a first run shows something."""
    from ingest.pipeline import Ingestor
    from ingest.store import open_store

    store = open_store(settings)
    if not store.list_speeches():
        print("The library is empty: adding the sample speeches from samples/ ...", file=sys.stderr)
        report = Ingestor(store, settings).run([SAMPLES])
        print(report.summary(), file=sys.stderr)
    return store


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


def run_stream(stream, as_json: bool):
    from answer.events import Reply, follow

    reply, shown = Reply(), 0
    for reply in follow(stream):
        if not as_json and len(reply.text) > shown:
            print(reply.text[shown:], end="", flush=True)
            shown = len(reply.text)
    if shown:
        print()
    print_result(reply.result, as_json, streamed=shown > 0)


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
    args = parser.parse_args(argv)

    from ingest.store import StoreError, UnknownSpeechError

    try:
        settings = Settings()
        check_data_dir(settings)
        store = ensure_library(settings)
        if args.command is None:
            from web.server import serve

            serve(settings)
            return 0
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
