"""The ``openai`` backend: any OpenAI-compatible chat server (llama.cpp's, vLLM, Ollama, a company gateway).

``ChatOpenAI`` does the talking; this subclass only turns every way the server can fail (refused connection,
timeout, HTTP 4xx/5xx, a body that is no chat completion) into ``LLMUnavailable`` with a message that names the URL
and the setting to change, and keeps the raw openai/httpx exception as ``__cause__``. Nothing here counts tokens:
``get_num_tokens`` would make tiktoken download its tables from the internet.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from answer.llm.errors import LLMTimeout, LLMUnavailable

_CONNECT_TIMEOUT = 10.0  # a host that drops packets should not hold a question for the whole SPEECHES_LLM_TIMEOUT


class OpenAICompatChatModel(ChatOpenAI):
    """``ChatOpenAI`` whose failures are all ``LLMUnavailable``."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        got_any = False
        try:
            for chunk in super()._stream(*args, **kwargs):
                got_any = True
                yield chunk
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - anything from the client means the server cannot be used
            raise self._unavailable(e) from e
        if not got_any:
            raise self._no_completion("an empty event stream")

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        got_any = False
        try:
            async for chunk in super()._astream(*args, **kwargs):
                got_any = True
                yield chunk
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._unavailable(e) from e
        if not got_any:
            raise self._no_completion("an empty event stream")

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(*args, **kwargs)
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._unavailable(e) from e

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return await super()._agenerate(*args, **kwargs)
        except LLMUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._unavailable(e) from e

    def _unavailable(self, error: Exception) -> LLMUnavailable:
        url = self.openai_api_base
        if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException)):
            seconds = getattr(self.request_timeout, "read", self.request_timeout)
            return LLMTimeout(
                f"The LLM server at {url} did not answer within {seconds:g} s (SPEECHES_LLM_TIMEOUT). Check that "
                "it is not overloaded, raise SPEECHES_LLM_TIMEOUT, or set SPEECHES_LLM=extractive."
            )
        if isinstance(error, (openai.APIConnectionError, httpx.TransportError)):
            return LLMUnavailable(
                f"The LLM server at {url} is not reachable ({_root_reason(error)}). Start it, or set "
                "SPEECHES_LLM=extractive."
            )
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            hint = {
                401: "Check SPEECHES_OPENAI_API_KEY",
                403: "Check SPEECHES_OPENAI_API_KEY",
                404: "Check SPEECHES_OPENAI_BASE_URL (it usually ends in /v1) and SPEECHES_OPENAI_MODEL",
            }.get(status, "See the server's log")
            return LLMUnavailable(
                f"The LLM server at {url} answered HTTP {status}: {_short_body(error)}. {hint}, or set "
                "SPEECHES_LLM=extractive."
            )
        return self._no_completion(f"{type(error).__name__}: {_shorten(str(error))}")

    def _no_completion(self, what: str) -> LLMUnavailable:
        return LLMUnavailable(
            f"The LLM server at {self.openai_api_base} sent no OpenAI chat completion ({what}). Check "
            "SPEECHES_OPENAI_BASE_URL, or set SPEECHES_LLM=extractive."
        )


def _root_reason(error: BaseException) -> str:
    """The innermost cause of a connection failure, in a few words."""
    root = error
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, socket.gaierror):
        return "unknown host name"
    return _shorten(str(root) or type(root).__name__)


def _short_body(error: openai.APIStatusError) -> str:
    try:
        body = error.response.text
    except Exception:  # noqa: BLE001 - a streamed body that cannot be read any more
        body = ""
    return _shorten(body or error.message) or "(empty body)"


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_base_url(url: str) -> str:
    """``url`` if it is a usable http(s) URL, else a clear ``LLMUnavailable``."""
    parts = urlsplit(url.strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise LLMUnavailable(
            f"SPEECHES_OPENAI_BASE_URL={url!r} is not an http(s) URL like http://127.0.0.1:8080/v1. Fix it, or "
            "set SPEECHES_LLM=local or extractive."
        )
    return url.strip()


def openai_chat_model(settings) -> OpenAICompatChatModel:
    """The chat model for ``settings`` (no request is made here: the server may start after the app)."""
    base_url = check_base_url(settings.openai_base_url)
    if not settings.openai_model.strip():
        raise LLMUnavailable(
            "SPEECHES_OPENAI_MODEL is empty: set it to the name of a model the server at "
            f"{base_url} serves, or set SPEECHES_LLM=local or extractive."
        )
    return OpenAICompatChatModel(
        base_url=base_url,
        model=settings.openai_model.strip(),
        api_key=settings.openai_api_key or "none",  # the client insists on a key; servers without auth ignore it
        temperature=0,
        max_tokens=settings.max_answer_tokens,
        timeout=httpx.Timeout(settings.llm_timeout, connect=min(_CONNECT_TIMEOUT, settings.llm_timeout)),
        max_retries=1,
        streaming=True,
    )
