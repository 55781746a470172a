"""Files the UI offers for download (an answer's Markdown, a view's Word document): written to a temporary folder
that Gradio copies them from into its cache; files older than an hour are removed as new ones are written."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

EXPORTS = Path(tempfile.gettempdir()) / "speeches-exports"
KEEP_S = 3600


def export_file(content: str | bytes, suffix: str, name: str) -> str:
    """``content`` as a file named ``name`` (made unique) ending in ``suffix``; its path."""
    EXPORTS.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_S
    for old in EXPORTS.glob("*"):
        if old.is_file() and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    path = EXPORTS / f"{Path(name).stem}-{uuid.uuid4().hex[:6]}{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)
