"""Real processes for the fault tests: a Chroma server (``chroma run``) and the app (``python app.py``), each on a
free loopback port, stopped and waited for by their fixtures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer {url} within {timeout:.0f} s: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


stop = stop_process


class ChromaServer:
    """``chroma run --path PATH`` on 127.0.0.1:PORT; ``stop()`` and ``start()`` again keep the path and the port."""

    def __init__(self, path: Path, log: Path) -> None:
        if not CHROMA.exists():
            pytest.skip(f"no chroma executable at {CHROMA}")
        self.path, self.log, self.port = path, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_http(f"{self.url}/api/v2/heartbeat", self.process, self.log, "chroma run", timeout=90)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def start_app(data_dir: Path, log: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """``python app.py`` with this data dir (and ``SPEECHES_*`` overrides), once ``GET /api/speeches`` answers."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    environ.update(SPEECHES_DATA_DIR=str(data_dir), SPEECHES_PORT=str(port), SPEECHES_HOST="127.0.0.1",
                   SPEECHES_LLM="extractive", PYTHONUNBUFFERED="1", **env)
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=data_dir.parent, env=environ,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/speeches", process, log, "app.py", timeout=300)
    except BaseException:
        stop(process)
        raise
    return process, url
