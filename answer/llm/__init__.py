"""The LLM that writes answers, as a LangChain chat model: ``load_chat_model(settings)``.

``SPEECHES_LLM`` picks the backend: ``local`` (the bundled Qwen2.5 GGUF in this process, ``local.py``), ``openai``
(an OpenAI-compatible server, ``openai_compat.py``) or ``extractive`` (no LLM: ``None``). Every failure to use the
LLM, at load or while answering, is ``LLMUnavailable`` with a one-line message for the user.
"""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from answer.llm.errors import LLMUnavailable

__all__ = ["LLMUnavailable", "load_chat_model"]


def load_chat_model(settings) -> BaseChatModel | None:
    """The chat model ``settings`` ask for, ready to ``invoke``/``stream``; ``None`` for ``extractive``.

    The local model is assembled (first run) and loaded here, once per process: calling this again is cheap.
    The backends are imported only when chosen, so ``extractive`` needs neither xllamacpp nor openai.
    """
    if settings.llm == "extractive":
        return None
    if settings.llm == "openai":
        from answer.llm.openai_compat import openai_chat_model

        return openai_chat_model(settings)
    from answer.llm.local import local_chat_model

    return local_chat_model(settings)
