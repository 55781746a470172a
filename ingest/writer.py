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
  ``LibraryWriter`` and its lock, one at a time.
- Keywords first, vectors behind (docs/design.md). A write stores each speech keyword-ready (ingest/store.py) and
  answers at once; the *vector step* embeds the passages after. In the app it is the ``VectorWorker``, a thread of
  the writer: one speech at a time, oldest first, a batch of passages at a time, each batch embedded outside the
  writer's lock and written under it, so uploads, deletes and hand-offs go on between two batches. It starts with
  the app (finishing what a killed process left) and is woken by every write. A ``python -m ingest`` that writes
  itself (no app) embeds inline after its keyword step, and also what earlier runs left (``embed_pending``); with
  ``--no-wait`` it leaves them to the next app or run. ``wait=True`` work handed to the app waits for its speeches'
  vectors, streaming their progress.

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
from ingest.store import SpeechStore, StoreError, StoreUnavailable
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
    wait: bool = True  # for the vectors of what was written (False: return after the keyword step)

    def as_json(self) -> dict:
        return asdict(self)


class LibraryWriter:
    """Every write of this process to the library, one at a time (module doc). ``background``: a
    ``VectorWorker`` embeds behind keyword-first writes (the app); else each write embeds its speeches itself
    before it returns, except ``apply`` with ``wait`` False."""

    def __init__(self, store: SpeechStore, settings: Settings, *, background: bool = False) -> None:
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self.vectors = VectorWorker(store, self.writing) if background else None

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

    def _ingestor(self, progress: Progress | bool = False, stop: threading.Event | None = None,
                  embed: bool | None = None) -> Ingestor:
        embed = self.vectors is None if embed is None else embed
        return Ingestor(self.store, self.settings, progress=progress, stop=stop, embed=embed)

    def apply(self, request: WriteRequest, progress: Progress | bool = False,
              stop: threading.Event | None = None) -> IngestReport:
        """Run ``request``: every speech keyword-ready first, then (``request.wait``) their vectors; the report
        is that of ``python -m ingest``."""
        progress = progress if isinstance(progress, Progress) else Progress()
        with self.writing(progress):
            if request.reindex:
                self.store.reset_all_passages()
            removed = self._remove_samples() if request.remove_samples else []
            report = self._ingestor(progress, stop, embed=False).run([Path(p) for p in request.paths],
                                                                      prune=request.prune)
        report.removed_samples = removed
        written = report.added + report.updated + report.reindexed
        if self.vectors is not None:
            self.vectors.kick()
            if request.wait and not report.stopped:
                report.stopped = not self.vectors.wait(written, progress, stop)
        elif request.wait and not report.stopped:
            report.stopped = not self.embed_pending(progress, stop)
        report.vectors_left = [s.id for s in self.store.speeches_to_embed()]
        return report

    def embed_pending(self, progress: Progress | None = None, stop: threading.Event | None = None) -> bool:
        """The vector step here and now, for every speech waiting for it (this run's and what earlier runs left),
        oldest first; True when none is left."""
        progress = progress or Progress()
        stop = stop or threading.Event()
        todo = self.store.speeches_to_embed()
        total, done = sum(s.passages for s in todo), sum(s.vectors for s in todo)
        for left, speech in zip(range(len(todo), 0, -1), todo):
            progress.event("vectors", done=done, total=total, speeches=left)

            def embedded(n: int, left=left) -> None:
                nonlocal done
                done += n
                progress.event("vectors", done=done, total=total, speeches=left)

            self.store.embed_vectors(speech.id, locked=self.writing, progress=embedded, stop=stop.is_set)
            if stop.is_set():
                return False
        progress.event("end")
        return not self.store.speeches_to_embed()

    def ingest(self, paths: list[Path]) -> IngestReport:
        with self.writing():
            report = self._ingestor().run(paths)
        self._written()
        return report

    def ingest_staged(self, staged: Path, final: Path, on_stored: Callable[[IngestReport], None]) -> IngestReport:
        """Ingest ``staged`` as ``final`` (``Ingestor.run_staged``) and, still holding the lock, ``on_stored``
        (the upload puts the file in its place), so no other write sees the library between the two."""
        with self.writing():
            report = self._ingestor().run_staged(staged, final)
            on_stored(report)
        self._written()
        return report

    def _written(self) -> None:
        if self.vectors is not None:
            self.vectors.kick()

    def close(self) -> None:
        if self.vectors is not None:
            self.vectors.close()

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


class VectorWorker:
    """The vector step behind keyword-first writes, in a thread of its own (module doc). ``locked`` is the
    writer's lock, held only while a batch is written."""

    RETRY_S = 5.0  # after a failure (Chroma unreachable, the model failing): try again this much later
    LOOK_S = 30.0  # idle, it looks for work this often too: on a Chroma server other processes write

    def __init__(self, store: SpeechStore, locked: Callable[[], contextlib.AbstractContextManager]) -> None:
        self.store = store
        self._locked = locked
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._failed: set[tuple[str, str]] = set()  # (speech, version) whose vector step raised: not tried again

    def kick(self) -> None:
        """Look for work (started on the first call)."""
        with self._start_lock:
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(target=self._run, name="vectors", daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the batch under way (its write is finished, or not begun)."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.LOOK_S)
            self._wake.clear()
            try:
                while not self._closing.is_set() and self._embed_next():
                    pass
            except Exception:  # a passing failure (Chroma, the model): the work stays marked, try again later
                log.exception("the vector step failed; trying again in %.0f s", self.RETRY_S)
                self._closing.wait(self.RETRY_S)
                self._wake.set()
            self._notify()

    def _embed_next(self) -> bool:
        """Embed the oldest speech waiting; False when none is."""
        todo = [s for s in self.store.speeches_to_embed() if (s.id, s.version) not in self._failed]
        if not todo:
            return False
        speech = todo[0]
        try:
            self.store.embed_vectors(speech.id, locked=self._locked, progress=lambda n: self._notify(),
                                     stop=self._closing.is_set)
        except StoreUnavailable:
            raise  # passing: _run tries again later
        except StoreError as error:  # this speech's record is damaged: the others go on
            log.error("cannot embed speech %s: %s", speech.id, error)
            self._failed.add((speech.id, speech.version))
        return True

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, speech_ids: list[str], progress: Progress | None = None, stop: threading.Event | None = None,
             timeout: float | None = None) -> bool:
        """Until the vectors of these speeches are complete (or the speeches gone), telling ``progress`` the
        passages embedded; False when ``stop`` was set or ``timeout`` passed first."""
        progress = progress or Progress()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = [s for s in self.store.list_speeches() if s.id in set(speech_ids)]
            waiting = [s for s in left if not s.vectors_complete and (s.id, s.version) not in self._failed]
            if waiting or left:
                progress.event("vectors", done=sum(s.vectors for s in left), total=sum(s.passages for s in left),
                               speeches=len(waiting))
            if not waiting:
                progress.event("end")
                return True
            if (stop is not None and stop.is_set()) or (deadline is not None and time.monotonic() > deadline):
                return False
            self.kick()
            with self._changed:
                self._changed.wait(POLL_S * 2)
