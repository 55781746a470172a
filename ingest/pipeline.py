"""Files in, passages in the store: the ingest run behind ``python -m ingest`` (and later the app's upload)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ingest.chunking import split_passages
from ingest.metadata import is_speech_file, load_speech, sidecar_path
from ingest.readers import ReadLimits, SpeechFileError
from ingest.speech import Speech
from ingest.store import SpeechStore, StoredSpeech, passage_version
from settings import Settings

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def summary(self) -> str:
        counts = (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"failed {len(self.failed)}"
        )
        extras = [f"{name} {len(ids)}" for name, ids in
                  (("reindexed", self.reindexed), ("pruned", self.pruned), ("repaired", self.repaired)) if ids]
        lines = [counts + (", " + ", ".join(extras) if extras else "")]
        lines += [f"FAILED {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def find_speech_files(paths: Iterable[Path], report: IngestReport) -> list[Path]:
    """Every speech file under ``paths`` (folders recursively), in a stable order; missing paths go to failed."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and is_speech_file(child):
                    found[child.resolve()] = None
        elif path.is_file():
            found[path.resolve()] = None  # named explicitly: an unsupported type is reported, not skipped
        else:
            report.failed.append((str(path), "no such file or directory"))
    return list(found)


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    sidecar = sidecar_path(path)
    if sidecar is not None:
        digest.update(b"\0sidecar\0" + sidecar.read_bytes())
    return digest.hexdigest()


class Ingestor:
    """Brings the store up to date with a set of files; every public method is safe to interrupt."""

    def __init__(self, store: SpeechStore, settings: Settings, *, progress: bool = True) -> None:
        self.store = store
        self.settings = settings
        self.chunking = f"{settings.chunk_size}/{settings.chunk_overlap}"
        self.limits = ReadLimits.from_settings(settings)
        self.progress = progress

    def run(self, paths: Iterable[Path], *, prune: bool = False) -> IngestReport:
        report = IngestReport(repaired=self.store.repair())
        files = find_speech_files(paths, report)
        stored = {s.id: s for s in self.store.list_speeches()}
        by_source = {s.source: s for s in stored.values()}
        taken = set(stored)
        with tqdm(total=len(files), unit="file", disable=not self.progress, desc="files") as bar:
            for path in files:
                bar.set_postfix_str(path.name[-30:])
                self._ingest_file(path, by_source.get(str(path)), taken, report)
                bar.update(1)
        for speech in self.store.needing_reindex():
            previous = stored.get(speech.id)
            self._put(speech, file_sha256=previous.file_sha256 if previous else "")
            report.reindexed.append(speech.id)
        if prune:
            for speech in self.store.list_speeches():
                if not Path(speech.source).exists():
                    self.store.delete_speech(speech.id)
                    report.pruned.append(speech.id)
        return report

    def _ingest_file(self, path: Path, previous: StoredSpeech | None, taken: set[str], report: IngestReport) -> None:
        try:
            fingerprint = file_fingerprint(path)
            if previous and previous.file_sha256 == fingerprint and previous.chunking == self.chunking:
                report.unchanged.append(previous.id)
                return
            if previous:
                taken.discard(previous.id)  # a changed file keeps its id
            speech = load_speech(path, taken, self.limits)
        except SpeechFileError as exc:
            report.failed.append((str(path), exc.reason))
            return
        except OSError as exc:
            report.failed.append((str(path), f"cannot read the file: {exc.strerror or exc}"))
            return
        if previous and previous.id != speech.id:  # the sidecar renamed it: the old id must go
            self.store.delete_speech(previous.id)
        self._put(speech, file_sha256=fingerprint)
        (report.updated if previous else report.added).append(speech.id)

    def _put(self, speech: Speech, *, file_sha256: str) -> None:
        passages = split_passages(
            speech.id, speech.text, size=self.settings.chunk_size, overlap=self.settings.chunk_overlap
        )
        version = passage_version(speech, self.chunking, self.store.backend)
        with tqdm(total=len(passages), unit="passage", disable=not self.progress, leave=False,
                  desc=speech.id[:20]) as bar:
            self.store.put_speech(
                speech, passages, version=version, chunking=self.chunking, file_sha256=file_sha256,
                progress=bar.update,
            )
