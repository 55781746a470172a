"""Evaluation corpora into a library, through the real ingest pipeline.

A corpus is a JSONL file of {id, title, text} (other fields ignored, but a ``year`` is kept), or a folder or file of
speeches as a user has them. Each JSONL document becomes a text file with a sidecar that sets its id, title and
year, so every corpus goes through exactly the reading, chunking and embedding that speeches go through. Several
corpora make one library (``ingest_library``). It lives in ``workdir``; embeddings are cached under the configured
data dir, so a second run over the same corpora embeds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    return ingest_library([corpus], settings, workdir, progress=progress)


def ingest_library(corpora: Sequence[Path], settings: Settings, workdir: Path, *,
                   progress: bool = True) -> SpeechStore:
    """One library of every corpus given: JSONL files (as documents with sidecars) and speech folders or files."""
    sources = []
    for index, corpus in enumerate(map(Path, corpora)):
        if corpus.suffix != ".jsonl":
            if not corpus.exists():
                raise ValueError(f"{corpus}: no such file or folder")
            sources.append(corpus)
            continue
        folder = workdir / f"docs-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        for number, doc in enumerate(read_jsonl(corpus, ("id", "title", "text"))):
            (folder / f"{number:06d}.txt").write_text(doc["text"], encoding="utf-8")
            sidecar = {"id": str(doc["id"]), "title": doc["title"] or str(doc["id"])}
            if isinstance(doc.get("year"), int):
                sidecar["year"] = doc["year"]
            (folder / f"{number:06d}.meta.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
        sources.append(folder)
    local = settings.model_copy(update={"data_dir": workdir / "data", "chroma_url": None})
    store = open_store(local, cached_embeddings(settings))
    report = Ingestor(store, local, progress=progress).run(sources)
    if report.failed:
        named = ", ".join(map(str, corpora))
        raise ValueError(f"{named}: {len(report.failed)} documents could not be ingested: {report.failed[:3]}")
    return store
