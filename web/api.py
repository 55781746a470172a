"""The JSON API: the same functions and the same JSON as the CLI (``python app.py ask|compare --json``,
``python -m ingest --list --json``), plus streamed variants for the embed page.

Errors are ``{"error": "one line for the user"}`` with 400 (bad input: malformed or too deeply nested JSON, invalid
UTF-8, unpaired surrogates, wrong types, unknown fields, a blank question, years outside 1900-2100, a history over
its limits), 404 (unknown speech or route), 405, 413 (body over SPEECHES_MAX_BODY_KB: web/limits.py), 503 (the LLM
or the library cannot be used) or 500; the OpenAPI schema lists only these (FastAPI's unsent 422 is removed).
Streams are NDJSON (one JSON object a line, each the ``as_json()`` of an event of answer/events.py):
``{"evidence": {"segments": [...], "citations": [...]}}`` first, the quotes the answer rests on (within a fraction of
a second, before any LLM runs), ``{"queue": {"position": n, "waiting": m, "text": "..."}}`` while the question waits
its turn for the local model (position 1 = next; sent again when it changes), ``{"delta": "..."}`` pieces of the
LLM's synthesis (shown below the evidence), then one
``{"answer": {...}, "markdown": "..."}`` (or ``{"comparison": ...}``), or ``{"error": ..., "status": ...}`` when it
failed after it began; what fails before the first line is a plain error response, as above.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from answer.events import close, follow
from ingest.store import listing_json, speech_labels
from web import render
from web.errors import friendly_error, http_refusal
from web.feedback import record_feedback
from web.security import request_user, route_path
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


class BlockOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["paragraph", "item"] = Field(description="A paragraph, or a list item (consecutive items: a list)")
    runs: list[RunOut]


class AnswerOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    standalone_question: str = Field(description="The question after rewriting a follow-up with the conversation, "
                                     "naming the speeches it names by title")
    answer: str = Field(description="Answer text with [n] citation markers")
    segments: list[BlockOut] = Field(description="The answer laid out: draw these, never parse `answer` (text "
                                     "quoted from a speech may hold brackets that are no markers)")
    found: bool = Field(description="False: the speeches do not address the question (decided in code from the "
                        "quotes, not by the model)")
    citations: list[CitationOut] = Field(description="The cited quotes (or nearest passages), in order of first "
                                         "citation")
    context: list[CitationOut] = Field(description="The evidence: the sentences quoted for the question (what the LLM "
                                       "is given), or, when nothing was found, the nearest passages")
    unsupported_sentences: list[str] = Field(description="Sentences the model wrote that their citations do not "
                                             "support: left out of the answer")
    dropped_markers: list[str]
    backend: str
    relevance: float
    degraded: bool = Field(description="True: the LLM could not be used (down, or slower than "
                           "SPEECHES_LLM_TIMEOUT); the answer is the evidence alone")
    degraded_reason: str | None = Field(description="Why, in one line for the user")


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
    degraded: bool
    degraded_reason: str | None


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
    vectors: int = Field(description="Passages embedded so far (of passages): dense search uses the speech once "
                                     "all are; keyword search from the moment it is stored")
    state: str = Field(description="keyword (answerable by keywords, no vector yet), vectors (being embedded) or "
                                   "complete")


class SpeechTextOut(BaseModel):
    speech: SpeechOut
    text: str = Field(description="The whole normalised text; citation offsets index into it")


class ErrorOut(BaseModel):
    error: str


# -- requests: every string is checked for unpaired surrogates (JSON "\\ud800" decodes to one, and it cannot be
# encoded back), lists and texts the service does not bound by a setting are bounded here -------------------------


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds invalid characters (unpaired UTF-16 surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]
SpeechId = Annotated[Text, Field(min_length=1, max_length=200)]
Year = Annotated[int, Field(strict=True, ge=1900, le=2100)]


def _short(chars: int, **extra):
    return Annotated[Text, Field(max_length=chars, **extra)]


class CitedSpeech(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a whole citation may be sent back; only its speech_id is used
    speech_id: SpeechId | None = None


class HistoryItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: Text
    citations: list[CitedSpeech] = Field(default_factory=list, max_length=100,
                                         description="Optional: the cited passages of an answer (their speech_id lets "
                                                     "'this speech' in a follow-up resolve)")


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Text = Field(examples=["今年的经济增速目标是什么？"],
                           description="At most SPEECHES_MAX_QUESTION_CHARS (2000) characters, some of them visible")
    history: list[HistoryItem] = Field(default_factory=list,
                                       description="Earlier turns, oldest first: at most SPEECHES_MAX_HISTORY_TURNS "
                                                   "(20) messages of SPEECHES_MAX_HISTORY_CHARS (24000) characters "
                                                   "in all; send the most recent ones")
    speech_ids: list[SpeechId] | None = Field(None, max_length=1000, description="Search only these speeches")
    years: tuple[Year | None, Year | None] | None = Field(
        None, description="[from, to], inclusive, 1900-2100; null = open")


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speech_a: SpeechId
    speech_b: SpeechId
    topic: Text = Field(examples=["营商环境"], description="At most SPEECHES_MAX_QUESTION_CHARS characters")


class FeedbackCitation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    label: _short(10) | int | None = None
    speech_id: _short(200) | None = None
    title: _short(500) | None = None
    date: _short(40) | None = None
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    text: _short(10_000) | None = None


class FeedbackAnswer(BaseModel):
    """What is kept of an answer with a vote; the rest of /api/ask's answer may be sent and is ignored."""

    model_config = ConfigDict(extra="ignore")
    question: _short(20_000) = ""
    answer: _short(20_000) = ""
    citations: list[FeedbackCitation] = Field(default_factory=list, max_length=50)
    unsupported_sentences: list[_short(5_000)] = Field(default_factory=list, max_length=50)
    backend: _short(40) = ""


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vote: Literal["up", "down"]
    answer: FeedbackAnswer = Field(description="The answer as returned by /api/ask (question, answer and citations "
                                               "are kept)")


