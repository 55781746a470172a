"""python -m ingest PATH... [--prune] [--reindex] | python -m ingest --list [--json]

Exit status: 0 when every file was stored, 1 when some failed (the others are stored), 2 on a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from settings import Settings, check_data_dir, quiet_network_clients


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Add speeches to the library.")
    parser.add_argument("paths", nargs="*", type=Path, help="speech files or folders (searched recursively)")
    parser.add_argument("--prune", action="store_true", help="remove stored speeches whose files are gone")
    parser.add_argument("--reindex", action="store_true", help="re-chunk and re-embed every stored speech")
    parser.add_argument("--list", action="store_true", help="list the stored speeches and exit")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def print_speeches(speeches, as_json: bool) -> None:
    if as_json:
        print(json.dumps([s.as_dict() for s in speeches], ensure_ascii=False, indent=2))
        return
    print(f"{'id':<28} {'date':<10} {'passages':>8} {'chars':>7}  title")
    for s in speeches:
        print(f"{s.id:<28} {s.date or '-':<10} {s.passages:>8} {s.characters:>7}  {s.title}")
    print(f"{len(speeches)} speeches")


def main(argv: list[str] | None = None) -> int:
    quiet_network_clients()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list and (args.paths or args.prune or args.reindex):
        parser.error("--list takes no paths and no --prune/--reindex")
    if args.json and not args.list:
        parser.error("--json goes with --list")
    if not (args.list or args.paths or args.prune or args.reindex):
        parser.error("give one or more PATHs, or --list, --prune or --reindex")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from ingest.embeddings import EmbeddingConfigError
    from ingest.pipeline import Ingestor
    from ingest.store import SpeechStore, StoreError, connect, open_store

    try:
        settings = Settings()
        check_data_dir(settings)
        if args.reindex:
            SpeechStore.reset_passages(connect(settings))
        store = open_store(settings)
        if args.list:
            print_speeches(store.list_speeches(), args.json)
            return 0
        report = Ingestor(store, settings, progress=not args.quiet).run(args.paths, prune=args.prune)
    except (StoreError, EmbeddingConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
