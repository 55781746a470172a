"""The JSON API: the same functions and the same JSON as the CLI (``python app.py ask|compare --json``,
``python -m ingest --list --json``), plus streamed variants for the embed page.

Errors are ``{"error": "one line for the user"}`` with 400 (bad input), 404 (unknown speech), 503 (the LLM or the
library cannot be used) or 500. Streams are NDJSON (one JSON object a line, each the ``as_json()`` of an event of
answer/events.py): ``{"queue": {"position": n, "waiting": m, "text": "..."}}`` while the question waits its turn for
the local model (position 1 = next; sent again when it changes), ``{"delta": "..."}`` pieces of answer text, then one
``{"answer": {...}, "markdown": "..."}`` (or ``{"comparison": ...}``), or ``{"error": ..., "status": ...}`` when it
failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from answer.events import follow
from ingest.store import listing_json, speech_labels
from web import render
from web.errors import friendly_error
from web.feedback import record_feedback
from web.security import request_user
from web.streams import closing_stream

log = logging.getLogger(__name__)

# -- schemas (documentation of Answer.as_json() / Comparison.as_json(); tests check they match) ----------------


class CitationOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int | str = Field(description="The label as a number (\"1\" -> 1) or as text (\"A1\")")
    label: str = Field(description="What the answer's [markers] say: '1', or 'A1'/'B2' in a comparison")
    speech_id: str
    title: str
    date: str | None
    start: int = Field(description="Character offset of the passage in the speech text (GET /api/speeches/{id})")
    end: int
    text: str = Field(description="The passage: speech_text[start:end]")
    section: str | None
    score: float
    also_in: list[str] = Field(
        description="Other speeches holding this very text: it is shown once, under its best-ranked copy"
    )


class RunOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="A piece of text, shown as it is (a quote keeps its brackets)")
    cite: str | None = Field(None, description="Or a reference to the citation with this label (a chip)")
    flag: int | None = Field(None, description="In a flagged sentence: its index in unsupported_sentences")


class BlockOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["paragraph", "item"] = Field(description="A paragraph, or a list item (consecutive items: a list)")
    runs: list[RunOut]


class AnswerOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    standalone_question: str = Field(description="The question after rewriting a follow-up with the conversation")
    answer: str = Field(description="Answer text with [n] citation markers")
    segments: list[BlockOut] = Field(description="The answer laid out: draw these, never parse `answer` (text "
                                     "quoted from a speech may hold brackets that are no markers)")
    found: bool = Field(description="False: the speeches do not address the question")
    citations: list[CitationOut] = Field(description="The cited passages, in order of first citation")
    context: list[CitationOut] = Field(description="Every passage numbered into the prompt")
    unsupported_sentences: list[str] = Field(description="Answer sentences their citations do not support")
    dropped_markers: list[str]
    backend: str
    relevance: float


class SpeechSideOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Literal["A", "B"]
    speech_id: str
    title: str
    date: str | None
    found: bool
    passages: list[CitationOut]


class ComparisonOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str
    answer: str = Field(description="What each says, shared, different; [A1]/[B2] markers")
    segments: list[BlockOut] = Field(description="The comparison laid out, as in AnswerOut")
    found: bool
    citations: list[CitationOut]
    unsupported_sentences: list[str]
    dropped_markers: list[str]
    speeches: dict[Literal["A", "B"], SpeechSideOut]
    backend: str


class SpeechOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    date: str | None
    year: int | None
    speaker: str | None
    occasion: str | None
    source: str
    passages: int
    characters: int
    ingested_at: str
    extra: dict[str, str] = Field(description="Other metadata; sample: \"true\" marks the sample speeches (示例)")
    label: str = Field(description="How lists name it: title and date, plus the id where those repeat")


class SpeechTextOut(BaseModel):
    speech: SpeechOut
    text: str = Field(description="The whole normalised text; citation offsets index into it")


class TopicStrengthOut(BaseModel):
    speech_id: str
    title: str
    date: str | None
    year: int | None
    label: str = Field(description="How lists name it (as in /api/speeches)")
    score: float = Field(description="0..1: how strongly the speech addresses the topic")


class ErrorOut(BaseModel):
    error: str


class HistoryItem(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    citations: list[dict] = Field(default_factory=list, description="Optional: the cited passages of an answer "
                                  "(their speech_id lets 'this speech' in a follow-up resolve)")


class AskRequest(BaseModel):
    question: str = Field(examples=["今年的经济增速目标是什么？"])
    history: list[HistoryItem] = Field(default_factory=list, description="Earlier turns, oldest first")
    speech_ids: list[str] | None = Field(None, description="Search only these speeches")
    years: tuple[int | None, int | None] | None = Field(None, description="[from, to], inclusive; null = open")


class CompareRequest(BaseModel):
    speech_a: str
    speech_b: str
    topic: str = Field(examples=["营商环境"])


class FeedbackRequest(BaseModel):
    vote: Literal["up", "down"]
    answer: dict = Field(description="The answer as returned by /api/ask (question, answer and citations are kept)")


_ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 503)}


def _error(error: BaseException, language: str) -> JSONResponse:
    status, message = friendly_error(error, language)
    return JSONResponse({"error": message}, status_code=status)


def _ndjson(items: Iterator[dict | None]) -> StreamingResponse:
    """One JSON object a line; the stream (and the answer behind it) is closed when the client goes away."""
    lines = closing_stream(items, lambda item: json.dumps(item, ensure_ascii=False) + "\n")
    return StreamingResponse(lines, media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _stream(start: Callable[[], Iterator], to_markdown: Callable[[dict], str],
            language: str = "zh") -> Iterator[dict | None]:
    """The lines of an answer stream; None for an event without one (a pulse: web/streams.py skips it)."""
    replies = None
    try:
        replies = follow(start())
        for reply in replies:
            line = reply.event.as_json()
            if reply.result is not None:  # the last line: the result, and its Markdown for copying
                line["markdown"] = to_markdown(line[reply.result.kind])
            yield line
    except Exception as error:  # the stream has begun (200): the error travels as its last line
        status, message = friendly_error(error, language)
        yield {"error": message, "status": status}
    finally:
        if replies is not None:
            replies.close()


def api_router(assistant, settings) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["speeches"])

    def ask_args(body: AskRequest) -> dict:
        return {"question": body.question, "history": [h.model_dump(exclude_unset=True) for h in body.history],
                "speech_ids": body.speech_ids or None, "years": body.years}

    @router.post("/ask", response_model=None, responses={200: {"model": AnswerOut}, **_ERRORS},
                 summary="Answer a question from the speeches, with citations")
    def ask(body: AskRequest):
        try:
            return assistant.ask(**ask_args(body)).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/ask/stream", response_model=None,
                 responses={200: {"content": {"application/x-ndjson": {}},
                                  "description": "NDJSON: {queue} lines while waiting for the LLM, {delta} lines, "
                                                 "then {answer, markdown} or {error, status}"}},
                 summary="The same answer, streamed")
    def ask_stream(body: AskRequest):
        return _ndjson(_stream(lambda: assistant.ask_stream(**ask_args(body)), render.answer_markdown,
                               settings.language))

    @router.post("/compare", response_model=None, responses={200: {"model": ComparisonOut}, **_ERRORS},
                 summary="Compare what two speeches say about a topic")
    def compare(body: CompareRequest):
        try:
            return assistant.compare(body.speech_a, body.speech_b, body.topic).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/compare/stream", response_model=None,
                 responses={200: {"content": {"application/x-ndjson": {}},
                                  "description": "NDJSON: {queue}, {delta} lines, then {comparison, markdown} "
                                                 "or {error}"}},
                 summary="The same comparison, streamed")
    def compare_stream(body: CompareRequest):
        return _ndjson(_stream(lambda: assistant.compare_stream(body.speech_a, body.speech_b, body.topic),
                               render.comparison_markdown, settings.language))

    @router.get("/speeches", response_model=None,
                responses={200: {"model": list[SpeechOut]}, 503: {"model": ErrorOut}},
                summary="The speeches in the library")
    def speeches():
        try:
            return listing_json(assistant.store.list_speeches())
        except Exception as error:
            return _error(error, settings.language)

    @router.get("/speeches/{speech_id}", response_model=None, responses={200: {"model": SpeechTextOut}, **_ERRORS},
                summary="One speech with its whole text (what citation offsets point into)")
    def speech(speech_id: str):
        try:
            record = assistant.store.get_speech(speech_id)
            label = speech_labels(assistant.store.list_speeches()).get(speech_id, record.title)
            return {"speech": {**record.as_dict(), "label": label}, "text": assistant.store.speech_text(speech_id)}
        except Exception as error:
            return _error(error, settings.language)

    @router.get("/topic-strength", response_model=None, responses={200: {"model": list[TopicStrengthOut]}, **_ERRORS},
                summary="How strongly each speech addresses a topic (the comparison chart)")
    def topic_strength(topic: str = Query(..., examples=["营商环境"])):
        try:
            return assistant.topic_strength(topic)
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/feedback", responses={400: {"model": ErrorOut}}, summary="Thumbs up or down on an answer")
    def feedback(body: FeedbackRequest, request: Request) -> dict:
        user = request_user(request.scope, request.headers, settings.trusted_user_header)
        record_feedback(settings.data_dir, body.answer, body.vote, user=user, source="api")
        return {"ok": True}

    return router
