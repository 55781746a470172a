"""The answering chain: the functions the CLI, the web app and the HTTP API call.

``Assistant.ask_stream`` runs, for one question, evidence first:
1. follow-up handling (answer/followup.py), for questions with a reference cue only, in code: a referenced speech
   ("第二篇讲话") becomes a filter, and the question is restated with the conversation's topic;
2. retrieval (retriever/): a question that names its speech ("2021年政府工作报告", "市十六届人大二次会议") searches
   that speech (retriever/named.py); one that names several ("2021年和2022年…分别…") is answered per speech;
3. the evidence (answer/evidence.py): the few sentences of the retrieved passages that answer the question, quoted
   verbatim. The code decides from them whether the speeches answer the question at all (the gate: a refusal is
   never the model's call); when they do not, the answer says so and lists the nearest passages. Otherwise the
   quotes go out at once as an ``Evidence`` event (within a fraction of a second: no LLM has run), grouped by
   speech, and when speeches give different figures the answer says so and gives each with its speech and date;
4. the synthesis: the quotes, and nothing else, go into the answer prompt (prompts/); the LLM's tokens stream below
   the evidence; every sentence it wrote is checked against the quotes it cites (answer/verify.py), and those that
   fail are left out of the answer (``unsupported_sentences``), as is any refusal. In a comparison, or a question
   naming two speeches, each speech is summarised from its own quotes, and what they share and where they differ is
   built in code from claims supported on both sides (answer/contrast.py);
5. the answer is laid out once as segments (answer/segments.py), where quoted speech text is never read as a marker.

With ``SPEECHES_LLM=extractive`` the evidence is the answer. When the LLM is down, slower than SPEECHES_LLM_TIMEOUT
or stopped, the evidence stands as the answer: the result is ``degraded`` with a one-line reason, and the next
question tries the LLM again.

Streams yield typed events (answer/events.py): ``Evidence``, ``Delta`` pieces of the synthesis and, last, ``Done``
with the finished ``Answer`` (or ``Comparison``). With the in-process local model, LLM work is queued (``LLMQueue``:
llama.cpp runs one request at a time): while a question waits its turn, its stream yields ``Queued(position)`` events
(1 = next), so the user is told where they are, and SPEECHES_LLM_TIMEOUT counts from the turn, not from the wait.
Errors: ``BadInput`` for bad input, ``UnknownSpeechError`` for an unknown speech id.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import prompts
from answer import context as ctx
from answer import contrast, evidence, followup, verify
from answer.citations import add_missing_markers, resolve_markers, sentences
from answer.errors import BadInput, checked_text
from answer.events import Delta, Done, Event, Evidence, Pulse, Queued, Reply, close, collect
from answer.llm.errors import LLMTimeout, LLMUnavailable
from answer.segments import Draft, Run, cited_labels, parse
from answer.types import Answer, Citation, Comparison, SpeechSide
from answer.wording import phrase
from ingest.speechtext import quoted_title, speech_label
from ingest.store import SpeechStore, UnknownSpeechError, open_store, passage_id, samples_aside, split_passage_id
from ingest.writer import LibraryWriter
from retriever import named
from retriever.named import NamedRetrieval
from retriever.search import Filters, Retriever
from settings import Settings

NEAREST_SHOWN = 3  # passages listed when the speeches do not address the question
NEAREST_SNIPPET_CHARS = 60  # opening characters of each, in that list
REFUSAL_MAX_CHARS = 80  # a model's reply this short saying the material does not mention it is a refusal

log = logging.getLogger(__name__)
_UNSET = object()
KEYS = "ABCDEFGH"  # the speeches of a per-speech answer
PART_QUOTES = 2  # quotes per speech in an answer about several speeches, and in a comparison
PULSE_S = 1.0  # longest quiet spell of a waiting stream (answer/events.py)


@dataclass(frozen=True)
class _Part:
    """One speech's part of a per-speech answer: its key, what is asked of it, its quotes (labelled A1…)."""

    key: str
    speech_id: str
    title: str
    date: str | None
    question: str
    chosen: evidence.Selection


