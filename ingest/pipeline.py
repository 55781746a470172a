"""Files in, passages in the store: the ingest run behind ``python -m ingest``, the app's upload and the app's
hand-off of a CLI run (ingest/writer.py runs it, one write at a time).

A file whose normalised text is that of a stored speech (another file, another format, another name) is not added
again: it is reported as a duplicate of that speech. A changed file under the same path still updates its speech,
and a speech whose file was moved (its old path is gone) follows the file instead of being reported.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from tqdm import tqdm

from ingest.chunking import split_passages
from ingest.metadata import is_speech_file, load_speech, sidecar_path
from ingest.readers import ReadLimits, SpeechFileError
from ingest.speech import Speech
from ingest.store import SpeechStore, StoredSpeech, passage_version, text_sha256
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
    removed_samples: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, the stored speech with its text)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    stopped: bool = False  # the run was stopped before the end (its client went away)
    vectors_left: list[str] = field(default_factory=list)  # speeches keyword-ready, their vectors still to embed

    def summary(self) -> str:
        counts = (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"failed {len(self.failed)}"
        )
        extras = [f"{name} {len(ids)}" for name, ids in
                  (("duplicates", self.duplicates), ("reindexed", self.reindexed), ("pruned", self.pruned),
                   ("repaired", self.repaired), ("samples removed", self.removed_samples)) if ids]
        lines = [counts + (", " + ", ".join(extras) if extras else "")]
        lines += [f"DUPLICATE {path}: the same text as the stored speech {owner}" for path, owner in self.duplicates]
        lines += [f"FAILED {path}: {reason}" for path, reason in self.failed]
        if self.vectors_left:
            n = len(self.vectors_left)
            lines.append(f"{n} {'speech is' if n == 1 else 'speeches are'} answerable by keywords and wait"
                         f"{'s' if n == 1 else ''} for vectors (the app embeds them behind, or the next python -m "
                         "ingest; see --list)")
        if self.stopped:
            lines.append("STOPPED before the end; run it again to finish")
        return "\n".join(lines)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> IngestReport:
        report = cls()
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                setattr(report, f.name, [tuple(v) for v in value] if f.name in ("duplicates", "failed") else value)
        return report


class Progress:
    """What an ingest run tells while it runs, as events: ``files`` (total), ``file`` (name: one begins),
    ``speech`` (id, passages: its embedding begins), ``embedded`` (n more passages), ``vectors`` (done, total,
    speeches: the vector step behind a keyword-first run, passages embedded of those waited for), ``note`` (text),
    ``end``.
    This one shows nothing; ``BarProgress`` draws bars; the app's hand-off sends them to the CLI, which draws them
    with a ``BarProgress`` of its own."""

    def event(self, kind: str, **values) -> None:
        pass


class BarProgress(Progress):
    """tqdm bars on stderr: files, and the passages of the speech being embedded."""

    def __init__(self) -> None:
        self._files: tqdm | None = None
        self._passages: tqdm | None = None
        self._vectors: tqdm | None = None
        self._in_file = False  # a file is being read or embedded: the files bar moves on when it ends

    def event(self, kind: str, **values) -> None:
        if kind == "files":
            self._close()
            self._files = tqdm(total=values["total"], unit="file", desc="files")
        elif kind == "file" and self._files is not None:
            self._file_done()
            self._in_file = True
            self._files.set_postfix_str(str(values.get("name", ""))[-30:])
        elif kind == "speech":
            self._end_passages()
            self._passages = tqdm(total=values["passages"], unit="passage", leave=False, desc=str(values["id"])[:20])
        elif kind == "embedded" and self._passages is not None:
            self._passages.update(values["n"])
        elif kind == "vectors":
            self._close()
            if self._vectors is None:
                self._vectors = tqdm(total=values["total"], unit="passage", desc="vectors")
            self._vectors.total = values["total"]
            self._vectors.set_postfix_str(f"{values.get('speeches', 0)} speeches left")
            self._vectors.update(values["done"] - self._vectors.n)
        elif kind == "note":
            tqdm.write(str(values["text"]))
        elif kind == "end":
            self._close()
            if self._vectors is not None:
                self._vectors.close()
                self._vectors = None

    def _file_done(self) -> None:
        if self._in_file and self._files is not None:
            self._files.update(1)
        self._in_file = False

    def _end_passages(self) -> None:
        if self._passages is not None:
            self._passages.close()
            self._passages = None

    def _close(self) -> None:
        self._end_passages()
        self._file_done()
        if self._files is not None:
            self._files.close()
            self._files = None


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
    """Brings the store up to date with a set of files; every public method is safe to interrupt. Not safe to run
    two at once on one library: ingest/writer.py runs them one at a time."""

    def __init__(self, store: SpeechStore, settings: Settings, *, progress: bool | Progress = True,
                 stop: threading.Event | None = None, embed: bool = True) -> None:
        """``embed`` False: store each speech keyword-ready only and leave its vectors to the vector step
        (``LibraryWriter``'s worker, or its ``embed_pending``); True: embed each speech before the next."""
        self.store = store
        self.embed = embed
        self.settings = settings
        self.chunking = f"{settings.chunk_size}/{settings.chunk_overlap}"
        self.limits = ReadLimits.from_settings(settings)
        self.progress = progress if isinstance(progress, Progress) else BarProgress() if progress else Progress()
        self.stop = stop or threading.Event()

    def run(self, paths: Iterable[Path], *, prune: bool = False) -> IngestReport:
        return self._run([(Path(p), None) for p in paths], prune)

    def run_staged(self, staged: Path, final: Path) -> IngestReport:
        """Ingest the file at ``staged`` as if it were at ``final`` (its id, its source, the speech it updates):
        an upload is checked and stored before it replaces the file it updates (web/uploads.py)."""
        return self._run([(Path(staged), Path(final).resolve())], False)

    def _run(self, named: list[tuple[Path, Path | None]], prune: bool) -> IngestReport:
        report = IngestReport(repaired=self.store.repair())
        staged = {path.resolve(): final for path, final in named if final is not None}
        files = find_speech_files([path for path, _ in named], report)
        stored = {s.id: s for s in self.store.list_speeches()}
        by_source = {s.source: s for s in stored.values()}
        taken = set(stored)
        owners = self.store.text_owners()
        self.progress.event("files", total=len(files))
        for path in files:
            if self.stop.is_set():
                report.stopped = True
                break
            final = staged.get(path, path)
            self.progress.event("file", name=final.name)
            self._ingest_file(path, final, by_source.get(str(final)), stored, taken, owners, report)
        for speech in self.store.needing_reindex():
            if self.stop.is_set():
                report.stopped = True
                break
            previous = stored.get(speech.id)
            self._put(speech, file_sha256=previous.file_sha256 if previous else "")
            report.reindexed.append(speech.id)
        if prune and not report.stopped:
            for speech in self.store.list_speeches():
                if not Path(speech.source).exists():
                    self.store.delete_speech(speech.id)
                    report.pruned.append(speech.id)
        self.progress.event("end")
        return report

    def _ingest_file(self, path: Path, final: Path, previous: StoredSpeech | None, stored: dict[str, StoredSpeech],
                     taken: set[str], owners: dict[str, str], report: IngestReport) -> None:
        try:
            fingerprint = file_fingerprint(path)
            if previous and previous.file_sha256 == fingerprint and previous.chunking == self.chunking:
                report.unchanged.append(previous.id)
                return
            if previous:
                taken.discard(previous.id)  # a changed file keeps its id
            speech = load_speech(path, taken, self.limits, source=final)
        except SpeechFileError as exc:
            report.failed.append((str(final), exc.reason))
            return
        except OSError as exc:
            report.failed.append((str(final), f"cannot read the file: {exc.strerror or exc}"))
            return
        digest = text_sha256(speech.text)
        owner = stored.get(owners.get(digest, ""))
        if owner is not None and (previous is None or owner.id != previous.id):
            if previous is None and not Path(owner.source).exists():  # the file was moved: the speech follows
                taken.discard(speech.id)
                taken.add(owner.id)
                speech, previous = replace(speech, id=owner.id), owner
            else:
                taken.discard(speech.id)
                if previous:
                    taken.add(previous.id)
                report.duplicates.append((str(final), owner.id))
                return
        if previous and previous.id != speech.id:  # the sidecar renamed it: the old id must go
            self.store.delete_speech(previous.id)
        self._put(speech, file_sha256=fingerprint)
        if previous and owners.get(previous.text_sha256) == previous.id:
            del owners[previous.text_sha256]  # its old text is no one's now
        owners[digest] = speech.id
        (report.updated if previous else report.added).append(speech.id)

    def _put(self, speech: Speech, *, file_sha256: str) -> None:
        passages = split_passages(
            speech.id, speech.text, size=self.settings.chunk_size, overlap=self.settings.chunk_overlap
        )
        version = passage_version(speech, self.chunking, self.store.backend)
        if self.embed:
            self.progress.event("speech", id=speech.id, passages=len(passages))
        self.store.put_speech(
            speech, passages, version=version, chunking=self.chunking, file_sha256=file_sha256,
            progress=lambda n: self.progress.event("embedded", n=n), embed=self.embed,
        )
