"""An app killed (SIGKILL) in the middle of an upload leaves no file that no screen can remove (issue 12, item 4):
the upload was staged, not yet in ``uploads/``; the next start finishes or drops it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from conftest import SEED
from reliability_helpers import start_app, stop

pytestmark = pytest.mark.slow


def test_an_app_killed_during_an_upload_leaves_no_file_without_its_speech(tmp_path):
    from gradio_client import Client, handle_file

    data_dir = tmp_path / "data"
    process, url = start_app(data_dir, tmp_path / "app.log")
    seed = (SEED / "000_ed498335adf7a40a.txt").read_text(encoding="utf-8")
    # new text, ~430,000 characters: storing it keyword-ready takes a second or two (its vectors come after)
    speech = tmp_path / "长讲话.txt"
    speech.write_text("在一次长会上的讲话\n" + "\n".join(f"第{i}部分。{seed}" for i in range(150)), encoding="utf-8")
    incoming = data_dir / "uploads" / ".incoming"
    try:
        Client(url + "/", verbose=False).submit([handle_file(str(speech))], api_name="/upload")
        deadline = time.monotonic() + 120
        while not list(incoming.glob("*/长讲话.txt")):
            assert time.monotonic() < deadline, "the upload never reached the app"
            time.sleep(0.05)
        time.sleep(0.2)  # into the keyword step
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        stop(process)
    assert list(incoming.glob("*/长讲话.txt")), "killed after the upload was stored: the test proves nothing"

    process, url = start_app(data_dir, tmp_path / "app-again.log")
    try:
        listed = httpx.get(f"{url}/api/speeches", timeout=30).json()
        uploads = data_dir / "uploads"
        files = {p.name for p in uploads.iterdir() if p.is_file()}
        from_uploads = {Path(s["source"]).name for s in listed if Path(s["source"]).parent == uploads.resolve()}
        assert files == from_uploads  # no file without its speech, no uploaded speech without its file
        assert not list(incoming.glob("*/*"))
        rows = Client(url + "/", verbose=False).predict([handle_file(str(speech))], api_name="/upload")
        assert rows[0]["data"][0][:2] == ["长讲话.txt", "成功"], rows
        assert {p.name for p in uploads.iterdir() if p.is_file()} == {"长讲话.txt"}
    finally:
        stop(process)
