"""The Gradio UI: chat with clickable citations, side-by-side comparison, the quote check, a topic across the library,
and the library (each speech with its outline).

``Handlers`` holds what each event does, over one assistant and its settings; ``build_ui`` lays out the components
and wires them to it (tests call the handlers directly: tests/test_web_ui.py). Everything shown is built by
``web.render`` from its templates (speech text, questions and answers escaped, our own tags only); no HTML is written
here. Handlers never raise into Gradio: a failure becomes a friendly line (``web.errors``), the traceback goes to
the log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Annotated
from datetime import datetime
from pathlib import Path

import gradio as gr
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from answer.events import follow
from answer.followup import recent_history
from ingest.readers import SUPPORTED_EXTENSIONS
from ingest.store import speech_labels
from settings import Settings
from web import render
from web.errors import friendly_error
from web.exports import export_file
from web.feedback import record_feedback
from web.gradio_guard import LIBRARY_WRITE, upload_folder
from web.api import AnswerOut
from web.security import LIBRARIAN, refusal_for_writes, require_librarian, role_of
from web.study_ui import StudyHandlers, topic_tab, verify_tab
from web.uploads import ingest_uploads, remove_uploaded_source

log = logging.getLogger(__name__)
MAX_STOPPED = 10_000

STATIC = Path(__file__).resolve().parent / "static"
UI_JS = (STATIC / "ui.js").read_text(encoding="utf-8")
LIBRARY_HEADERS = ["编号", "标题", "日期", "段落数", "字数", "状态"]
STATE_BAR = 10  # characters of the text bar that shows a speech's vector step in the library table
SAVED_TURNS = 20  # answered turns a browser keeps across a reload


class SavedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Annotated[str, Field(max_length=20_000)]
    answer: AnswerOut


_SAVED = TypeAdapter(list[SavedTurn])
UPLOAD_HEADERS = ["文件", "结果", "说明"]
LIBRARY_POLL_S = 10
# The delete button's confirmation names the speech (its label as the dropdown shows it); cancelled: no event
CONFIRM_DELETE = """(id) => {
  if (!id) return null;
  const input = document.querySelector('#library-pick input');
  const name = (input && input.value) || id;
  return confirm('删除讲话“' + name + '”？删除后不能恢复。') ? id : null;
}"""


def _years(year_from, year_to) -> tuple[int | None, int | None] | None:
    """The year filter; an empty side is open."""
    low = int(year_from) if year_from else None
    high = int(year_to) if year_to else None
    return None if low is None and high is None else (low, high)


def _history(turns: list[dict]) -> list[dict]:
    """The conversation as the answering chain takes it (answered turns only)."""
    history = []
    for turn in turns:
        answer = turn.get("answer")
        if answer:
            history.append({"role": "user", "content": turn["question"]})
            history.append({"role": "assistant", "content": answer["answer"],
                            "citations": [{"speech_id": c["speech_id"]} for c in answer["citations"]]})
    return history


def _answer_messages(answer: dict) -> list[dict]:
    """A finished answer as chat messages: the answer (its notice when the LLM could not be used, chips, the
    sentences that failed the check folded under 未能核实), then its sources, folded."""
    body = render.answer_html(answer["segments"], [*answer["context"], *answer["citations"]],
                              answer["unsupported_sentences"], link="cite", notice=answer.get("degraded_reason"))
    messages = [{"role": "assistant", "content": body}]
    if answer["citations"]:
        messages.append({"role": "assistant", "content": render.sources_html(answer["citations"]),
                         "metadata": {"title": f"来源（{len(answer['citations'])}）"}})
    return messages


def _evidence(reply) -> dict | None:
    """The evidence a streaming reply shows above its text (its NDJSON form), or None before it came."""
    return reply.evidence.as_json()["evidence"] if reply.evidence is not None else None


def _export_file(markdown: str) -> str:
    """The conversation as a .md file for the download button (Gradio copies it into its cache)."""
    return export_file(markdown, ".md", f"讲话助手-{datetime.now():%Y%m%d-%H%M%S}")


def vector_state(speech) -> str:
    """A speech's state in the library table: answerable by keywords at once, then its vectors (ingest/store.py)
    as a bar with the passages embedded, then complete."""
    if speech.vectors_complete:
        return "完成"
    filled = round(STATE_BAR * speech.vectors / speech.passages)
    bar = "█" * filled + "░" * (STATE_BAR - filled)
    return f"可关键词检索 · 向量 {bar} {speech.vectors}/{speech.passages}"


class Handlers:
    """What the UI's events do. Each method is one Gradio event handler; its inputs and outputs are the
    components ``build_ui`` wires to it, in that order."""

    def __init__(self, assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.store = assistant.store
        # answers whose 停止 was pressed (their turn's id): they yield nothing more, even before the cancel lands
        self._stopped: set[str] = set()

    def refresh_library(self, filter_value=None, low=None, high=None, a=None, b=None, picked=None,
                        request: gr.Request = None) -> tuple:
        """The library table and every speech and year choice, keeping each selection that still exists, and the
        button that removes the samples (shown to librarians while there are any)."""
        speeches = self.store.list_speeches()
        labels = speech_labels(speeches)
        choices = [(labels[s.id], s.id) for s in speeches]
        ids = {s.id for s in speeches}
        years = sorted({str(s.year) for s in speeches if s.year})

        def keep(value, allowed):
            return value if value in allowed else None

        return (
            gr.update(value=[[s.id, s.title, s.date or "", s.passages, s.characters, vector_state(s)]
                             for s in speeches]),
            gr.update(choices=choices, value=[v for v in (filter_value or []) if v in ids]),
            gr.update(choices=years, value=keep(low, years)),
            gr.update(choices=years, value=keep(high, years)),
            gr.update(choices=choices, value=keep(a, ids)),
            gr.update(choices=choices, value=keep(b, ids)),
            gr.update(choices=choices, value=keep(picked, ids)),
            gr.update(visible=role_of(request) == LIBRARIAN and any(s.is_sample for s in speeches)),
        )

    def refresh_if_changed(self, seen: str, filter_value=None, low=None, high=None, a=None, b=None, picked=None,
                           request: gr.Request = None) -> tuple:
        """Every few seconds (a timer on the page): the library's listing token as this page last saw it, then the
        lists as ``refresh_library`` gives them, only when another tab, an upload or ``python -m ingest`` changed
        the library meanwhile (else nothing is sent); when only the vector step moved on, the table alone (an open
        dropdown is left alone). Outputs: the token, then ``refresh_library``'s."""
        try:
            now = self.store.listing_token()
        except Exception:  # the library is down: the lists stay as they are, a question says why
            now = seen
        if now == seen:
            return (gr.skip(),) * 9
        lists = self.refresh_library(filter_value, low, high, a, b, picked, request)
        if now.split("|")[0] == (seen or "").split("|")[0]:
            return (now, lists[0], *(gr.skip(),) * (len(lists) - 1))
        return (now, *lists)

    # -- chat ------------------------------------------------------------------------------------------------

    def ask(self, question: str, messages: list, turns: list, speech_ids, year_from, year_to) -> Iterator:
        """Outputs: chatbot, turns, question box, export text, export file. The turn is in ``turns`` from the start
        (answer None until it is done, with what was shown so far as ``partial``), so a stopped or failed answer
        keeps turns and messages in step. Closed by Gradio (the 停止 button, a closed tab), it closes the answer
        stream, which frees the model (answer/events.py); once ``stopped`` ran for it (the turn's ``id``) it yields
        nothing more, so no late piece of the answer can draw over the stopped one."""
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = recent_history(_history(turns), self.settings.max_history_turns, self.settings.max_history_chars)
        asked = {"question": question, "answer": None, "partial": "", "id": uuid.uuid4().hex}
        turns = [*turns, asked]
        messages = [*messages, {"role": "user", "content": render.question_html(question)},
                    {"role": "assistant", "content": render.streaming_html("")}]
        yield messages, turns, "", gr.skip(), gr.skip()
        answer = None
        replies = None
        try:
            replies = follow(self.assistant.ask_stream(question, history=history, speech_ids=speech_ids or None,
                                                       years=_years(year_from, year_to)))
            for reply in replies:
                if reply.result is None:  # the evidence and the text so far, or where in the queue it waits
                    shown = render.streaming_html(reply.showing(), evidence=_evidence(reply))
                    messages = [*messages[:-1], {"role": "assistant", "content": shown}]
                    turns = [*turns[:-1], {**asked, "partial": reply.text, "evidence": _evidence(reply)}]
                    if asked["id"] in self._stopped:
                        self._stopped.discard(asked["id"])
                        return  # 停止 was pressed: ``stopped`` drew the answer; closing the stream frees the model
                    yield messages, turns, "", gr.skip(), gr.skip()
                else:
                    answer = reply.result.as_json()
            if answer is None:
                raise RuntimeError("the answer stream ended without an answer")
        except Exception as error:  # shown as a message; friendly_error logs the unexpected ones
            messages = [*messages[:-1], {"role": "assistant", "content": render.error_html(self._error(error))}]
            yield messages, [*turns[:-1], {"question": question, "answer": None}], "", gr.skip(), gr.skip()
            return
        finally:
            if replies is not None:
                replies.close()
        turns = [*turns[:-1], {"question": question, "answer": answer}]
        messages = [*messages[:-1], *_answer_messages(answer)]
        answered = [t["answer"] for t in turns if t["answer"]]
        yield (messages, turns, "", render.answer_markdown(answer),
               gr.update(value=_export_file(render.conversation_markdown(answered)), interactive=True))

    def regenerate(self, messages: list, turns: list, speech_ids, year_from, year_to) -> Iterator:
        """重新生成 (the button beside 新对话): the last question asked again, its answer replaced (a stopped or
        failed one too); the LLM is tried again if it could not be used the first time. Outputs as ``ask``."""
        if not turns:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        cut = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages))
        yield from self.ask(turns[-1]["question"], messages[:cut], turns[:-1], speech_ids, year_from, year_to)

    def keep(self, turns: list) -> list:
        """What this browser keeps of the conversation (gr.BrowserState, until 新对话): its last answered turns."""
        return [t for t in turns if t.get("answer")][-SAVED_TURNS:]

    def restore(self, saved, turns: list | None = None) -> tuple:
        """On load: the conversation this browser kept, checked (it comes from the browser) and drawn again, unless
        this page holds a conversation already (``turns``: the stored copy changed because it answered).
        Outputs: chatbot, turns, export text, export file."""
        if turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            _SAVED.validate_python(saved or [])  # the shape of answers this app sent, nothing else
            turns = list(saved or [])[-SAVED_TURNS:]
        except ValidationError:
            log.info("a saved conversation that is no conversation was dropped")
            turns = []
        if not turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        messages = []
        for turn in turns:
            messages += [{"role": "user", "content": render.question_html(turn["question"])},
                         *_answer_messages(turn["answer"])]
        answers = [turn["answer"] for turn in turns]
        return (messages, turns, render.answer_markdown(answers[-1]),
                gr.update(value=_export_file(render.conversation_markdown(answers)), interactive=True))

    def stopped(self, messages: list, turns: list) -> tuple:
        """停止 (after Gradio cancelled the answer): outputs chatbot, turns. What was shown stays: the evidence, which
        stands as the answer, and the synthesis so far, marked as stopped; it is no part of the conversation a
        follow-up reads."""
        if turns and turns[-1].get("id"):
            if len(self._stopped) > MAX_STOPPED:  # answers stopped after they ended: forget them
                self._stopped.clear()
            self._stopped.add(turns[-1]["id"])
        if not turns or turns[-1].get("answer") is not None or "partial" not in turns[-1] or not messages:
            return gr.skip(), gr.skip()
        last = turns[-1]
        shown = render.stopped_html(last["partial"], last.get("evidence"))
        messages = [*messages[:-1], {"role": "assistant", "content": shown}]
        return messages, [*turns[:-1], {"question": last["question"], "answer": None}]

    def reset(self) -> tuple:
        """新对话: outputs chatbot, turns, export text, question box, export file, passage viewer."""
        return [], [], "", None, gr.update(value=None, interactive=False), render.viewer_placeholder()

    def open_citation(self, event: gr.EventData) -> str:
        """A chip was clicked (ui.js sends its ``#cite:`` link): the passage inside its whole speech."""
        try:
            speech_id, start, end, label = render.parse_cite_href(getattr(event, "cite", ""))
            record, text = self.store.get_speech(speech_id), self.store.speech_text(speech_id)
        except ValueError:
            return render.error_html("这个引用链接无效。")
        except Exception as error:
            return render.error_html(self._error(error))
        start, end = min(start, len(text)), min(end, len(text))
        return render.cited_passage_html(record.title, record.date, text, start, end, label)

    def feedback(self, turns: list, messages: list, like: gr.LikeData, request: gr.Request) -> None:
        """👍/👎 on an answer: appended to the feedback file with the answer it rates."""
        if not isinstance(like.liked, bool) or not isinstance(like.index, int):
            return
        turn_index = sum(1 for m in messages[: like.index + 1] if m.get("role") == "user") - 1
        if not 0 <= turn_index < len(turns) or not turns[turn_index].get("answer"):
            return
        header = self.settings.trusted_user_header
        user = request.headers.get(header) if header and request else None
        record_feedback(self.settings.data_dir, turns[turn_index]["answer"], "up" if like.liked else "down",
                        user=user, source="ui")
        gr.Info("谢谢，反馈已记录。")

    # -- compare ---------------------------------------------------------------------------------------------

    def _column(self, key: str, side: dict | None, speech_id: str) -> str:
        record, text = self.store.get_speech(speech_id), self.store.speech_text(speech_id)
        return render.compare_column_html(key, record, text, side)

    def compare(self, speech_a: str, speech_b: str, topic: str) -> Iterator:
        """Outputs: column A, column B, the comparison, its Markdown, the comparison's JSON (for the Word export)."""
        if not speech_a or not speech_b or not (topic or "").strip():
            yield gr.skip(), gr.skip(), render.error_html("请选择两篇讲话，并输入要比较的主题。"), gr.skip(), gr.skip()
            return
        replies = None
        try:
            yield self._column("A", None, speech_a), self._column("B", None, speech_b), \
                render.streaming_html(""), gr.skip(), None
            result = None
            replies = follow(self.assistant.compare_stream(speech_a, speech_b, topic))
            for reply in replies:
                if reply.result is None:
                    yield gr.skip(), gr.skip(), render.streaming_html(reply.showing(), evidence=_evidence(reply)), \
                        gr.skip(), gr.skip()
                else:
                    result = reply.result.as_json()
        except Exception as error:
            yield gr.skip(), gr.skip(), render.error_html(self._error(error)), gr.skip(), gr.skip()
            return
        finally:
            if replies is not None:
                replies.close()  # also when Gradio closes this handler: the comparison stops
        sides = result["speeches"]
        labelled = [*sides["A"]["passages"], *sides["B"]["passages"], *result["citations"]]
        body = render.answer_html(result["segments"], labelled, result["unsupported_sentences"], link="jump",
                                  css_class="answer comparison", notice=result.get("degraded_reason"))
        if result["citations"]:
            body += render.sources_html(result["citations"], link="jump", heading="所引段落")
        yield self._column("A", sides["A"], speech_a), self._column("B", sides["B"], speech_b), body, \
            render.comparison_markdown(result), result

    # -- library ---------------------------------------------------------------------------------------------

    def upload(self, files, request: gr.Request) -> tuple:
        """Outputs: one result row per file, and the emptied file box. Librarians only (checked here too)."""
        require_librarian(request, self.settings)
        paths = [Path(f) for f in (files or [])]
        try:
            results = ingest_uploads(self.assistant, [(p, p.name) for p in paths], self.settings.data_dir,
                                     self.settings.max_upload_mb, self.settings.language,
                                     received_in=upload_folder())
        except Exception as error:
            return [[p.name, "失败", self._error(error)] for p in paths], None
        return [r.as_row() for r in results], None

    def remove_samples(self, confirmed, request: gr.Request) -> str:
        """删除示例讲话 (librarians): every sample speech, at once (the library then never gets them back by itself);
        ``confirmed`` is None when the user cancelled the confirmation."""
        require_librarian(request, self.settings)
        if not confirmed:
            return gr.skip()
        try:
            removed = self.assistant.writer.remove_samples()
        except Exception as error:
            return render.error_html(self._error(error))
        return render.samples_removed_html(len(removed))

    def library_controls(self, request: gr.Request) -> list:
        """Outputs: the write controls (upload box, its results, delete) shown to librarians only, decided on the
        server per request, and the read-only notice to everyone else."""
        writer = role_of(request) == LIBRARIAN
        return [gr.update(visible=writer)] * 3 + [gr.update(visible=not writer)]

    def delete(self, speech_id: str | None, request: gr.Request) -> str:
        require_librarian(request, self.settings)
        if not speech_id:
            return ""
        try:
            record = self.store.get_speech(speech_id)
            self.assistant.delete(speech_id, then=lambda: remove_uploaded_source(record.source, self.settings.data_dir))
        except Exception as error:
            return render.error_html(self._error(error))
        return render.deleted_html(record.title, record.date)

    def _error(self, error: BaseException) -> str:
        return friendly_error(error, self.settings.language)[1]


