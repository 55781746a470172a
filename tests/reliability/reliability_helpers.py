"""Real processes for the fault tests: the app (``python app.py``) on a free loopback port, stopped and waited for
by its fixtures (the Chroma server, ``ChromaServer``, is in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import free_port, stop_process, wait_http

ROOT = Path(__file__).resolve().parents[2]


stop = stop_process

NEW_SPEECH = """在琥珀湾新区建设推进会上的讲话
（2026年3月2日）
同志们：
今天召开琥珀湾新区建设推进会，主要任务是部署琥珀湾跨海隧道工程。
琥珀湾跨海隧道工程是新区的头号工程，今年6月底前要全面开工，年底前完成投资二十亿元。
各有关部门要压实责任，倒排工期，确保琥珀湾跨海隧道工程按期推进。
"""  # a speech no sample resembles: added by the tests of processes sharing a library


def start_app(data_dir: Path, log: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """``python app.py`` with this data dir (and ``SPEECHES_*`` overrides), once ``GET /api/speeches`` answers
    (with the access token when ``SPEECHES_ACCESS_TOKEN`` is among them)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    environ.update({"SPEECHES_DATA_DIR": str(data_dir), "SPEECHES_PORT": str(port), "SPEECHES_HOST": "127.0.0.1",
                    "SPEECHES_LLM": "extractive", "PYTHONUNBUFFERED": "1", **env})
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=data_dir.parent, env=environ,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        token = env.get("SPEECHES_ACCESS_TOKEN")
        wait_http(f"{url}/api/speeches", process, log, "app.py", timeout=300,
                  headers={"Authorization": f"Bearer {token}"} if token else None)
    except BaseException:
        stop(process)
        raise
    return process, url
