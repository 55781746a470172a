"""Evaluation corpora (JSONL of {id, title, text}) into a library, through the real ingest pipeline.

Each document becomes a text file with a sidecar that sets its id and title, so the corpus goes through exactly the
reading, chunking and embedding that speeches go through. The library lives in ``workdir``; embeddings are cached
under the configured data dir, so a second run over the same corpus embeds nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingest.embeddings import cached_embeddings
from ingest.pipeline import Ingestor
from ingest.store import SpeechStore, open_store
from settings import Settings


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            missing = [key for key in required if key not in row]
            if not isinstance(row, dict) or missing:
                raise ValueError(f"{path}:{number}: missing field(s) {', '.join(missing) or 'all'}")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no records")
    return rows


def ingest_corpus(corpus: Path, settings: Settings, workdir: Path, *, progress: bool = True) -> SpeechStore:
    folder = workdir / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    for number, doc in enumerate(read_jsonl(corpus, ("id", "title", "text"))):
        (folder / f"{number:06d}.txt").write_text(doc["text"], encoding="utf-8")
        sidecar = {"id": str(doc["id"]), "title": doc["title"] or str(doc["id"])}
        (folder / f"{number:06d}.meta.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
    local = settings.model_copy(update={"data_dir": workdir / "data", "chroma_url": None})
    store = open_store(local, cached_embeddings(settings))
    report = Ingestor(store, local, progress=progress).run([folder])
    if report.failed:
        raise ValueError(f"{corpus}: {len(report.failed)} documents could not be ingested: {report.failed[:3]}")
    return store
