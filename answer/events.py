"""What an answer stream yields, and the one way to consume it.

``Assistant.ask_stream`` and ``compare_stream`` yield typed events: first ``Evidence`` (the quotes the answer rests
on, chosen in code right after retrieval: shown at once, before any LLM runs), then ``Delta`` (a piece of the LLM's
synthesis, which streams below the evidence), ``Queued`` (the request waits its turn for the local model), ``Pulse``
(nothing new: the stream is alive), and last ``Done`` (the finished ``Answer`` or ``Comparison``). A stream that
ends without an answer worth quoting (nothing found) has no ``Evidence``.

A stream never goes quiet for more than about a second while it waits (for its turn, for the model to read its
prompt): it yields a ``Pulse`` (or ``Queued`` again), so whoever consumes it gets control
back and can notice that its reader went away (a closed browser tab, an aborted fetch, the 停止 button) and close the
stream. Closing it stops the work at once: the LLM stops at its next token and its slot is free. Every consumer
closes the stream it iterates when it is itself closed (``follow`` here; web/streams.py for the JSON API; the chat's
handlers).
Consumers never sort events by type: ``follow(stream)`` folds each into a ``Reply`` (the answer as far as it has
come) and yields it, and the CLI, the JSON API and the UI render the reply; the API sends ``reply.event.as_json()``
as its NDJSON line. Each event says how it changes a reply (``apply``) and what its line is (``as_json``), so a new
kind of event is one class here (and, where a page should show it, a field of ``Reply`` it renders).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from answer.segments import Block
from answer.types import Answer, Citation, Comparison


@dataclass(frozen=True)
class Evidence:
    """The quotes the answer rests on, laid out (``segments``: the code's lines, each quote with its chip) with the
    citations they refer to. Sent once, before the synthesis streams."""

    segments: tuple[Block, ...]
    citations: tuple[Citation, ...]

    def apply(self, reply: Reply) -> None:
        reply.evidence = self

    def as_json(self) -> dict:
        return {"evidence": {"segments": [b.as_json() for b in self.segments],
                             "citations": [c.as_json() for c in self.citations]}}


@dataclass(frozen=True)
class Delta:
    """The next piece of answer text."""

    text: str

    def apply(self, reply: Reply) -> None:
        reply.text += self.text
        reply.queued = None

    def as_json(self) -> dict:
        return {"delta": self.text}


@dataclass(frozen=True)
class Queued:
    """The request waits its turn for the LLM; ``position`` 1 is next, ``waiting`` wait in all."""

    position: int
    waiting: int

    def text(self) -> str:
        return f"（排队中：您是第 {self.position} 位，共 {self.waiting} 人在等待本机模型……）"

    def apply(self, reply: Reply) -> None:
        reply.queued = self

    def as_json(self) -> dict:
        return {"queue": {"position": self.position, "waiting": self.waiting, "text": self.text()}}


@dataclass(frozen=True)
class Done:
    """The finished result; the last event of a stream."""

    result: Answer | Comparison

    def apply(self, reply: Reply) -> None:
        reply.result = self.result
        reply.queued = None

    def as_json(self) -> dict:
        return {self.result.kind: self.result.as_json()}


@dataclass(frozen=True)
class Pulse:
    """Nothing new to show; the stream is alive (see the module doc). No NDJSON line."""

    def apply(self, reply: Reply) -> None:
        pass

    def as_json(self) -> None:
        return None


Event = Evidence | Delta | Queued | Pulse | Done


@dataclass
class Reply:
    """A stream's answer as far as it has come."""

    evidence: Evidence | None = None  # set by Evidence: shown above the text
    text: str = ""  # the synthesis text streamed so far
    queued: Queued | None = None  # set while the request waits for the LLM
    result: Answer | Comparison | None = None  # set by Done
    event: Event | None = None  # the event last added

    def add(self, event: Event) -> Reply:
        event.apply(self)
        self.event = event
        return self

    def showing(self) -> str:
        """What a page shows while the answer streams: the text so far, and where in the queue it waits."""
        return self.text + (self.queued.text() if self.queued else "")


def follow(stream: Iterable[Event]) -> Iterator[Reply]:
    """The reply after each event of ``stream`` (one ``Reply``, updated in place). Closing it closes ``stream``."""
    reply = Reply()
    try:
        for event in stream:
            yield reply.add(event)
    finally:
        close(stream)


def close(stream: Iterable) -> None:
    """Close a stream (a generator) that its reader gave up on; anything else is left alone."""
    closing = getattr(stream, "close", None)
    if closing is not None:
        closing()


def collect(stream: Iterable[Event]) -> Reply:
    """The reply once ``stream`` has ended."""
    reply = Reply()
    for event in stream:
        reply.add(event)
    return reply
