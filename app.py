"""The speeches assistant's entry point.

Until the chat UI lands, ``python app.py`` makes sure the library is not empty (on first run it ingests the bundled
sample speeches from ``samples/``) and lists what it holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from settings import Settings, quiet_network_clients

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


def main() -> int:
    quiet_network_clients()
    from ingest.__main__ import print_speeches

    store = ensure_library(Settings())
    print_speeches(store.list_speeches(), as_json=False)
    print("\nAdd your own speeches with: python -m ingest PATH...", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
