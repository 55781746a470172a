"""The local backend: Qwen2.5-Coder-1.5B in this process, through xllamacpp (llama.cpp's own server code).

xllamacpp has no token iterator: ``Server.handle_chat_completions(request, callback)`` blocks and calls ``callback``
with each OpenAI-style ``chat.completion.chunk`` dict as llama.cpp produces it; the callback returning True stops
the generation. ``stream_chat`` turns that into an iterator with a worker thread and a queue (the call releases the
GIL, so the consumer runs while tokens are computed) and stops the generation when the consumer goes away.

Facts about xllamacpp 2026.10 this module relies on:

- Exceptions raised inside the callback are swallowed (they only stop the stream), so the callback does nothing but
  enqueue. Errors from llama.cpp arrive as a dict ``{"error": {...}}`` in the callback; a malformed request raises
  ``ValueError`` from the call itself.
- ``Server(params)`` returns once the model is loaded, and always also opens llama.cpp's HTTP API on
  ``params.hostnames`` (127.0.0.1) and ``params.port`` (0: a free port). Direct calls bypass that listener, so it is
  locked with a random API key nobody knows: another local user cannot use it.
- llama.cpp's OpenMP threads must sleep, not spin, between steps (OMP_WAIT_POLICY=PASSIVE, set before xllamacpp
  loads): on 2 cores shared with another busy process, spinning threads gave 2-3 tokens/s against 8 sleeping.
- One slot (``n_parallel=1``): concurrent requests queue inside llama.cpp, each getting the whole context and both
  cores.
- With ``return_progress`` llama.cpp sends a chunk (``prompt_progress``, no text) after each batch of the prompt it
  reads; the callback's answer to it can stop the request there, so a question abandoned while its prompt is read
  (up to ~20 s on 2 cores) frees the model after one batch. Batches of ``PROMPT_BATCH`` tokens (llama.cpp's default
  is 2048: the whole prompt) read as fast here (bench/llm_raw.py) and take about a second each. ``cache_prompt``
  keeps the slot's KV cache, so a prompt that starts like the previous one (the fixed system prompt) is only
  computed from where it differs; ``cache_ram_mib`` keeps a few earlier prompts' states in RAM too.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from answer.llm.errors import LLMTimeout, LLMUnavailable
from answer.llm.model_file import ensure_model
from settings import quiet_network_clients

_PROMPT_CACHE_RAM_MIB = 512  # llama.cpp's default is 8 GiB; ~28 MB holds one 1,000-token prompt of this model
PROMPT_BATCH = 64  # prompt tokens read between two chances to stop (module doc)

log = logging.getLogger(__name__)
_servers: dict[tuple[str, int, int], Any] = {}
_servers_lock = threading.Lock()


def get_server(model_path: Path | str, threads: int, context: int):
    """The xllamacpp ``Server`` for this model file and these settings, loaded once per process."""
    key = (str(model_path), threads, context)
    with _servers_lock:
        if key not in _servers:
            _servers[key] = _load(*key)
        return _servers[key]


def server_params(model_path: Path | str, threads: int, context: int):
    """xllamacpp ``CommonParams`` for this model: one slot, temperature 0, prompt cache on, llama.cpp's log off
    (failures raise instead), its web UI off. The HTTP listener is locked with a random key; ``serve.py`` opens it."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = context
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_batch = PROMPT_BATCH
    params.n_ubatch = PROMPT_BATCH
    params.sampling.temp = 0.0
    params.cache_prompt = True
    params.cache_ram_mib = _PROMPT_CACHE_RAM_MIB
    params.verbosity = 0
    params.ui = False
    params.api_keys = [secrets.token_urlsafe(32)]
    return params


def _load(model_path: str, threads: int, context: int):
    quiet_network_clients()  # before libgomp loads with xllamacpp: it reads OMP_WAIT_POLICY (PASSIVE) only then
    try:
        import xllamacpp
    except ImportError as e:
        raise LLMUnavailable(
            "Package xllamacpp is not installed: pip install xllamacpp==2026.10.11549, or set SPEECHES_LLM=openai "
            "or extractive."
        ) from e
    try:
        return xllamacpp.Server(server_params(model_path, threads, context))
    except RuntimeError as e:
        raise LLMUnavailable(
            f"llama.cpp could not load the local model {model_path} (it needs about 2 GB of free memory). "
            "Free memory, or set SPEECHES_LLM=openai or extractive."
        ) from e