class LLMQueue:
    """First come, first served access to an LLM that runs ``slots`` requests at a time."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._busy = 0
        self._waiting: list[object] = []
        self._changed = threading.Condition()

    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def turn(self) -> Iterator[Queued | Pulse]:
        """Wait for a slot, yielding ``Queued`` when this request's position changes (nothing when a slot is
        free at once) and a ``Pulse`` at least every ``PULSE_S`` meanwhile, so a reader that went away is noticed
        (answer/events.py). When it returns, the caller holds a slot and must ``release()`` it. Closing it while
        it waits leaves the queue."""
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
        shown = None
        try:
            while True:
                with self._changed:
                    if self._waiting[0] is ticket and self._busy < self.slots:
                        self._waiting.pop(0)
                        self._busy += 1
                        self._changed.notify_all()
                        return
                    now = Queued(self._waiting.index(ticket) + 1, len(self._waiting))
                yield Pulse() if now == shown else now
                shown = now
                with self._changed:
                    if not (self._waiting[0] is ticket and self._busy < self.slots):
                        self._changed.wait(timeout=PULSE_S)
        finally:
            with self._changed:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()


class Assistant:
    def __init__(self, settings: Settings, *, store: SpeechStore | None = None, retriever: Retriever | None = None,
                 llm=_UNSET, background_vectors: bool = False) -> None:
        self.settings = settings
        self.language = settings.language
        self.store = store or open_store(settings)
        self.retriever = retriever or Retriever(self.store, settings)
        # this process's writes, one at a time; ``background_vectors``: embedded behind (the app, ingest/writer.py)
        self.writer = LibraryWriter(self.store, settings, background=background_vectors)
        self._llm = llm
        self._load_lock = threading.Lock()
        # the in-process model answers one request at a time: queue here, where the wait can be shown and is not
        # counted against SPEECHES_LLM_TIMEOUT. A server (SPEECHES_LLM=openai) queues or batches by itself.
        self.llm_queue = LLMQueue(1) if settings.llm == "local" else None

    # -- the LLM, loaded once -----------------------------------------------------------------------------------

    @property
    def llm(self):
        """The chat model, or None in extractive mode. Loaded on first use, once per process."""
        if self._llm is _UNSET:
            with self._load_lock:
                if self._llm is _UNSET:
                    from answer.llm import load_chat_model

                    self._llm = load_chat_model(self.settings)
        return self._llm

    @property
    def backend(self) -> str:
        return self.settings.llm

    def _stream_llm(self, prompt_name: str, values: Mapping[str, str]) -> Iterator[Delta | Queued | Pulse]:
        """The LLM's answer to a prompt, piece by piece, after waiting for its turn. An empty piece (the local
        model reporting its progress through the prompt) is a ``Pulse``. Closed early (its reader went away), it
        closes the model's stream, which stops the generation, and gives up its turn."""
        messages = prompts.load(prompt_name, self.language).invoke(dict(values))
        queue, holding, pieces, stream = self.llm_queue, False, 0, None
        try:
            if queue is not None:
                turn = queue.turn()
                try:
                    yield from turn
                finally:
                    turn.close()
                holding = True
            # the model's own stream, not a ``prompt | llm | parser`` chain: LangChain's RunnableSequence swallows
            # the close of its stream and leaves the model's to the garbage collector (an OpenAI-compatible server
            # then kept generating for a client long gone), while the chat model's stream closes at once
            stream = self.llm.stream(messages)
            for chunk in stream:
                piece = chunk.text
                pieces += bool(piece)
                yield Delta(piece) if piece else Pulse()
            stream = None
        except GeneratorExit:
            log.info("LLM %s stopped after %d pieces: its reader went away", prompt_name, pieces)
            raise
        except LLMUnavailable:
            raise
        except Exception as error:  # a backend bug must reach the user as a message, not a traceback
            log.exception("the LLM failed")
            raise LLMUnavailable(f"The LLM failed while answering: {error}") from error
        finally:
            if stream is not None:
                close(stream)  # stops the generation at its next token
            if holding:
                queue.release()

    # -- ask ----------------------------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Mapping] | None = None, speech_ids: Sequence[str] | None = None,
            years: tuple[int | None, int | None] | None = None) -> Answer:
        return collect(self.ask_stream(question, history, speech_ids, years)).result

    def ask_stream(self, question: str, history: Sequence[Mapping] | None = None,
                   speech_ids: Sequence[str] | None = None,
                   years: tuple[int | None, int | None] | None = None) -> Iterator[Event]:
        question = checked_text(question, "question", self.settings.max_question_chars)
        turns = followup.parse_history(history, self.settings.max_history_turns, self.settings.max_history_chars)
        speeches = {s.id: s for s in self.store.list_speeches()}
        filters = Filters(speech_ids=list(speech_ids or []) or None, years=_years(years),
                          exclude=None if speech_ids else samples_aside(speeches.values()))
        for sid in filters.speech_ids or []:
            if sid not in speeches:
                raise UnknownSpeechError(sid)
        if not speeches:
            yield from _said(Answer(question, question, "", False, backend=self.backend),
                             Draft().line(phrase(self.language, "empty_library")))
            return

        answer = Answer(question, question, "", False, backend=self.backend)
        standalone, filters = self._standalone(question, turns, filters, {s: r.title for s, r in speeches.items()})
        retrieval = self._retrieve(standalone, self.settings.answer_passages, filters)
        titles = [speeches[sid].title for sid in retrieval.named if sid in speeches]  # the speeches it names
        asked, answer.standalone_question = standalone, ctx.naming(standalone, titles)
        answer.relevance = retrieval.relevance
        if not retrieval.passages:
            key = "no_speeches_match" if filters.speech_ids or filters.years else "not_found"
            yield from _said(answer, Draft().line(phrase(self.language, key)))
            return
        rest = _rest(retrieval)
        if len(retrieval.per_speech) > 1:  # "2021年和2022年…分别…": each speech apart, then what they share
            parts = [self._part(key, speeches[sid], phrase(self.language, "side_question_named",
                                                            title=speeches[sid].title, question=rest or asked),
                                passages, rest=rest, limit=PART_QUOTES)
                     for key, (sid, passages) in zip(KEYS, retrieval.per_speech.items())]
            yield from self._answer_per_speech(answer, parts, retrieval)
            return

        chosen = self._evidence(asked, retrieval.passages, rest=rest)
        if not chosen.answers:  # decided here, from the quotes: the LLM is not asked
            answer.context = answer.citations = ctx.number(retrieval.passages[:NEAREST_SHOWN])
            yield from _said(answer, self._not_found(answer.context))
            return
        answer.found, answer.context = True, list(chosen.quotes)
        if chosen.differing:
            intro = phrase(self.language, "evidence_differ")
        elif titles and len(chosen.groups) == 1:
            intro = phrase(self.language, "evidence_intro_named", titles=ctx.titles(titles))
        else:
            intro = phrase(self.language, "evidence_intro")
        draft = evidence.draft(chosen, intro, headed=not (titles and len(chosen.groups) == 1 and not chosen.differing))
        yield Evidence(tuple(draft.blocks), chosen.quotes)
        said = yield from self._synthesis(answer, chosen.quotes, answer.standalone_question)
        if said:
            draft.line(phrase(self.language, "synthesis_heading")).model(said)
        self._finish(answer, draft, {c.label: c for c in chosen.quotes})
        yield Done(answer)

    def _standalone(self, question: str, turns: list[followup.Turn], filters: Filters,
                    titles: Mapping[str, str]) -> tuple[str, Filters]:
        """(the standalone question, the filters), in code: no LLM is asked to rewrite a follow-up, so its evidence
        shows as fast as a new question's (an LLM rewrite held it 4-8 s, and got fewer follow-ups right than the
        code's restatement: docs/answers.md)."""
        if not followup.is_followup(question, turns):
            return question, filters
        mentioned = followup.mentioned_speeches(turns, titles)
        last_cited = next((t.speech_ids for t in reversed(turns) if t.role == "assistant" and t.speech_ids), [])
        referenced = followup.referenced_speech(question, list(filters.speech_ids or mentioned), last_cited)
        if referenced:
            filters = Filters(speech_ids=[referenced], years=filters.years, where=filters.where)
        kept_topic = followup.restated(question, turns, titles.get(referenced) if referenced else None)
        if kept_topic:  # "那第二篇讲话呢？": the conversation's topic, for that speech
            return kept_topic, filters
        if referenced and followup.has_own_words(question):  # "这篇讲话对人大代表有什么要求？": that speech, named
            return followup.named_followup(question, titles.get(referenced, referenced)), filters
        return followup.joined_question(question, turns, self.settings.max_query_chars), filters

    def _retrieve(self, question: str, k: int, filters: Filters) -> NamedRetrieval:
        return named.retrieve(self.retriever, question, k=k, filters=filters)

    def _evidence(self, question: str, passages: Sequence, *, rest: str | None = None, prefix: str = "",
                  limit: int | None = None) -> evidence.Selection:
        """The quotes of ``passages`` that answer ``question``; ``rest``: what to look for in them (the question
        without the words that named its speech)."""
        scorer = evidence.Scorer(question, self.retriever.keyword.term_weights(evidence.searched(rest or question),
                                                                         junctions=False))
        wanted = {passage_id(sid, version, order + step) for sid, version, order in
                  (split_passage_id(p.passage_id) for p in passages) for step in (-1, 1) if order + step >= 0}
        around = self.store.passages_by_id(sorted(wanted - {p.passage_id for p in passages})) if passages else {}
        return evidence.choose(scorer, evidence.contiguous(passages, around.values()),
                               limit=limit or self.settings.evidence_quotes, prefix=prefix)

    def _synthesis(self, result: Answer | Comparison, quotes: Sequence[Citation], question: str,
                   heading: str | None = None) -> Iterator[Event]:
        """The LLM's answer over ``quotes``, streamed under ``heading`` (default: the synthesis heading), then
        checked; returns the sentences that pass, with their markers ("" when none, or in extractive mode). When the
        LLM cannot be used (down, or slower than SPEECHES_LLM_TIMEOUT), the result is marked degraded and keeps the
        whole sentences that had come."""
        try:
            if self.llm is None:  # extractive: the evidence is the answer
                return ""
        except LLMUnavailable as error:  # the model could not be loaded (or its server's settings are wrong)
            self._degrade(result, error)
            return ""
        said, shown = Reply(), False
        try:
            for event in self._stream_llm("answer", {"passages": ctx.format_material(quotes),
                                                     "question": ctx.as_data(question)}):
                if isinstance(event, Delta) and not shown:
                    shown = True
                    yield Delta((heading or phrase(self.language, "synthesis_heading")) + "\n")
                yield said.add(event).event
            text = said.text
        except LLMUnavailable as error:
            self._degrade(result, error)
            text = _whole_sentences(said.text)
        if shown:
            yield Delta("\n\n")
        return self._checked(result, text, {c.label: c for c in quotes})

    def _checked(self, result: Answer | Comparison, text: str, numbered: Mapping[str, Citation]) -> str:
        """What the model wrote, with missing markers added and unknown ones dropped, less every sentence the check
        fails (listed in ``unsupported_sentences``) and every refusal (the code decided there is an answer)."""
        text, _, lost = resolve_markers(add_missing_markers(text.strip(), numbered), numbered)
        notes = verify.speech_notes(self.store.list_speeches())  # a sentence may state its speech's session, year…
        refusals = [s for s in sentences(text) if _is_refusal(s, self.language)]
        failing = [f.sentence for f in verify.unsupported(text, numbered, notes) if f.sentence not in refusals]
        result.dropped_markers += lost
        result.unsupported_sentences += failing
        if refusals:
            log.info("the model refused over quotes that answer the question; its refusal is left out")
        return verify.without(text, failing + refusals)

    def _degrade(self, result: Answer | Comparison, error: LLMUnavailable) -> None:
        log.warning("answering without the LLM: %s", error)
        result.degraded = True
        result.degraded_reason = phrase(self.language, "llm_timeout" if isinstance(error, LLMTimeout)
                                        else "llm_unavailable")

    def _finish(self, result: Answer | Comparison, draft: Draft, numbered: Mapping[str, Citation]) -> None:
        """The result's text, segments and citations from ``draft``: what the code wrote (quotes, headings) carries
        its references already; what the model wrote has been checked (``_checked``) and its markers are read."""
        texts, blocks = [], []
        for text, written in draft.parts():
            texts.append(text)
            blocks += parse(text, numbered.keys()) if written is None else written
        result.answer, result.segments = "\n".join(texts).strip(), blocks
        result.citations = [numbered[label] for label in cited_labels(blocks)]

    def _not_found(self, nearest: Sequence[Citation]) -> Draft:
        draft = Draft().line(phrase(self.language, "not_found")).line(phrase(self.language, "nearest"))
        for c in nearest:
            snippet = " ".join(c.text.split())
            snippet = snippet if len(snippet) <= NEAREST_SNIPPET_CHARS else snippet[:NEAREST_SNIPPET_CHARS] + "…"
            draft.line(f"{quoted_title(c.title)}：{snippet}", Run(cite=c.label), item=True)
        return draft

    # -- several speeches, each apart: a question naming two, and the comparison -------------------------------

    def _part(self, key: str, record, question: str, passages: Sequence, rest: str | None = None,
              limit: int | None = None) -> _Part:
        chosen = self._evidence(question, passages, rest=rest, prefix=key, limit=limit)
        return _Part(key, record.id, record.title, record.date, question, chosen)

    def _answer_per_speech(self, answer: Answer, parts: Sequence[_Part], retrieval: NamedRetrieval) -> Iterator[Event]:
        if not any(p.chosen.answers for p in parts):
            answer.context = answer.citations = ctx.number(retrieval.passages[:NEAREST_SHOWN])
            yield from _said(answer, self._not_found(answer.context))
            return
        answer.found = True
        answer.context = [q for p in parts if p.chosen.answers for q in p.chosen.quotes]
        draft = yield from self._per_speech(answer, parts, phrase(self.language, "evidence_per_speech"))
        self._finish(answer, draft, {c.label: c for c in answer.context})
        yield Done(answer)

    def _per_speech(self, result: Answer | Comparison, parts: Sequence[_Part], intro: str) -> Iterator[Event]:
        """The evidence of each speech under its key (A, B…), shown at once; then what the LLM says of each speech
        from that speech's quotes alone (so the two are never mixed up), checked against them; then, for two
        speeches, what they share and where they differ, built in code (answer/contrast.py). Returns the draft."""
        shown = Draft().line(intro)
        for p in parts:
            shown.line(f"{p.key}：{speech_label(p.title, p.date)}：")
            if p.chosen.answers:
                shown.extend(evidence.draft(p.chosen, "", headed=False))
            else:
                shown.line(phrase(self.language, "side_not_found", title=p.title))
        answering = [p for p in parts if p.chosen.answers]
        yield Evidence(tuple(shown.blocks), tuple(q for p in answering for q in p.chosen.quotes))
        said = {}
        for p in answering:
            said[p.key] = yield from self._synthesis(result, p.chosen.quotes, p.question,
                                                     heading=phrase(self.language, "side_summary", key=p.key))
        draft = shown
        if any(said.values()):
            draft.line(phrase(self.language, "synthesis_heading"))
            for p in answering:
                if said[p.key]:
                    draft.line(phrase(self.language, "side_summary", key=p.key)).model(said[p.key])
        if len(answering) == 2:
            sides = [contrast.Side(p.key, contrast.claims_of(said[p.key], _by_label(p.chosen.quotes)),
                                   _by_label(p.chosen.quotes)) for p in answering]
            quoted = not any(said.values())  # no summaries: the quotes are the claims (already shown above)
            if quoted:
                sides = [contrast.Side(s.key, contrast.quoted_claims(s.quotes), s.quotes) for s in sides]
            shared = contrast.contrast(*sides, self.language, verify.speech_notes(self.store.list_speeches()),
                                       list_alone=not quoted)
            yield Delta(shared.text)
            draft.extend(shared)
        return draft

    def compare(self, speech_a: str, speech_b: str, topic: str) -> Comparison:
        return collect(self.compare_stream(speech_a, speech_b, topic)).result

    def compare_stream(self, speech_a: str, speech_b: str, topic: str) -> Iterator[Event]:
        topic = checked_text(topic, "topic", self.settings.max_question_chars)
        records = {key: self.store.get_speech(sid) for key, sid in (("A", speech_a), ("B", speech_b))}
        if speech_a == speech_b:
            raise BadInput("same_speech", speech=speech_a)
        parts = []
        for key, record in records.items():
            found = self.retriever.retrieve(topic, k=self.settings.compare_passages,
                                            filters=Filters(speech_ids=[record.id]))
            question = phrase(self.language, "side_question", title=record.title, topic=topic)
            parts.append(self._part(key, record, question, found.passages, rest=topic,
                                    limit=PART_QUOTES))
        a, b = (SpeechSide(p.key, p.speech_id, p.title, p.date, p.chosen.answers,
                           list(p.chosen.quotes) if p.chosen.answers else []) for p in parts)
        result = Comparison(topic, a, b, "", a.found or b.found, backend=self.backend)
        if not result.found:
            yield from _said(result, Draft().line(phrase(self.language, "neither_found", topic=topic)))
            return
        draft = yield from self._per_speech(result, parts, phrase(self.language, "evidence_per_speech"))
        self._finish(result, draft, {c.label: c for side in (a, b) for c in side.passages})
        yield Done(result)

    # -- the library --------------------------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path]):
        return self.writer.ingest(list(paths))

    def ingest_staged(self, staged: Path, final: Path, on_stored):
        """An upload (web/uploads.py): ``LibraryWriter.ingest_staged``."""
        return self.writer.ingest_staged(staged, final, on_stored)

    def delete(self, speech_id: str, then=lambda: None) -> None:
        """Delete a speech, then (still holding the write lock) ``then``: the upload removes its file."""
        self.store.get_speech(speech_id)  # UnknownSpeechError names the id
        self.writer.delete(speech_id, then)


