"""Uploaded files into the library: type and size limits, safe names, then the same ingest run as the CLI.

An upload is saved as ``DATA_DIR/uploads/NAME`` where NAME is the sanitised file name: no directory part, no ``..``,
only letters (CJK included), digits and ``._-()（）`` and spaces, at most 100 characters. Uploading a file of the
same name again replaces it, so the ingest run sees a changed file and updates its speech.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ingest.readers import SUPPORTED_EXTENSIONS

UPLOADS = "uploads"
MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^\w.\-()（） ]+", re.UNICODE)


class UploadRejected(ValueError):
    """A file refused before ingest; the message says why, for the user."""


@dataclass
class UploadResult:
    file: str  # the name as uploaded
    ok: bool
    message: str  # what happened, for the user
    speech_id: str | None = None

    def as_row(self) -> list[str]:
        return [self.file, "成功" if self.ok else "失败", self.message]


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
        supported = " ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UploadRejected(f"不支持的文件类型“{suffix or '无扩展名'}”；支持：{supported}")
    stem = name[: -len(suffix)].strip(" ._") or "upload"
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    return stem + suffix


def safe_name_or_none(name: str) -> str | None:
    try:
        return safe_file_name(name)
    except UploadRejected:
        return None


def save_upload(source: Path, original_name: str, data_dir: Path, max_mb: float) -> Path:
    """Copy an uploaded file into the uploads dir under its safe name; UploadRejected when too big or bad type."""
    name = safe_file_name(original_name)
    size = Path(source).stat().st_size
    if size > max_mb * 1024 * 1024:
        raise UploadRejected(f"文件太大（{size / 1024 / 1024:.1f} MB），上限 {max_mb:g} MB")
    folder = uploads_dir(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if target.parent != folder:  # cannot happen after safe_file_name; kept as the last word on path escapes
        raise UploadRejected("文件名不安全")
    shutil.copyfile(source, target)
    return target


def check_received(source: Path, received_in: Path) -> None:
    """UploadRejected unless ``source`` is a file inside ``received_in`` (the web server's upload folder): a path
    the client chose, anywhere else on the server, is never read."""
    try:
        inside = Path(source).resolve().is_relative_to(Path(received_in).resolve())
    except (OSError, ValueError):
        inside = False
    if not inside or not Path(source).is_file():
        raise UploadRejected("不是通过上传收到的文件，已拒绝")


def ingest_uploads(assistant, files: list[tuple[Path, str]], data_dir: Path, max_mb: float,
                   received_in: Path | None = None) -> list[UploadResult]:
    """Save and ingest each (temporary path, original name); one result per file, in order. With ``received_in``
    (the web app's upload folder), a file outside it is refused before anything reads it."""
    results = []
    for source, original in files:
        shown = Path(str(original).replace("\\", "/")).name or str(original)
        name = safe_name_or_none(original)
        existed = name is not None and (uploads_dir(data_dir) / name).is_file()
        try:
            if received_in is not None:
                check_received(source, received_in)
            path = save_upload(source, original, data_dir, max_mb)
        except UploadRejected as error:
            results.append(UploadResult(shown, False, str(error)))
            continue
        except OSError as error:
            results.append(UploadResult(shown, False, f"无法保存：{error.strerror or error}"))
            continue
        report = assistant.ingest([path])
        if report.failed:
            if not existed:  # a failed new file leaves nothing behind; a failed replacement keeps its name
                path.unlink(missing_ok=True)
            results.append(UploadResult(shown, False, "; ".join(reason for _, reason in report.failed)))
        elif report.added:
            results.append(UploadResult(shown, True, f"已添加：{report.added[0]}", report.added[0]))
        elif report.updated:
            results.append(UploadResult(shown, True, f"已更新：{report.updated[0]}", report.updated[0]))
        else:
            speech_id = report.unchanged[0] if report.unchanged else None
            results.append(UploadResult(shown, True, f"内容未变：{speech_id or path.name}", speech_id))
    return results


def remove_uploaded_source(source: str, data_dir: Path) -> None:
    """Delete a speech's file when it is one of our uploads (never a file elsewhere on disk)."""
    folder = uploads_dir(data_dir).resolve()
    try:
        path = Path(source).resolve()
    except (OSError, ValueError):
        return
    if path.parent == folder and path.is_file():
        path.unlink()
