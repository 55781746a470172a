"""The JSON routes of the study tools (study/) and the Word export, added to web/api.py's router (before its
catch-all): the same functions and JSON as ``python app.py verify|topic --json``.

- ``POST /api/verify {"text"}``: the quote check (``QuoteCheck.as_json()``);
- ``GET /api/topic?topic=``: a topic across the library (``TopicView.as_json()``);
- ``GET /api/speeches/{id}/outline``: a speech's headings, figures and formulas (``Outline.as_json()``);
- ``POST /api/export/docx``: an answer, a comparison, a quote check or a topic view, as the API returned it, as a
  Word document (web/word.py). Which one it is, is told by its fields (``sentences``: a quote check; ``speeches`` an
  object of A and B: a comparison; a list: a topic view; ``question``: an answer); each is checked against its
  schema. The fields the document uses are bounded (lengths, counts); the others a result carries (scores,
  ``context`` of an answer beyond the cited passages…) are ignored, as ``/api/feedback`` does, so a result can be
  posted back as it came.

Errors as in web/api.py: ``{"error": ...}`` with 400, 404, 413 or 503.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from study.outline import speech_outline
from study.quotes import check_quotes
from study.topic import follow_topic
from web import word
from web.api import SpeechId, Text, _error, _responses, _short

# -- answers (documentation of the as_json() of study/; tests check they match) ------------------------------------


class DiffOpOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["same", "changed", "dropped", "added", "elided"] = Field(
        description="dropped: in the speech, left out of the quote; added: in the quote, not in the speech; elided: "
                    "left out where the quote says ……")
    source: str = Field(description="The speech's text of this piece")
    text: str = Field(description="The quote's text of this piece")
    significant: bool = Field(description="The change touches a number, a negation or a direction (增长/下降, 以上…)")
    why: list[Literal["number", "negation", "direction"]]


class NearPassageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speech_id: str
    title: str
    date: str | None
    start: int
    end: int
    text: str


class CheckedQuoteOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The quote as the draft has it")
    at: list[int] = Field(description="[start, end] of the quote in the text sent")
    quoted: bool = Field(description="It stood in quotation marks")
    status: Literal["exact", "altered", "not_found"]
    speech_id: str | None
    title: str | None
    date: str | None
    start: int | None = Field(description="Offset in the speech text (GET /api/speeches/{id}): "
                                          "speech_text[start:end] == source_text")
    end: int | None
    source_text: str | None
    similarity: float = Field(description="0..1, difflib's ratio of the quote's words to the source's")
    diff: list[DiffOpOut] = Field(description="From the source to the quote, piece by piece")
    also_in: list[str] = Field(description="Other speeches that hold the quote word for word")
    nearest: list[NearPassageOut] = Field(description="not_found: the passages nearest to it")


class VerifyOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sentences: list[CheckedQuoteOut]
    counts: dict[Literal["exact", "altered", "not_found"], int]


class TopicQuoteOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speech_id: str
    title: str
    date: str | None
    label: str
    start: int = Field(description="speech_text[start:end] == text")
    end: int
    text: str


class TopicSpeechOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speech_id: str
    title: str
    date: str | None
    year: int | None
    strength: float = Field(description="0..1: the share of the speech's passages on the topic")
    on_topic: int
    passages_total: int
    passages: list[TopicQuoteOut] = Field(description="Its best quotes on the topic")


class TopicYearOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int | None
    speeches: int
    addressing: int
    strength: float = Field(description="The share of that year's passages on the topic")
    on_topic: int
    passages_total: int


class TopicOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str
    addressing: int = Field(description="Speeches on the topic in all")
    listed: int = Field(description="Speeches listed (the strongest, at most 300), in date order")
    speeches: list[TopicSpeechOut]
    years: list[TopicYearOut]


class HeadingOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int
    text: str
    start: int = Field(description="speech_text[start:end] == text")
    end: int
    kind: Literal["heading", "item", "paragraph"]


class FigureOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    clause: str
    start: int
    end: int
    kind: Literal["target", "figure"]


class FormulaOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    start: int
    end: int
    mentions: list[list[int]]
    other_speeches: int = Field(description="Other speeches of the library that hold it")


class OutlineOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speech_id: str
    title: str
    date: str | None
    headings: list[HeadingOut]
    figures: list[FigureOut]
    formulas: list[FormulaOut]


# -- requests -------------------------------------------------------------------------------------------------------

class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text = Field(examples=["“今年全市经济增长的预期目标是5%左右。”"],
                       description="A draft with quotations, or one sentence: at most SPEECHES_MAX_VERIFY_CHARS "
                                   "(10000) characters")


class _Cited(BaseModel):
    """A quoted passage of a result: what a footnote says of it."""

    model_config = ConfigDict(extra="ignore")
    label: _short(10) | int | None = None
    speech_id: SpeechId
    title: _short(500) = ""
    date: _short(40) | None = None
    start: int = Field(0, ge=0)
    end: int = Field(0, ge=0)
    text: _short(20_000) = ""


class _Run(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: _short(20_000) | None = None
    cite: _short(10) | None = None
    flag: int | None = Field(None, ge=0)


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["paragraph", "item"]
    runs: list[_Run] = Field(max_length=2000)


class AnswerDoc(BaseModel):
    """An answer as /api/ask returned it."""

    model_config = ConfigDict(extra="ignore")
    question: _short(20_000)
    segments: list[_Block] = Field(max_length=500)
    citations: list[_Cited] = Field(default_factory=list, max_length=100)
    context: list[_Cited] = Field(default_factory=list, max_length=100)
    unsupported_sentences: list[_short(5_000)] = Field(default_factory=list, max_length=100)


class _Side(BaseModel):
    model_config = ConfigDict(extra="ignore")
    speech_id: SpeechId
    title: _short(500) = ""
    date: _short(40) | None = None
    passages: list[_Cited] = Field(default_factory=list, max_length=50)


class ComparisonDoc(BaseModel):
    """A comparison as /api/compare returned it."""

    model_config = ConfigDict(extra="ignore")
    topic: _short(20_000)
    segments: list[_Block] = Field(max_length=500)
    citations: list[_Cited] = Field(default_factory=list, max_length=100)
    unsupported_sentences: list[_short(5_000)] = Field(default_factory=list, max_length=100)
    speeches: dict[Literal["A", "B"], _Side]


class _Op(BaseModel):
    model_config = ConfigDict(extra="ignore")
    op: Literal["same", "changed", "dropped", "added", "elided"]
    source: _short(20_000) = ""
    text: _short(20_000) = ""
    significant: bool = False


class _Checked(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: _short(20_000)
    status: Literal["exact", "altered", "not_found"]
    speech_id: SpeechId | None = None
    title: _short(500) | None = None
    date: _short(40) | None = None
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    source_text: _short(20_000) | None = None
    diff: list[_Op] = Field(default_factory=list, max_length=2000)
    also_in: list[SpeechId] = Field(default_factory=list, max_length=50)
    nearest: list[_Cited] = Field(default_factory=list, max_length=10)


class VerifyDoc(BaseModel):
    """A quote check as /api/verify returned it."""

    model_config = ConfigDict(extra="ignore")
    sentences: list[_Checked] = Field(max_length=2000)


class _TopicSpeech(BaseModel):
    model_config = ConfigDict(extra="ignore")
    speech_id: SpeechId
    title: _short(500) = ""
    date: _short(40) | None = None
    strength: float = Field(0.0, ge=0, le=1)
    on_topic: int = Field(0, ge=0)
    passages_total: int = Field(0, ge=0)
    passages: list[_Cited] = Field(default_factory=list, max_length=10)


class _TopicYear(BaseModel):
    model_config = ConfigDict(extra="ignore")
    year: int | None = None
    speeches: int = Field(0, ge=0)
    addressing: int = Field(0, ge=0)
    strength: float = Field(0.0, ge=0, le=1)
    on_topic: int = Field(0, ge=0)
    passages_total: int = Field(0, ge=0)


class TopicDoc(BaseModel):
    """A topic view as /api/topic returned it."""

    model_config = ConfigDict(extra="ignore")
    topic: _short(200)
    addressing: int = Field(0, ge=0)
    speeches: list[_TopicSpeech] = Field(max_length=300)
    years: list[_TopicYear] = Field(default_factory=list, max_length=300)


def result_kind(body) -> str | None:
    """Which result a body is, by its fields (module doc)."""
    if not isinstance(body, dict):
        return None
    if "sentences" in body:
        return "verify"
    if isinstance(body.get("speeches"), dict):
        return "comparison"
    if "speeches" in body:
        return "topic"
    if "question" in body:
        return "answer"
    return None


ExportRequest = Annotated[
    Annotated[AnswerDoc, Tag("answer")] | Annotated[ComparisonDoc, Tag("comparison")]
    | Annotated[VerifyDoc, Tag("verify")] | Annotated[TopicDoc, Tag("topic")],
    Discriminator(result_kind, custom_error_type="result_kind",
                  custom_error_message="not an answer, a comparison, a quote check or a topic view as the API "
                                       "returns them"),
]
_KINDS = {AnswerDoc: "answer", ComparisonDoc: "comparison", VerifyDoc: "verify", TopicDoc: "topic"}


def docx_response(kind: str, result: dict) -> Response:
    name = word.file_name(kind)
    return Response(word.document(kind, result), media_type=word.MEDIA_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"speeches-{kind}.docx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


def add_routes(router: APIRouter, assistant, settings) -> None:
    """The study routes on ``router`` (web/api.py's, before its catch-all)."""

    @router.post("/verify", response_model=None, responses=_responses({"model": VerifyOut}, 400, 413, 503),
                 summary="Check a draft's quotes against the speeches: verbatim, altered (with the diff) or not found")
    def verify(body: VerifyRequest):
        try:
            return check_quotes(assistant.retriever, body.text).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.get("/topic", response_model=None, responses=_responses({"model": TopicOut}, 400, 503),
                summary="A topic across the library: the speeches on it in date order, how much of each, quotes")
    def topic(topic: str = Query(..., examples=["营商环境"], max_length=4000,
                                 description="At most SPEECHES_MAX_QUERY_CHARS (100) characters")):
        try:
            return follow_topic(assistant.retriever, topic).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.get("/speeches/{speech_id}/outline", response_model=None,
                responses=_responses({"model": OutlineOut}, 404, 503),
                summary="A speech's outline (headings, where each starts), its figures and its formulas")
    def outline(speech_id: str):
        try:
            return speech_outline(assistant.retriever, speech_id).as_json()
        except Exception as error:
            return _error(error, settings.language)

    @router.post("/export/docx", response_model=None, response_class=Response,
                 responses=_responses({"content": {word.MEDIA_TYPE: {}},
                                       "description": "The Word document (citations as footnotes)"}, 400, 413),
                 summary="An answer, a comparison, a quote check or a topic view as a Word document")
    def export_docx(body: ExportRequest):
        try:
            return docx_response(_KINDS[type(body)], body.model_dump())
        except Exception as error:
            return _error(error, settings.language)
