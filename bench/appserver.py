"""Start ``python app.py`` for a benchmark: on a free loopback port, with its own data dir, waiting until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, llm: str, log_path: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """(the app process, its URL): ``root``/app.py, this checkout's by default. The rest of the environment
    (SPEECHES_MODEL_DIR, say) passes through."""
    port = free_port()
    env = dict(os.environ)
    env.update(SPEECHES_DATA_DIR=str(data_dir), SPEECHES_LLM=llm, SPEECHES_PORT=str(port),
               SPEECHES_HOST="127.0.0.1", PYTHONUNBUFFERED="1")
    log = open(log_path, "w")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen([sys.executable, str(root / "app.py")], cwd=data_dir.parent, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"app.py exited with {process.returncode}: see {log_path}")
        try:
            if httpx.get(url + "/api/speeches", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    sys.exit("app.py did not start in 10 minutes")
