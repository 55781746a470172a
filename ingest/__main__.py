"""python -m ingest PATH... [--prune] [--reindex] [--remove-samples] [--no-wait] | python -m ingest --list [--json]

Each speech is stored keyword-ready first (answerable at once), then its passages are embedded; the run waits for
the vectors with a progress bar, and also embeds what earlier runs left. ``--no-wait`` returns after the keyword
step: the running app embeds them behind (or, with no app, the app when it starts, or the next run).

Exit status: 0 when every file was stored (a duplicate counts as stored: its speech is there), 1 when some failed
(the others are stored), 2 on a usage or configuration error.

With the app running on the same on-disk library, the work is handed to the app (ingest/writer.py): same output,
same exit status, and the app answers from the new library at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from settings import Settings, check_data_dir, quiet_network_clients
from terminal import display_width, pad

UNREACHABLE_S = 30  # how long an app that holds the library may refuse connections before the CLI gives up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Add speeches to the library.")
    parser.add_argument("paths", nargs="*", type=Path, help="speech files or folders (searched recursively)")
    parser.add_argument("--prune", action="store_true", help="remove stored speeches whose files are gone")
    parser.add_argument("--reindex", action="store_true", help="re-chunk and re-embed every stored speech")
    parser.add_argument("--remove-samples", action="store_true", help="remove the sample speeches (示例)")
    parser.add_argument("--list", action="store_true", help="list the stored speeches and exit")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.add_argument("--no-wait", action="store_true",
                        help="return once the speeches are keyword-ready; their vectors are embedded behind")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def vector_state(speech) -> str:
    """A speech's state as the listings say it: keyword, vectors n/m, complete."""
    from ingest.store import VECTORS

    return f"{VECTORS} {speech.vectors}/{speech.passages}" if speech.state == VECTORS else speech.state


def print_speeches(speeches, as_json: bool) -> None:
    from ingest.store import listing_json

    if as_json:
        print(json.dumps(listing_json(speeches), ensure_ascii=False, indent=2))
        return
    rows = [(s.id, s.date or "-", str(s.passages), str(s.characters), vector_state(s), s.title) for s in speeches]
    heads = ("id", "date", "passages", "chars", "state", "title")
    widths = [max(display_width(r[i]) for r in [heads, *rows]) for i in range(5)]
    for row in [heads, *rows]:
        print(" ".join((pad(cell, widths[i], right=i in (2, 3)) for i, cell in enumerate(row[:5]))) + "  " + row[5])
    waiting = [s for s in speeches if not s.vectors_complete]
    left = sum(s.passages - s.vectors for s in waiting)
    print(f"{len(speeches)} speeches" + (f"; {len(waiting)} waiting for vectors ({left} passages to embed)"
                                          if waiting else ""))


def _say(text: str) -> None:
    print(f"python -m ingest: {text}", file=sys.stderr, flush=True)


def run_write(settings: Settings, request, progress):
    """Do ``request``: handed to the app when one holds the on-disk library, else here (holding its lock)."""
    from ingest.handoff import AppUnreachable, HandOffError, hand_off
    from ingest.store import SpeechStore, connect, open_store
    from ingest.writer import INGEST, Holder, LibraryWriter, claim_library

    unreachable_since = None
    while True:
        claim = claim_library(settings, INGEST, say=_say)
        if isinstance(claim, Holder):
            if unreachable_since is None:
                _say(f"{claim.describe()} holds the library: it does this run")
            try:
                return hand_off(claim, request, settings, progress)
            except AppUnreachable as error:
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > UNREACHABLE_S:
                    raise HandOffError(
                        f"{claim.describe()} holds the library in {settings.data_dir.absolute()} but does not answer "
                        f"({error}); stop it (or wait until it has started) and run this again"
                    ) from error
                time.sleep(0.5)
                continue
        with contextlib.ExitStack() as stack:
            if claim is not None:
                stack.callback(claim.release)
            if request.reindex:  # before opening: the library may have been made with another backend
                SpeechStore.reset_passages(connect(settings))
            writer = LibraryWriter(open_store(settings), settings)
            return writer.apply(replace(request, reindex=False), progress)


def main(argv: list[str] | None = None) -> int:
    quiet_network_clients()
    parser = _parser()
    args = parser.parse_args(argv)
    writes = args.paths or args.prune or args.reindex or args.remove_samples
    if args.list and writes:
        parser.error("--list takes no paths and no --prune/--reindex/--remove-samples")
    if args.json and not args.list:
        parser.error("--json goes with --list")
    if args.no_wait and not writes:
        parser.error("--no-wait goes with a write (PATH, --prune, --reindex, --remove-samples)")
    if not (args.list or writes):
        parser.error("give one or more PATHs, or --list, --prune, --reindex or --remove-samples")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from ingest.embeddings import EmbeddingConfigError
    from ingest.handoff import HandOffError
    from ingest.pipeline import BarProgress, Progress
    from ingest.store import StoreError, open_store
    from ingest.writer import WriteRequest

    try:
        settings = Settings()
        check_data_dir(settings)
        if args.list:
            print_speeches(open_store(settings).list_speeches(), args.json)
            return 0
        request = WriteRequest(paths=[str(p.absolute()) for p in args.paths], prune=args.prune,
                               reindex=args.reindex, remove_samples=args.remove_samples, wait=not args.no_wait)
        report = run_write(settings, request, Progress() if args.quiet else BarProgress())
    except (StoreError, EmbeddingConfigError, HandOffError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
