"""The one error the answering layer has to handle from any LLM backend."""

from __future__ import annotations


class LLMUnavailable(RuntimeError):
    """The LLM cannot be used right now. The message is one line for the user: what is wrong and which setting
    (or install step) fixes it. The underlying exception, if any, is kept as ``__cause__`` for the logs."""


class LLMTimeout(LLMUnavailable):
    """The LLM did not answer within SPEECHES_LLM_TIMEOUT (slow or overloaded, not necessarily down)."""
