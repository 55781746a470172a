"""Uploaded files into the library: type and size limits, safe names, then the same ingest run as the CLI.

An upload is kept as ``DATA_DIR/uploads/NAME`` where NAME is the sanitised file name: no directory part, no ``..``,
only letters (CJK included), digits and ``._-()（）`` and spaces, at most 100 characters. Uploading a file of the
same name again updates its speech.

A file never takes the place of another before it is stored: it is first copied to
``uploads/.incoming/PID-RANDOM/NAME`` (*staged*), ingested from there as if it were ``uploads/NAME``, and moved into
place only once its speech is stored, while the library's write lock is still held (ingest/writer.py). A failed
re-upload or a duplicate leaves the good file and the stored speech as they were. A process killed mid-upload leaves
only its staging folder; ``recover_uploads`` at the app's start finishes a move whose speech was stored and drops
the rest, and removes files in ``uploads/`` that no speech comes from (a delete interrupted between the library and
the file), so nothing is left that no screen can remove.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import IngestReport, file_fingerprint
from ingest.readers import SUPPORTED_EXTENSIONS
from web.errors import upload_line

log = logging.getLogger(__name__)

UPLOADS = "uploads"
INCOMING = ".incoming"
MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^\w.\-()（） ]+", re.UNICODE)
RESULTS = {"added": "成功", "updated": "成功", "unchanged": "成功", "duplicate": "重复", "failed": "失败"}


class UploadRejected(ValueError):
    """A file refused before ingest: ``kind`` (unsupported, too_big, unsafe_name) and the values of its message."""

    def __init__(self, kind: str, **values) -> None:
        self.kind, self.values = kind, values
        super().__init__(f"{kind}: {values}")


@dataclass
class UploadResult:
    file: str  # the name as uploaded
    outcome: str  # added, updated, unchanged, duplicate, failed
    message: str  # what happened, for the user
    speech_id: str | None = None  # the speech it added or updated, or the stored one it duplicates

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    def as_row(self) -> list[str]:
        return [self.file, RESULTS[self.outcome], self.message]


def uploads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / UPLOADS


def safe_file_name(name: str) -> str:
    """The upload's name reduced to one safe path component; UploadRejected when nothing usable is left or the
    type is not one ingest reads."""
    name = unicodedata.normalize("NFKC", str(name or "")).replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UploadRejected("unsupported", suffix=suffix or "—", supported=" ".join(sorted(SUPPORTED_EXTENSIONS)))
    stem = name[: -len(suffix)].strip(" ._") or "upload"
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    return stem + suffix


def save_upload(source: Path, original_name: str, data_dir: Path, max_mb: float) -> tuple[Path, Path]:
    """Stage an uploaded file: (the staged copy, the path it will take once stored). UploadRejected when too big,
    of a bad type or badly named."""
    name = safe_file_name(original_name)
    size = Path(source).stat().st_size
    if size > max_mb * 1024 * 1024:
        raise UploadRejected("too_big", size=size / 1024 / 1024, limit=max_mb)
    folder = uploads_dir(data_dir).resolve()
    final = (folder / name).resolve()
    if final.parent != folder:  # cannot happen after safe_file_name; kept as the last word on path escapes
        raise UploadRejected("unsafe_name")
    staging = folder / INCOMING / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    staged = staging / name
    shutil.copyfile(source, staged)
    return staged, final


def _stored(report: IngestReport) -> str | None:
    """The speech the report stored its one file as (added, updated or unchanged), if any."""
    done = report.added or report.updated or report.unchanged
    return done[0] if done and not report.failed and not report.duplicates else None


def check_received(source: Path, received_in: Path) -> None:
    """UploadRejected unless ``source`` is a file inside ``received_in`` (the web server's upload folder): a path
    the client chose, anywhere else on the server, is never read."""
    try:
        inside = Path(source).resolve().is_relative_to(Path(received_in).resolve())
    except (OSError, ValueError):
        inside = False
    if not inside or not Path(source).is_file():
        raise UploadRejected("not_received")


def ingest_uploads(assistant, files: list[tuple[Path, str]], data_dir: Path, max_mb: float,
                   language: str = "zh", received_in: Path | None = None) -> list[UploadResult]:
    """Save and ingest each (temporary path, original name); one result per file, in order. With ``received_in``
    (the web app's upload folder), a file outside it is refused before anything reads it."""
    results = []
    for source, original in files:
        shown = Path(str(original).replace("\\", "/")).name or str(original)
        try:
            if received_in is not None:
                check_received(source, received_in)
            staged, final = save_upload(source, original, data_dir, max_mb)
        except UploadRejected as error:
            results.append(UploadResult(shown, "failed", upload_line(error.kind, language, **error.values)))
            continue
        except OSError as error:
            log.warning("cannot save the upload %s: %s", shown, error)
            results.append(UploadResult(shown, "failed", upload_line("not_saved", language)))
            continue

        def move_into_place(report: IngestReport, staged=staged, final=final) -> None:
            if _stored(report):
                os.replace(staged, final)

        try:
            report = assistant.ingest_staged(staged, final, move_into_place)
        finally:
            shutil.rmtree(staged.parent, ignore_errors=True)
            with contextlib.suppress(OSError):  # unless another upload is under way
                staged.parent.parent.rmdir()
        results.append(_result(shown, report, language))
    return results


def _result(shown: str, report: IngestReport, language: str) -> UploadResult:
    if report.failed:
        reason = "; ".join(reason for _, reason in report.failed)
        return UploadResult(shown, "failed", upload_line("failed", language, reason=reason, file=shown))
    if report.duplicates:
        owner = report.duplicates[0][1]
        return UploadResult(shown, "duplicate", upload_line("duplicate", language, speech=owner), owner)
    for outcome in ("added", "updated", "unchanged"):
        ids = getattr(report, outcome)
        if ids:
            return UploadResult(shown, outcome, upload_line(outcome, language, speech=ids[0]), ids[0])
    return UploadResult(shown, "failed", upload_line("failed", language, reason="nothing was stored", file=shown))


def remove_uploaded_source(source: str, data_dir: Path) -> None:
    """Delete a speech's file when it is one of our uploads (never a file elsewhere on disk)."""
    folder = uploads_dir(data_dir).resolve()
    try:
        path = Path(source).resolve()
    except (OSError, ValueError):
        return
    if path.parent == folder and path.is_file():
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_uploads(store, data_dir: Path) -> list[str]:
    """At the app's start (module doc): finish or drop the uploads a killed process left staged, and remove files
    of ``uploads/`` that no speech comes from. Returns what it did, one line each (also logged)."""
    folder = uploads_dir(data_dir).resolve()
    if not folder.is_dir():
        return []
    done = []
    files = [p for p in folder.iterdir() if p.is_file()]  # listed before the speeches: a file moved into place
    speeches = store.list_speeches()  # after this listing was taken is one whose speech this listing holds
    by_source = {s.source: s for s in speeches}
    for staging in sorted((folder / INCOMING).glob("*-*")) if (folder / INCOMING).is_dir() else []:
        pid = staging.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue  # another app on this data dir (a shared Chroma server) is uploading right now
        for staged in (p for p in staging.iterdir() if p.is_file()):
            final = folder / staged.name
            record = by_source.get(str(final))
            with contextlib.suppress(OSError):
                if record is not None and record.file_sha256 == file_fingerprint(staged):
                    os.replace(staged, final)  # its speech was stored: finish the move
                    done.append(f"finished the interrupted upload of {final.name}")
                    continue
            done.append(f"dropped the interrupted upload of {staged.name}")
        shutil.rmtree(staging, ignore_errors=True)
    for path in files:
        if str(path) not in by_source:
            with contextlib.suppress(OSError):
                path.unlink()
                done.append(f"removed {path.name}: no speech comes from it")
    for line in done:
        log.info("uploads: %s", line)
    return done
