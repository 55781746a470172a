"""The CLI's side of handing a write to the running app (ingest/writer.py has the why, web/local_writer.py the app's
side): ``POST {url}/_local/write`` on loopback with the app's local secret, the work as JSON, then NDJSON back:
``{"progress": {"kind": ..., ...}}`` lines, and last ``{"report": {...}}`` or ``{"error": "...", "status": 2}``.

The request carries the settings that decide what is written (embedding backend, chunking); the app refuses work
asked with other ones than its own, rather than silently writing with its own.
"""

from __future__ import annotations

import json

import httpx

from ingest.pipeline import IngestReport, Progress
from ingest.writer import Holder, WriteRequest
from settings import Settings

HANDOFF_PATH = "/_local/write"
SECRET_HEADER = "X-Speeches-Local-Secret"
WRITE_SETTINGS = ("embedding", "chunk_size", "chunk_overlap")


class AppUnreachable(ConnectionError):
    """The app holding the library did not take the connection (it is starting, stopping or hung)."""


class HandOffError(RuntimeError):
    """The app refused the work or failed it; the message says why (exit status 2)."""


def write_settings(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in WRITE_SETTINGS}


def hand_off(holder: Holder, request: WriteRequest, settings: Settings, progress: Progress) -> IngestReport:
    """Have the app at ``holder`` run ``request``; its report. Progress events are replayed into ``progress``."""
    body = {"request": request.as_json(), "settings": write_settings(settings)}
    headers = {SECRET_HEADER: holder.secret or ""}
    try:
        with httpx.Client(timeout=httpx.Timeout(None, connect=5), trust_env=False) as client, \
                client.stream("POST", holder.url.rstrip("/") + HANDOFF_PATH, json=body, headers=headers) as response:
            if response.status_code != 200:
                response.read()
                try:
                    reason = response.json()["error"]
                except (ValueError, KeyError, TypeError):
                    reason = f"HTTP {response.status_code}"
                raise HandOffError(f"the app (pid {holder.pid}) refused the work: {reason}")
            for line in response.iter_lines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if "progress" in item:
                    progress.event(**item["progress"])
                elif "report" in item:
                    return IngestReport.from_json(item["report"])
                elif "error" in item:
                    raise HandOffError(item["error"])
    except httpx.ConnectError as error:
        raise AppUnreachable(str(error)) from error
    except (httpx.TransportError, ValueError) as error:
        raise HandOffError(f"the connection to the app (pid {holder.pid}) broke off: {error}") from error
    raise HandOffError(f"the app (pid {holder.pid}) ended the run without a report; see its log")
