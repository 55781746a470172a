"""Thumbs up/down on answers, kept locally: one JSON line per vote in ``DATA_DIR/feedback.jsonl``."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

FEEDBACK_FILE = "feedback.jsonl"
_lock = threading.Lock()


def record_feedback(data_dir: Path, answer: Mapping, vote: str, *, user: str | None = None,
                    source: str = "web") -> dict:
    """Append one vote ("up" or "down") on ``answer`` (an ``Answer.as_json()``); returns the stored record."""
    if vote not in ("up", "down"):
        raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
    record = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vote": vote,
        "question": answer.get("question", ""),
        "answer": answer.get("answer", ""),
        "citations": [
            {k: c.get(k) for k in ("label", "speech_id", "title", "date", "start", "end", "text")}
            for c in answer.get("citations") or []
        ],
        "unsupported_sentences": list(answer.get("unsupported_sentences") or []),
        "backend": answer.get("backend", ""),
        "user": user,
        "source": source,
    }
    path = Path(data_dir) / FEEDBACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False)
    with _lock, path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    return record