YEARS = (1900, 2100)


def _years(years) -> tuple[int | None, int | None] | None:
    if years is None:
        return None
    low, high = years
    low, high = (int(low) if low not in (None, "") else None, int(high) if high not in (None, "") else None)
    if low is not None and high is not None and low > high:
        raise BadInput("years_reversed", low=low, high=high)
    for year in (low, high):
        if year is not None and not YEARS[0] <= year <= YEARS[1]:
            raise BadInput("year_range", low=YEARS[0], high=YEARS[1], year=year)
    return low, high


def _rest(retrieval: NamedRetrieval) -> str | None:
    """What a question that named its speech asks of it: the question without the naming words ("分别" too)."""
    resolution = retrieval.resolution
    if resolution is None or not resolution.groups or not retrieval.named:
        return None
    return resolution.rest.replace("分别", "").strip() or None


def _whole_sentences(text: str) -> str:
    """``text`` up to its last complete sentence (a stream cut off mid-sentence)."""
    ends = [m.end() for m in re.finditer(r"[。！？!?；;]\s*(?:\[[^\]]*\])*", text)]
    return text[: ends[-1]] if ends else ""


def _by_label(quotes: Sequence[Citation]) -> dict[str, Citation]:
    return {q.label: q for q in quotes}


def _is_refusal(text: str, language: str) -> bool:
    return any(marker in text for marker in phrase(language, "refusals")) and len(text) < REFUSAL_MAX_CHARS


def _said(result: Answer | Comparison, draft: Draft) -> Iterator[Event]:
    """A result the code wrote whole (no model, nothing to check): its text streamed at once, then the result."""
    result.answer, result.segments = draft.text, draft.blocks
    yield Delta(result.answer)
    yield Done(result)
