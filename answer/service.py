"""The answering chain: the functions the CLI, the web app and the HTTP API call.

``Assistant.ask_stream`` runs, for one question:
1. follow-up handling (answer/followup.py), for questions with a reference cue only: a referenced speech
   ("第二篇讲话") becomes a filter, and the question is restated with the conversation's topic (a reference-only
   follow-up) or rewritten into a standalone one (by the LLM when one runs);
2. retrieval (retriever/): a question that names its speech ("2021年政府工作报告", "市十六届人大二次会议") searches
   that speech (retriever/named.py), and the question the answer prompt gets names it by its title;
3. the relevance gate: when retrieval says the speeches do not address the question, the answer says so and lists
   the nearest passages, and no LLM runs;
4. the numbered passages go into the answer prompt (prompts/) and the LLM's tokens stream out, or, with
   ``SPEECHES_LLM=extractive``, the best sentences are quoted verbatim;
5. the [n] markers the model wrote become citations (unknown ones dropped), and every sentence it wrote is checked
   against what it cites (answer/verify.py: overlap, numbers, places, titles, quotes, sessions, both sides); the
   answer is laid out once as segments (answer/segments.py), where quoted speech text is never read as a marker.

Streams yield typed events (answer/events.py): ``Delta`` pieces of the answer text and, last, ``Done`` with the
finished ``Answer`` (or ``Comparison``). With the in-process local model, LLM work is queued (``LLMQueue``: llama.cpp
runs one request at a time): while a question waits its turn, its stream yields ``Queued(position)`` events (1 =
next), so the user is told where they are, and SPEECHES_LLM_TIMEOUT counts from the turn, not from the wait.
Errors: ``ValueError`` for bad input, ``UnknownSpeechError`` for an unknown speech id, ``LLMUnavailable`` when the
LLM cannot be reached; each message names what was wrong.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import prompts
from answer import context as ctx
from answer import followup
from answer.errors import BadInput, checked_text
from answer.llm.errors import LLMUnavailable
from answer import verify
from answer.citations import add_missing_markers, resolve_markers
from answer.events import Delta, Done, Event, Pulse, Queued, Reply, close, collect
from answer.segments import Draft, Run, cited_labels, parse
from answer.types import Answer, Citation, Comparison, SpeechSide
from answer.wording import phrase
from ingest.speechtext import quoted_title
from ingest.store import SpeechStore, UnknownSpeechError, open_store, samples_aside
from ingest.writer import LibraryWriter
from retriever import named
from retriever.named import NamedRetrieval
from retriever.search import Filters, Retriever
from settings import Settings

NEAREST_SHOWN = 3  # passages listed when the speeches do not address the question
NEAREST_SNIPPET_CHARS = 60  # opening characters of each, in that list
EXTRACTIVE_QUOTES = 3  # passages an answer without an LLM quotes a sentence of
REFUSAL_MAX_CHARS = 80  # a model's reply this short saying the material does not mention it is a refusal
TOPIC_DEPTH = 200  # passages of the whole library the topic chart reads

log = logging.getLogger(__name__)
_UNSET = object()
PULSE_S = 1.0  # longest quiet spell of a waiting stream (answer/events.py)


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

        standalone, filters = yield from self._standalone(question, turns, filters,
                                                          {s: r.title for s, r in speeches.items()})
        retrieval = self._retrieve(standalone, self.settings.answer_passages, filters)
        titles = [speeches[sid].title for sid in retrieval.named if sid in speeches]  # the speeches it names
        asked, standalone = standalone, ctx.naming(standalone, titles)
        numbered = ctx.number(retrieval.passages)
        answer = Answer(question, standalone, "", False, context=numbered, backend=self.backend,
                        relevance=retrieval.relevance)
        if not numbered:
            key = "no_speeches_match" if filters.speech_ids or filters.years else "not_found"
            yield from _said(answer, Draft().line(phrase(self.language, key)))
            return
        if not retrieval.relevant:
            answer.context = answer.citations = numbered[:NEAREST_SHOWN]
            yield from _said(answer, self._not_found(numbered[:NEAREST_SHOWN]))
            return

        answer.found = True
        if self.llm is None:
            intro = phrase(self.language, "extractive_intro_named", titles=ctx.titles(titles)) if titles else \
                phrase(self.language, "extractive_intro")
            draft = ctx.extractive_answer(numbered[:EXTRACTIVE_QUOTES], asked, intro)
            yield Delta(draft.text)
        else:
            said = Reply()
            for event in self._stream_llm("answer", {"passages": ctx.format_material(numbered),
                                                     "question": ctx.as_data(standalone)}):
                yield said.add(event).event
            draft = Draft().model(said.text.strip())
        self._finish(answer, draft, {c.label: c for c in numbered})
        if self.llm is not None and _is_refusal(draft.text, self.language):
            answer.found = False  # the model read the passages and found no answer: trust it, keep the passages
        yield Done(answer)

    def _standalone(self, question: str, turns: list[followup.Turn], filters: Filters,
                    titles: Mapping[str, str]) -> Iterator[Queued | Pulse]:
        """(the standalone question, the filters), returned after the events of a rewrite by the LLM: its turn
        in the queue, and pulses while it writes (the rewrite itself is not shown)."""
        if not followup.is_followup(question, turns):
            return question, filters
        mentioned = followup.mentioned_speeches(turns, titles)
        last_cited = next((t.speech_ids for t in reversed(turns) if t.role == "assistant" and t.speech_ids), [])
        candidates = list(filters.speech_ids or mentioned)
        referenced = followup.referenced_speech(question, candidates, last_cited)
        if referenced:
            filters = Filters(speech_ids=[referenced], years=filters.years, where=filters.where)
        kept_topic = followup.restated(question, turns, titles.get(referenced) if referenced else None)
        if kept_topic:  # "那第二篇讲话呢？": the conversation's topic, for that speech; no rewrite needed
            return kept_topic, filters
        standalone = None
        if self.llm is not None:
            listed = "\n".join(phrase(self.language, "nth_speech", n=i, title=titles.get(sid, sid))
                               for i, sid in enumerate(candidates, 1))
            values = {
                "history": followup.history_lines(turns, phrase(self.language, "speaker_user"),
                                                  phrase(self.language, "speaker_assistant")),
                "speeches": listed or phrase(self.language, "none"),
                "question": question,
            }
            said = Reply()
            for event in self._stream_llm("rewrite", values):
                yield event if isinstance(event, Queued) else Pulse()
                said.add(event)
            standalone = followup.clean_rewrite(said.text, question)
        if standalone and referenced:
            standalone = followup.name_speech(standalone, titles.get(referenced, referenced))
        return standalone or followup.joined_question(question, turns, self.settings.max_query_chars), filters

    def _retrieve(self, question: str, k: int, filters: Filters) -> NamedRetrieval:
        return named.retrieve(self.retriever, question, k=k, filters=filters)

    def _finish(self, result: Answer | Comparison, draft: Draft, numbered: Mapping[str, Citation]) -> None:
        """The result's text, segments and citations from ``draft``. What the model wrote: missing markers added,
        unknown ones dropped, each sentence checked against what it cites. What the code wrote (quotes, headings)
        carries its references already and is taken as it is."""
        texts, blocks, dropped, flagged = [], [], [], []
        notes = verify.speech_notes(self.store.list_speeches())  # a sentence may state its speech's session, year…
        for text, written in draft.parts():
            if written is None:
                text, _, lost = resolve_markers(add_missing_markers(text, numbered), numbered)
                checked = [f.sentence for f in verify.unsupported(text, numbered, notes)
                           if not _is_refusal(f.sentence, self.language)]
                written = parse(text, numbered.keys(), checked, first_flag=len(flagged))
                dropped += lost
                flagged += checked
            texts.append(text)
            blocks += written
        result.answer, result.segments = "\n".join(texts).strip(), blocks
        result.citations = [numbered[label] for label in cited_labels(blocks)]
        result.dropped_markers, result.unsupported_sentences = dropped, flagged

    def _not_found(self, nearest: Sequence[Citation]) -> Draft:
        draft = Draft().line(phrase(self.language, "not_found")).line(phrase(self.language, "nearest"))
        for c in nearest:
            snippet = " ".join(c.text.split())
            snippet = snippet if len(snippet) <= NEAREST_SNIPPET_CHARS else snippet[:NEAREST_SNIPPET_CHARS] + "…"
            draft.line(f"{quoted_title(c.title)}：{snippet}", Run(cite=c.label), item=True)
        return draft

    # -- compare ------------------------------------------------------------------------------------------------

    def compare(self, speech_a: str, speech_b: str, topic: str) -> Comparison:
        return collect(self.compare_stream(speech_a, speech_b, topic)).result

    def compare_stream(self, speech_a: str, speech_b: str, topic: str) -> Iterator[Event]:
        topic = checked_text(topic, "topic", self.settings.max_question_chars)
        records = {key: self.store.get_speech(sid) for key, sid in (("A", speech_a), ("B", speech_b))}
        if speech_a == speech_b:
            raise BadInput("same_speech", speech=speech_a)
        sides = {}
        for key, record in records.items():
            found = self.retriever.retrieve(topic, k=self.settings.compare_passages,
                                            filters=Filters(speech_ids=[record.id]))
            sides[key] = SpeechSide(key, record.id, record.title, record.date, found.relevant,
                                    ctx.number(found.passages, key) if found.relevant else [])
        a, b = sides["A"], sides["B"]
        result = Comparison(topic, a, b, "", a.found or b.found, backend=self.backend)
        numbered = {c.label: c for side in (a, b) for c in side.passages}
        if not result.found:
            yield from _said(result, Draft().line(phrase(self.language, "neither_found", topic=topic)))
            return
        if self.llm is None:
            draft = self._extractive_side(a, topic).gap().extend(self._extractive_side(b, topic))
            yield Delta(draft.text)
        else:
            draft = Draft()
            yield from self._compare_with_llm(a, b, topic, draft)
        self._finish(result, draft, numbered)
        yield Done(result)

    def _compare_with_llm(self, a: SpeechSide, b: SpeechSide, topic: str, draft: Draft) -> Iterator[Delta | Queued]:
        """What each speech says (the answer prompt over that speech's passages only, so the model never mixes the
        two up), then what they share and where they differ (the compare prompt over those two summaries). Streams
        the text as it comes and puts it together in ``draft``: headings are the code's, the rest the model's."""
        summaries = {}
        for side in (a, b):
            heading = phrase(self.language, "side_heading", title=side.title)
            draft.line(heading)
            yield Delta(heading + "\n")
            if not side.found:
                summaries[side.key] = phrase(self.language, "side_not_found", title=side.title)
                draft.line(summaries[side.key])
                yield Delta(summaries[side.key] + "\n\n")
            else:
                question = phrase(self.language, "side_question", title=side.title, topic=topic)
                said = Reply()
                for event in self._stream_llm("answer", {"passages": ctx.format_material(side.passages),
                                                         "question": ctx.as_data(question)}):
                    yield said.add(event).event
                yield Delta("\n\n")
                summaries[side.key] = add_missing_markers(said.text.strip(), {c.label: c for c in side.passages})
                draft.model(said.text.strip())
            if side is a or (a.found and b.found):
                draft.gap()
        if a.found and b.found:
            said = Reply()
            for event in self._stream_llm("compare", {
                "title_a": ctx.as_data(a.title), "summary_a": ctx.as_data(summaries["A"]),
                "title_b": ctx.as_data(b.title), "summary_b": ctx.as_data(summaries["B"]), "topic": ctx.as_data(topic),
            }):
                yield said.add(event).event
            draft.model(said.text.strip())

    def _extractive_side(self, side: SpeechSide, topic: str) -> Draft:
        if not side.found:
            return Draft().line(phrase(self.language, "side_not_found", title=side.title))
        return ctx.extractive_answer(side.passages, topic, f"{quoted_title(side.title)}：")

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


def _is_refusal(text: str, language: str) -> bool:
    return any(marker in text for marker in phrase(language, "refusals")) and len(text) < REFUSAL_MAX_CHARS


def _said(result: Answer | Comparison, draft: Draft) -> Iterator[Event]:
    """A result the code wrote whole (no model, nothing to check): its text streamed at once, then the result."""
    result.answer, result.segments = draft.text, draft.blocks
    yield Delta(result.answer)
    yield Done(result)