_ERROR_WHEN = {400: "Bad input (the message says what)", 404: "Unknown speech", 413: "The body is over "
               "SPEECHES_MAX_BODY_KB", 503: "The LLM or the library cannot be used now"}


def _responses(ok: dict, *codes: int) -> dict:
    """The responses a route really sends: ``ok`` for 200 and ``{"error"}`` for each of ``codes``."""
    return {200: ok, **{code: {"model": ErrorOut, "description": _ERROR_WHEN[code]} for code in codes}}


def _error(error: BaseException, language: str) -> JSONResponse:
    status, message = friendly_error(error, language)
    return JSONResponse({"error": message}, status_code=status)


def _ndjson(items: Iterator[dict | None]) -> StreamingResponse:
    """One JSON object a line; the stream (and the answer behind it) is closed when the client goes away."""
    lines = closing_stream(items, lambda item: json.dumps(item, ensure_ascii=False) + "\n")
    return StreamingResponse(lines, media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _streamed(start: Callable[[], Iterator], to_markdown: Callable[[dict], str], language: str):
    """The NDJSON response; what fails before the first event (bad input, an unknown speech, the library down) is
    answered at once as a plain ``{"error"}`` with its status, like the unstreamed route."""
    try:
        events = start()
        first = next(events, None)
    except Exception as error:
        return _error(error, language)
    return _ndjson(_stream(lambda: _prepended(first, events), to_markdown, language))


def _prepended(first, events: Iterator) -> Iterator:
    """``first``, then the rest of ``events``; closing it closes ``events`` (the answer behind them)."""
    try:
        if first is not None:
            yield first
        yield from events
    finally:
        close(events)


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

    @router.post("/ask", response_model=None, responses=_responses({"model": AnswerOut}, 400, 404, 413, 503),
                 summary="Answer a question from the speeches, with citations")
    def ask(body: AskRequest):
        try:
            return assistant.ask(**ask_args(body)).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/ask/stream", response_model=None,
                 responses=_responses({"content": {"application/x-ndjson": {}},
                                       "description": "NDJSON: {evidence} first, {queue} lines while waiting for "
                                                      "the LLM, {delta} lines, then {answer, markdown} or "
                                                      "{error, status}"},
                                      400, 404, 413, 503),
                 summary="The same answer, streamed")
    def ask_stream(body: AskRequest):
        return _streamed(lambda: assistant.ask_stream(**ask_args(body)), render.answer_markdown, settings.language)

    @router.post("/compare", response_model=None,
                 responses=_responses({"model": ComparisonOut}, 400, 404, 413, 503),
                 summary="Compare what two speeches say about a topic")
    def compare(body: CompareRequest):
        try:
            return assistant.compare(body.speech_a, body.speech_b, body.topic).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/compare/stream", response_model=None,
                 responses=_responses({"content": {"application/x-ndjson": {}},
                                       "description": "NDJSON: {evidence}, {queue}, {delta} lines, then "
                                                      "{comparison, markdown} or {error, status}"},
                                      400, 404, 413, 503),
                 summary="The same comparison, streamed")
    def compare_stream(body: CompareRequest):
        return _streamed(lambda: assistant.compare_stream(body.speech_a, body.speech_b, body.topic),
                         render.comparison_markdown, settings.language)

    @router.get("/speeches", response_model=None,
                responses=_responses({"model": list[SpeechOut]}, 503),
                summary="The speeches in the library")
    def speeches():
        try:
            return listing_json(assistant.store.list_speeches())
        except Exception as error:
            return _error(error, settings.language)

    @router.get("/speeches/{speech_id}", response_model=None,
                responses=_responses({"model": SpeechTextOut}, 404, 503),
                summary="One speech with its whole text (what citation offsets point into)")
    def speech(speech_id: str):
        try:
            record = assistant.store.get_speech(speech_id)
            label = speech_labels(assistant.store.list_speeches()).get(speech_id, record.title)
            return {"speech": {**record.as_dict(), "label": label}, "text": assistant.store.speech_text(speech_id)}
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/feedback", response_model=None, responses=_responses({"description": '{"ok": true}'}, 400, 413),
                 summary="Thumbs up or down on an answer")
    def feedback(body: FeedbackRequest, request: Request):
        user = request_user(request.scope, request.headers, settings.trusted_user_header)
        try:
            record_feedback(settings.data_dir, body.answer.model_dump(), body.vote, user=user, source="api")
        except Exception as error:
            return _error(error, settings.language)
        return {"ok": True}

    from web.study_api import add_routes  # quote check, topic, outline, Word export (imports this module)

    add_routes(router, assistant, settings)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]  # OPTIONS stays with CORS

    @router.api_route("/{rest:path}", methods=methods, include_in_schema=False)
    def unknown_route(request: Request):
        """Any other /api/ path (Gradio, mounted at /, would answer it in its own shape): 405 for a known path
        asked with another method, else 404."""
        path = route_path(request.scope)
        allowed = sorted({m for r in router.routes if isinstance(r, APIRoute) and r.endpoint is not unknown_route
                          and r.path_regex.match(path) for m in r.methods})
        if allowed:
            return JSONResponse({"error": f"{path} 不接受 {request.method} 请求（可用：{', '.join(allowed)}）"},
                                status_code=405, headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"error": f"没有这个接口：{path}（接口说明见 /docs）"}, status_code=404)

    return router


def install(app: FastAPI, assistant, settings) -> None:
    """The API on ``app``: its routes, one error shape (``{"error": ...}``) for whatever FastAPI refuses, and an
    OpenAPI schema without the 422 responses FastAPI lists but this app never sends."""
    app.include_router(api_router(assistant, settings))

    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error(error, settings.language)  # web/errors.py names each field and what is wrong with it

    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        status, message = http_refusal(error, settings.language)
        return JSONResponse({"error": message}, status_code=status, headers=getattr(error, "headers", None))

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    default_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = default_openapi()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        return app.openapi_schema

    app.openapi = openapi