def _busy() -> tuple:
    """发送 and 重新生成 hidden, 停止 shown: an answer streams."""
    return gr.update(visible=False), gr.update(visible=True), gr.update(visible=False)


def _idle() -> tuple:
    return gr.update(visible=True), gr.update(visible=False), gr.update(visible=True)


def build_ui(assistant, settings: Settings) -> gr.Blocks:
    on = Handlers(assistant, settings)
    study = StudyHandlers(assistant, settings)

    # -- layout ----------------------------------------------------------------------------------------------

    types = sorted(SUPPORTED_EXTENSIONS)
    with gr.Blocks(title="讲话助手", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# 讲话助手\n就资料库中的讲话提问、比较两篇讲话；每个回答都注明出处。", elem_id="app-title")
        turns = gr.State([])
        saved = gr.BrowserState([], storage_key="speeches-chat")  # the conversation, kept across a reload
        with gr.Tabs() as tabs:
            with gr.Tab("对话", id="chat", elem_id="tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话", elem_id="chatbot", height=520, buttons=[], layout="bubble",
                            placeholder="就资料库中的讲话提问，例如：今年的经济增速目标是什么？",
                            latex_delimiters=[],  # no LaTeX: "$$" in a speech is text, not a formula
                        )
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="输入问题，回车发送（可以追问）",
                                                  lines=1, max_lines=4, scale=6, elem_id="question", autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
                            stop = gr.Button("停止", variant="stop", scale=1, min_width=80, elem_id="stop",
                                             visible=False)
                        with gr.Row():
                            speech_filter = gr.Dropdown(label="只在这些讲话中检索（不选 = 全部）", multiselect=True,
                                                        choices=[], scale=3, elem_id="filter-speeches")
                            year_from = gr.Dropdown(label="起始年份", choices=[], value=None, scale=1,
                                                    min_width=100, elem_id="year-from")
                            year_to = gr.Dropdown(label="截止年份", choices=[], value=None, scale=1, min_width=100,
                                                  elem_id="year-to")
                            regenerate = gr.Button("重新生成", scale=1, min_width=80, elem_id="regenerate")
                            new_chat = gr.Button("新对话", scale=1, min_width=80, elem_id="new-chat")
                        with gr.Accordion("复制 / 导出（Markdown，含来源）", open=False, elem_id="export"):
                            export_text = gr.Textbox(label="最近一个回答", lines=8, max_lines=16, buttons=["copy"],
                                                     interactive=False, elem_id="export-md")
                            with gr.Row():
                                export_file = gr.DownloadButton("下载整个对话（.md）", interactive=False, size="sm",
                                                                elem_id="export-download")
                                export_docx = gr.DownloadButton("下载整个对话（Word）", interactive=False, size="sm",
                                                                elem_id="export-docx")
                    with gr.Column(scale=2):
                        viewer = gr.HTML(render.viewer_placeholder(), elem_id="passage-viewer", padding=True,
                                         js_on_load=UI_JS + "\nspeechesViewer(element, trigger, watch);")
            with gr.Tab("比较", id="compare", elem_id="tab-compare"):
                with gr.Row():
                    speech_a = gr.Dropdown(label="讲话 A", choices=[], scale=2, elem_id="speech-a")
                    speech_b = gr.Dropdown(label="讲话 B", choices=[], scale=2, elem_id="speech-b")
                    topic = gr.Textbox(label="主题", placeholder="例如：营商环境", scale=2, elem_id="topic")
                    compare_button = gr.Button("比较", variant="primary", scale=1, min_width=80,
                                               elem_id="compare-button")
                with gr.Row(equal_height=False):
                    scroll_js = UI_JS + "\nspeechesWatchMarks(element, watch);"
                    column_a = gr.HTML(render.compare_placeholder(), elem_id="compare-a", padding=True,
                                       js_on_load=scroll_js)
                    column_b = gr.HTML("", elem_id="compare-b", padding=True, js_on_load=scroll_js)
                comparison = gr.HTML("", elem_id="comparison", padding=True, js_on_load=None)
                with gr.Accordion("复制 / 导出比较结果（Markdown、Word，含来源）", open=False,
                                  elem_id="comparison-export"):
                    # labelled: Gradio draws a textbox's copy button in its label
                    comparison_text = gr.Textbox(label="比较结果", lines=8, max_lines=16, buttons=["copy"],
                                                 interactive=False, elem_id="comparison-md")
                    comparison_docx = gr.DownloadButton("下载比较结果（Word）", interactive=False, size="sm",
                                                        elem_id="comparison-docx")
                comparison_result = gr.State(None)
            verify_tab(study, on.open_citation, UI_JS)
            topic_parts = topic_tab(study, on.open_citation, UI_JS)
            with gr.Tab("资料库", id="library", elem_id="tab-library"):
                library = gr.Dataframe(headers=LIBRARY_HEADERS, value=[], interactive=False, wrap=True,
                                       elem_id="library-table", max_height=360)
                with gr.Row(equal_height=False):
                    uploader = gr.File(label=f"上传讲话（{' '.join(types)}；每个不超过 {settings.max_upload_mb:g} MB）",
                                       file_count="multiple", file_types=types, type="filepath",
                                       elem_id="upload", scale=2, visible=False)
                    upload_results = gr.Dataframe(headers=UPLOAD_HEADERS, value=[], interactive=False, wrap=True,
                                                  label="上传结果", elem_id="upload-results", scale=3, visible=False)
                write_notice = gr.Markdown(refusal_for_writes(settings), visible=False, elem_id="library-read-only")
                with gr.Row():
                    picked = gr.Dropdown(label="选择讲话", choices=[], scale=3, elem_id="library-pick")
                    show_button = gr.Button("查看全文", scale=1, min_width=80, elem_id="show-text")
                    delete_button = gr.Button("删除", variant="stop", scale=1, min_width=80, elem_id="delete-speech",
                                              visible=False)
                    samples_button = gr.Button("删除示例讲话", scale=1, min_width=120, elem_id="remove-samples",
                                               visible=False)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=240):
                        outline_view = gr.HTML("", elem_id="speech-outline", padding=True,
                                               js_on_load=UI_JS + "\nspeechesTopicLinks(element, trigger);")
                    with gr.Column(scale=2):
                        text_view = gr.HTML("", elem_id="full-text", padding=True,
                                            js_on_load=UI_JS + "\nspeechesHook();")

        library_outputs = [library, speech_filter, year_from, year_to, speech_a, speech_b, picked, samples_button]
        library_inputs = library_outputs[1:7]

        ask_io = {"fn": on.ask, "inputs": [question, chatbot, turns, speech_filter, year_from, year_to],
                  "outputs": [chatbot, turns, question, export_text, export_file]}
        word_io = {"fn": study.conversation_docx, "inputs": turns, "outputs": export_docx}
        answering = []  # while an answer streams, 停止 stands in for 发送 and cancels it (which closes the stream)
        buttons = [send, stop, regenerate]
        for trigger in (send.click, question.submit):
            asked = trigger(_busy, outputs=buttons, queue=False).then(**ask_io)
            asked.then(_idle, outputs=buttons, queue=False).then(on.keep, inputs=turns, outputs=saved)
            asked.then(**word_io)
            answering.append(asked)
        # 重新生成: the last question again, its answer replaced (stoppable as any answer). Our own button: with
        # the Chatbot's retry listener, a stopped answer left Gradio's error badge on the chat
        retried = regenerate.click(_busy, outputs=buttons, queue=False).then(
            on.regenerate, inputs=[chatbot, turns, speech_filter, year_from, year_to], outputs=ask_io["outputs"])
        retried.then(_idle, outputs=buttons, queue=False).then(on.keep, inputs=turns, outputs=saved)
        retried.then(**word_io)
        answering.append(retried)
        # the cancel first, then the stopped answer drawn: drawn together, a piece of the answer already on its way
        # could land after it and draw over it
        stop.click(None, cancels=answering, queue=False).then(
            on.stopped, inputs=[chatbot, turns], outputs=[chatbot, turns], queue=False
        ).then(_idle, outputs=buttons, queue=False)
        viewer.click(on.open_citation, outputs=viewer)
        chatbot.like(on.feedback, inputs=[turns, chatbot], outputs=None)
        for trigger in (new_chat.click, chatbot.clear):
            reset = trigger(on.reset, outputs=[chatbot, turns, export_text, question, export_file, viewer])
            reset.then(on.keep, inputs=turns, outputs=saved)
            reset.then(**word_io)

        compare_io = {"fn": on.compare, "inputs": [speech_a, speech_b, topic],
                      "outputs": [column_a, column_b, comparison, comparison_text, comparison_result]}
        compare_word = {"fn": study.comparison_docx, "inputs": comparison_result, "outputs": comparison_docx}
        for trigger in (compare_button.click, topic.submit):
            trigger(**compare_io).then(**compare_word)
        # two speeches of a topic into the comparison; a formula of a speech's outline into the topic view
        topic_parts["compare"].click(study.compare_picked, inputs=[topic_parts["pick"], topic_parts["query"]],
                                     outputs=[speech_a, speech_b, topic, tabs]
                                     ).success(**compare_io).then(**compare_word)
        outline_view.click(study.open_topic, outputs=[tabs, topic_parts["query"]]).success(**topic_parts["show"])

        uploader.upload(on.upload, inputs=uploader, outputs=[upload_results, uploader],
                        concurrency_id=LIBRARY_WRITE, concurrency_limit=1
                        ).then(on.refresh_library, inputs=library_inputs, outputs=library_outputs)
        show_button.click(study.overview, inputs=picked, outputs=[outline_view, text_view])
        picked.input(study.overview, inputs=picked, outputs=[outline_view, text_view])
        delete_button.click(on.delete, inputs=picked, outputs=text_view, concurrency_id=LIBRARY_WRITE,
                            concurrency_limit=1, js=CONFIRM_DELETE
                            ).then(on.refresh_library, inputs=library_inputs, outputs=library_outputs
                                   ).then(study.clear_outline, outputs=outline_view)
        samples_button.click(on.remove_samples, inputs=samples_button, outputs=text_view,
                             concurrency_id=LIBRARY_WRITE, concurrency_limit=1,
                             js="(label) => confirm('删除全部示例讲话？删除后不会再自动添加。') ? label : null"
                             ).then(on.refresh_library, inputs=library_inputs, outputs=library_outputs)
        # the lists follow the library: another tab's upload or python -m ingest shows within LIBRARY_POLL_S
        seen = gr.State("")
        gr.Timer(LIBRARY_POLL_S).tick(on.refresh_if_changed, inputs=[seen, *library_inputs],
                                      outputs=[seen, *library_outputs], show_progress="hidden")
        demo.load(on.refresh_if_changed, inputs=[seen, *library_inputs], outputs=[seen, *library_outputs])
        # the conversation this browser kept: on load, and when the browser's stored copy comes in after it
        for trigger in (demo.load, saved.change):
            trigger(on.restore, inputs=[saved, turns], outputs=[chatbot, turns, export_text, export_file]
                    ).then(**word_io)
        demo.load(on.library_controls, outputs=[uploader, upload_results, delete_button, write_notice])
    demo.queue(default_concurrency_limit=4)
    return demo