def stream_chat(server, request: dict, timeout: float) -> Iterator[dict]:
    """Yield the ``chat.completion.chunk`` dicts of a streaming ``request`` as llama.cpp produces them, and its
    progress through the prompt (chunks with ``prompt_progress`` and no text) while it reads that.

    ``timeout`` bounds the wait for each chunk (the first one included, so it covers reading the prompt), like an
    HTTP read timeout. Closing the iterator early stops the generation at the next token (or the next batch of the
    prompt) and returns once llama.cpp has let go of the request, so the model is free for the next one.
    """
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    done = object()
    tokens = 0

    def on_chunk(chunk: dict) -> bool:
        chunks.put(chunk)
        return stop.is_set()

    def run() -> None:
        try:
            server.handle_chat_completions({**request, "stream": True, "return_progress": True}, on_chunk)
        except Exception as e:  # noqa: BLE001 - handed to the consumer, which raises it as LLMUnavailable
            chunks.put(e)
        finally:
            chunks.put(done)

    worker = threading.Thread(target=run, name="llm-generate", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = chunks.get(timeout=timeout)
            except queue.Empty:
                raise LLMTimeout(
                    f"The local model produced nothing for {timeout:.0f} s (SPEECHES_LLM_TIMEOUT); the machine may "
                    "be overloaded. Raise SPEECHES_LLM_TIMEOUT or set SPEECHES_LLM=extractive."
                ) from None
            if item is done:
                return
            if isinstance(item, Exception):
                raise LLMUnavailable(f"The local model rejected the request: {item}") from item
            if "error" in item:
                raise LLMUnavailable(_error_message(item["error"]))
            tokens += "prompt_progress" not in item
            yield item
    except GeneratorExit:  # closed by its reader: wait until llama.cpp has let go (its next token or prompt batch)
        stop.set()
        worker.join(timeout)
        log.info("local model: stopped after %d tokens, its reader gone", tokens)
        raise
    finally:
        stop.set()

def _error_message(error: dict) -> str:
    if error.get("type") == "exceed_context_size_error":
        return (
            f"The prompt ({error.get('n_prompt_tokens')} tokens) does not fit the local model's context "
            f"({error.get('n_ctx')} tokens). Raise SPEECHES_LLM_CONTEXT or lower SPEECHES_ANSWER_PASSAGES."
        )
    return f"The local model failed: {error.get('message', error)} (HTTP {error.get('code', '?')})."


class LocalChatModel(BaseChatModel):
    """A LangChain chat model over the in-process llama.cpp server. Temperature 0: the same question over the same
    passages gets the same answer. ``max_tokens`` can be overridden per call (``llm.invoke(msgs, max_tokens=32)``)."""

    model_path: str
    threads: int = 2
    context: int = 4096
    max_tokens: int = 384
    timeout: float = 120.0
    cache_prompt: bool = True  # off only to time prompt reading from scratch (bench/llm_raw.py)

    @property
    def _llm_type(self) -> str:
        return "xllamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "threads": self.threads, "context": self.context}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any) -> dict:
        """The llama.cpp chat request for ``messages`` (OpenAI format)."""
        request = {
            "messages": convert_to_openai_messages(messages),
            "temperature": 0.0,
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "cache_prompt": self.cache_prompt,
        }
        if stop:
            request["stop"] = stop
        return request

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        server = get_server(self.model_path, self.threads, self.context)
        for item in stream_chat(server, self._request(messages, stop, **kwargs), self.timeout):
            chunk = _to_chunk(item)
            if chunk is None:
                continue
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


def _to_chunk(item: dict) -> ChatGenerationChunk | None:
    """One llama.cpp stream chunk as a LangChain chunk: the text delta, and on the last one the finish reason, the
    token counts and llama.cpp's timings (prompt/generation speed, tokens reused from the cache). Progress through
    the prompt is an empty chunk: it lets the consumer see the stream is alive (answer/events.py)."""
    if "prompt_progress" in item:
        return ChatGenerationChunk(message=AIMessageChunk(content=""))
    choices = item.get("choices") or [{}]
    text = (choices[0].get("delta") or {}).get("content") or ""
    finish = choices[0].get("finish_reason")
    timings = item.get("timings")
    if not text and not finish and not timings:
        return None  # the opening "role: assistant" chunk
    metadata, usage = {}, None
    if finish or timings:
        metadata = {"finish_reason": finish, "timings": timings or {}}
    if timings:
        prompt_tokens = timings.get("cache_n", 0) + timings.get("prompt_n", 0)
        completion_tokens = timings.get("predicted_n", 0)
        usage = {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return ChatGenerationChunk(message=AIMessageChunk(content=text, response_metadata=metadata, usage_metadata=usage))


def local_chat_model(settings) -> LocalChatModel:
    """Assemble the model file if needed, load it (once per process) and wrap it."""
    path = ensure_model(settings.models_dir)
    get_server(path, settings.threads, settings.llm_context)
    return LocalChatModel(
        model_path=str(path),
        threads=settings.threads,
        context=settings.llm_context,
        max_tokens=settings.max_answer_tokens,
        timeout=settings.llm_timeout,
    )
