"""Who writes the library: one write at a time in a process, and one process at a time on an on-disk library.

The on-disk Chroma is not safe across processes: a process keeps the vector index it loaded in memory, so one that
does not write sees nothing another writes (its filtered queries even fail with "Error finding id"), and two writers
corrupt each other. So, for an on-disk library, one process at a time is its *writer*, and the running app is the
natural one:

- The writer holds an exclusive lock (``fcntl.flock``) on ``DATA_DIR/writer.lock`` for as long as it runs; the
  kernel drops it when the process ends, however it ends. Beside it, ``DATA_DIR/writer.json`` (mode 0600) says who
  holds it: ``role`` (``app`` or ``ingest``), ``pid``, and for an app the loopback ``url`` it listens on, its
  ``root_path`` and a random ``secret`` made at start. The record means something only while the lock is held.
- ``python -m ingest PATH|--prune|--reindex|--remove-samples`` first tries the lock. When an app holds it, the CLI
  hands the work to that app (ingest/handoff.py sends it to the app's local-only route, web/local_writer.py,
  authenticated by the secret), which runs it like an upload and streams the progress and the report back; the CLI
  prints the same summary and exits with the same status. When another CLI holds it, it waits, saying so. When no
  one does, it takes the lock for the run.
- An app that starts while a CLI holds the lock waits for it, saying so; one that finds another app holding it stops
  with an error (two apps cannot share an on-disk library; they can share a Chroma server).
- Inside a process, every write (an upload, a delete, a CLI's hand-off, removing the samples) goes through one
  ``LibraryWriter`` and its lock, one at a time. Work that writes in the background later (embedding behind a
  keyword-first ingest) belongs here too.

With a Chroma server (``SPEECHES_CHROMA_URL``) there is no lock: the server serialises the writes, every process
(apps and CLIs) writes directly, and readers notice a change by the library's generation (ingest/store.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.pipeline import IngestReport, Ingestor, Progress
from ingest.store import SpeechStore, StoreError
from settings import Settings

log = logging.getLogger(__name__)

LOCK_FILE = "writer.lock"
RECORD_FILE = "writer.json"
APP, INGEST = "app", "ingest"
POLL_S = 0.5


class LibraryInUse(StoreError):
    """Another app already serves this on-disk library."""


@dataclass(frozen=True)
class Holder:
    """Who holds the writer lock, as its record says."""

    role: str
    pid: int
    url: str | None = None
    root_path: str = ""
    secret: str | None = None

    def describe(self) -> str:
        if self.role == APP:
            return f"the app (pid {self.pid}{', ' + self.url if self.url else ''})"
        return f"another python -m ingest (pid {self.pid})"


class WriterLock:
    """The lock file of one data dir and its holder's record (module doc)."""

    def __init__(self, data_dir: Path) -> None:
        self.lock_path = Path(data_dir) / LOCK_FILE
        self.record_path = Path(data_dir) / RECORD_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def announce(self, role: str, **values) -> None:
        """Write this process's record (atomically; readable by this user only)."""
        record = {"role": role, "pid": os.getpid(), **values}
        tmp = self.record_path.with_name(f".{RECORD_FILE}-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, self.record_path)

    def holder(self) -> Holder | None:
        """The record of whoever holds the lock; None while it is being written (or never was)."""
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
            return Holder(role=str(data["role"]), pid=int(data["pid"]), url=data.get("url"),
                          root_path=str(data.get("root_path") or ""), secret=data.get("secret"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        holder = self.holder()
        if holder is not None and holder.pid == os.getpid():
            with contextlib.suppress(OSError):
                self.record_path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim_library(settings: Settings, role: str, say: Callable[[str], None],
                  wait: bool = True) -> WriterLock | Holder | None:
    """Become the writer of ``settings``' on-disk library: the held ``WriterLock``. None with a Chroma server (no
    lock needed). For ``role`` ingest, an app holding the library is returned as its ``Holder`` (hand the work to
    it); a CLI holding it is waited for. For ``role`` app, a CLI is waited for and another app is ``LibraryInUse``.
    ``wait`` False: None instead of waiting (the lock was busy)."""
    if settings.chroma_url:
        return None
    lock = WriterLock(settings.data_dir)
    said = None
    while True:
        if lock.try_acquire():
            lock.announce(role)
            if said:
                say("the library is free now; going on")
            return lock
        holder = lock.holder()
        if holder is not None and holder.role == APP:
            if role == APP:
                raise LibraryInUse(
                    f"{holder.describe()} already serves the library in {settings.data_dir.absolute()}; stop it first "
                    "(two apps can share a library on a Chroma server: SPEECHES_CHROMA_URL)"
                )
            if holder.url and holder.secret:
                return holder
        if not wait:
            return None
        news = (f"waiting for {holder.describe()} to start" if holder and holder.role == APP
                else f"waiting for {holder.describe() if holder else 'another process'} to finish writing the "
                     f"library in {settings.data_dir.absolute()} ...")
        if news != said:
            say(news)
            said = news
        time.sleep(POLL_S)


@dataclass
class WriteRequest:
    """One run of ``python -m ingest`` (or the same work handed to the app): what to do, in this order:
    reindex, remove the samples, ingest the paths, prune."""

    paths: list[str] = field(default_factory=list)
    prune: bool = False
    reindex: bool = False
    remove_samples: bool = False

    def as_json(self) -> dict:
        return asdict(self)


class LibraryWriter:
    """Every write of this process to the library, one at a time (module doc)."""

    def __init__(self, store: SpeechStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def writing(self, progress: Progress | None = None):
        """Hold the write lock; ``progress`` is told when the write has to wait for another."""
        if not self._lock.acquire(blocking=False):
            if progress is not None:
                progress.event("note", text="waiting for another write to the library (an upload or a delete) ...")
            self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()

    def apply(self, request: WriteRequest, progress: Progress | bool = False,
              stop: threading.Event | None = None) -> IngestReport:
        """Run ``request``; the report is that of ``python -m ingest``."""
        progress = progress if isinstance(progress, Progress) else Progress()
        with self.writing(progress):
            if request.reindex:
                self.store.reset_all_passages()
            removed = self._remove_samples() if request.remove_samples else []
            ingestor = Ingestor(self.store, self.settings, progress=progress, stop=stop)
            report = ingestor.run([Path(p) for p in request.paths], prune=request.prune)
        report.removed_samples = removed
        return report

    def ingest(self, paths: list[Path]) -> IngestReport:
        with self.writing():
            return Ingestor(self.store, self.settings, progress=False).run(paths)

    def ingest_staged(self, staged: Path, final: Path, on_stored: Callable[[IngestReport], None]) -> IngestReport:
        """Ingest ``staged`` as ``final`` (``Ingestor.run_staged``) and, still holding the lock, ``on_stored``
        (the upload puts the file in its place), so no other write sees the library between the two."""
        with self.writing():
            report = Ingestor(self.store, self.settings, progress=False).run_staged(staged, final)
            on_stored(report)
            return report

    def delete(self, speech_id: str, then: Callable[[], None] = lambda: None) -> None:
        with self.writing():
            self.store.delete_speech(speech_id)
            then()

    def remove_samples(self) -> list[str]:
        with self.writing():
            return self._remove_samples()

    def _remove_samples(self) -> list[str]:
        removed = []
        for speech in self.store.list_speeches():
            if speech.is_sample:
                self.store.delete_speech(speech.id)
                removed.append(speech.id)
        self.store.set_flag("samples_removed", "true")  # an emptied library does not get them back at start
        return removed
