"""The Gradio UI: chat with clickable citations, side-by-side comparison with a topic chart, and the library.

Everything shown is built by ``web.render`` (speech text and answers escaped, our own tags only). Handlers never
raise into Gradio: a failure becomes a friendly line (``web.errors``), the traceback goes to the log.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import gradio as gr

from answer.types import Queued
from ingest.readers import SUPPORTED_EXTENSIONS
from settings import Settings
from web import render
from web.errors import friendly_error
from web.feedback import record_feedback
from web.gradio_guard import LIBRARY_WRITE, upload_folder
from web.security import LIBRARIAN, refusal_for_writes, require_librarian, role_of
from web.uploads import ingest_uploads, remove_uploaded_source

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
UI_JS = (STATIC / "ui.js").read_text(encoding="utf-8")
VIEWER_PLACEHOLDER = ('<p class="viewer-placeholder">点击回答中的引用编号（如 <span class="cite-chip">1</span>），'
                      "这里会打开所引段落所在的讲话全文，并高亮该段落。</p>")
COMPARE_PLACEHOLDER = '<p class="viewer-placeholder">选择两篇讲话、输入主题后点击“比较”。</p>'
EXPORTS = Path(tempfile.gettempdir()) / "speeches-exports"
LIBRARY_HEADERS = ["编号", "标题", "日期", "段落数", "字数"]
UPLOAD_HEADERS = ["文件", "结果", "说明"]


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
    labelled = [*answer["context"], *answer["citations"]]
    body = render.answer_html(answer["answer"], labelled, answer["unsupported_sentences"], link="cite")
    messages = [{"role": "assistant", "content": body + render.flagged_note(answer["unsupported_sentences"])}]
    if answer["citations"]:
        messages.append({"role": "assistant", "content": render.sources_html(answer["citations"]),
                         "metadata": {"title": f"来源（{len(answer['citations'])}）"}})
    return messages


def _export_file(markdown: str) -> str:
    """The conversation as a .md file for the download button (Gradio copies it into its cache)."""
    EXPORTS.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - 3600
    for old in EXPORTS.glob("*.md"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    path = EXPORTS / f"讲话助手-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}.md"
    path.write_text(markdown, encoding="utf-8")
    return str(path)


def build_ui(assistant, settings: Settings) -> gr.Blocks:
    store = assistant.store

    def refresh_library(filter_value=None, low=None, high=None, a=None, b=None, picked=None):
        speeches = store.list_speeches()
        choices = [(f"{s.title}（{s.date}）" if s.date else s.title, s.id) for s in speeches]
        ids = {s.id for s in speeches}
        years = sorted({str(s.year) for s in speeches if s.year})
        keep = lambda v, allowed: v if v in allowed else None  # noqa: E731
        return (
            gr.update(value=[[s.id, s.title, s.date or "", s.passages, s.characters] for s in speeches]),
            gr.update(choices=choices, value=[v for v in (filter_value or []) if v in ids]),
            gr.update(choices=years, value=keep(low, years)),
            gr.update(choices=years, value=keep(high, years)),
            gr.update(choices=choices, value=keep(a, ids)),
            gr.update(choices=choices, value=keep(b, ids)),
            gr.update(choices=choices, value=keep(picked, ids)),
        )

    # -- chat ------------------------------------------------------------------------------------------------

    def ask(question: str, messages: list, turns: list, speech_ids, year_from, year_to) -> Iterator:
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = [*messages, {"role": "user", "content": render.esc(question)},
                    {"role": "assistant", "content": render.answer_html("", None, streaming=True)}]
        yield messages, turns, "", gr.skip(), gr.skip()
        text, answer = "", None
        try:
            stream = assistant.ask_stream(question, history=_history(turns), speech_ids=speech_ids or None,
                                          years=_years(year_from, year_to))
            for item in stream:
                if isinstance(item, str):
                    text += item
                    messages = [*messages[:-1], {"role": "assistant",
                                                 "content": render.answer_html(text, None, streaming=True)}]
                    yield messages, turns, "", gr.skip(), gr.skip()
                elif isinstance(item, Queued):  # waiting for the local model: say where in the queue
                    messages = [*messages[:-1], {"role": "assistant",
                                                 "content": render.answer_html(text + item.text(), None,
                                                                               streaming=True)}]
                    yield messages, turns, "", gr.skip(), gr.skip()
                else:
                    answer = item.as_json()
            if answer is None:
                raise RuntimeError("the answer stream ended without an answer")
        except Exception as error:  # shown as a message; friendly_error logs the unexpected ones
            _, message = friendly_error(error)
            messages = [*messages[:-1], {"role": "assistant", "content": render.error_html(message)}]
            yield messages, [*turns, {"question": question, "answer": None}], "", gr.skip(), gr.skip()
            return
        turns = [*turns, {"question": question, "answer": answer}]
        messages = [*messages[:-1], *_answer_messages(answer)]
        answered = [t["answer"] for t in turns if t["answer"]]
        yield (messages, turns, "", render.answer_markdown(answer),
               gr.update(value=_export_file(render.conversation_markdown(answered)), interactive=True))

    def open_citation(event: gr.EventData) -> str:
        try:
            speech_id, start, end, label = render.parse_cite_href(getattr(event, "cite", ""))
            record, text = store.get_speech(speech_id), store.speech_text(speech_id)
        except ValueError:
            return render.error_html("这个引用链接无效。")
        except Exception as error:
            return render.error_html(friendly_error(error)[1])
        start, end = min(start, len(text)), min(end, len(text))
        return render.cited_passage_html(record.title, record.date, text, start, end, label)

    def feedback(turns: list, messages: list, like: gr.LikeData, request: gr.Request) -> None:
        if not isinstance(like.liked, bool) or not isinstance(like.index, int):
            return
        turn_index = sum(1 for m in messages[: like.index + 1] if m.get("role") == "user") - 1
        if not 0 <= turn_index < len(turns) or not turns[turn_index].get("answer"):
            return
        user = request.headers.get(settings.trusted_user_header) if settings.trusted_user_header and request else None
        record_feedback(settings.data_dir, turns[turn_index]["answer"], "up" if like.liked else "down", user=user,
                        source="ui")
        gr.Info("谢谢，反馈已记录。")

    # -- compare ---------------------------------------------------------------------------------------------

    def column(key: str, side: dict | None, speech_id: str) -> str:
        record, text = store.get_speech(speech_id), store.speech_text(speech_id)
        spans = [(c["start"], c["end"], c["label"]) for c in (side or {}).get("passages", [])]
        head = f"<h3>{key}：{render.esc(render.speech_label(record.title, record.date))}</h3>"
        if side is not None and not side["found"]:
            head += '<p class="not-found">这篇讲话没有明显涉及这个主题。</p>'
        return f'<div class="compare-col">{render.speech_html(text, spans, id_prefix="cmp-", header=head)}</div>'

    def compare(speech_a: str, speech_b: str, topic: str) -> Iterator:
        if not speech_a or not speech_b or not (topic or "").strip():
            yield gr.skip(), gr.skip(), render.error_html("请选择两篇讲话，并输入要比较的主题。"), gr.skip()
            return
        try:
            yield column("A", None, speech_a), column("B", None, speech_b), \
                render.answer_html("", None, streaming=True), gr.skip()
            text, result = "", None
            for item in assistant.compare_stream(speech_a, speech_b, topic):
                if isinstance(item, str):
                    text += item
                    yield gr.skip(), gr.skip(), render.answer_html(text, None, streaming=True), gr.skip()
                elif isinstance(item, Queued):
                    yield gr.skip(), gr.skip(), render.answer_html(text + item.text(), None, streaming=True), \
                        gr.skip()
                else:
                    result = item.as_json()
        except Exception as error:
            yield gr.skip(), gr.skip(), render.error_html(friendly_error(error)[1]), gr.skip()
            return
        sides = result["speeches"]
        labelled = [*sides["A"]["passages"], *sides["B"]["passages"], *result["citations"]]
        body = (render.answer_html(result["answer"], labelled, result["unsupported_sentences"], link="jump",
                                   css_class="answer comparison")
                + render.flagged_note(result["unsupported_sentences"]))
        if result["citations"]:
            body += "<h4>所引段落</h4>" + render.sources_html(result["citations"], link="jump")
        yield column("A", sides["A"], speech_a), column("B", sides["B"], speech_b), body, \
            render.comparison_markdown(result)

    def chart(speech_a: str, speech_b: str, topic: str) -> str:
        if not (topic or "").strip():
            return ""
        try:
            return render.topic_chart_html(topic.strip(), assistant.topic_strength(topic), (speech_a, speech_b))
        except Exception as error:
            return render.error_html(friendly_error(error)[1])

    # -- library ---------------------------------------------------------------------------------------------

    def upload(files, request: gr.Request) -> tuple:
        require_librarian(request, settings)
        paths = [Path(f) for f in (files or [])]
        try:
            results = ingest_uploads(assistant, [(p, p.name) for p in paths], settings.data_dir,
                                     settings.max_upload_mb, received_in=upload_folder())
        except Exception as error:
            return [[p.name, "失败", friendly_error(error)[1]] for p in paths], None
        return [r.as_row() for r in results], None

    def full_text(speech_id: str | None) -> str:
        if not speech_id:
            return ""
        try:
            record, text = store.get_speech(speech_id), store.speech_text(speech_id)
        except Exception as error:
            return render.error_html(friendly_error(error)[1])
        meta = f"{record.passages} 个段落 · {record.characters} 字 · 编号 {record.id}"
        header = (f"<strong>{render.esc(render.speech_label(record.title, record.date))}</strong> "
                  f'<span class="viewer-range">{render.esc(meta)}</span>')
        return render.speech_html(text, header=header)

    def delete(speech_id: str | None, request: gr.Request) -> str:
        require_librarian(request, settings)
        if not speech_id:
            return ""
        try:
            record = store.get_speech(speech_id)
            assistant.delete(speech_id)
            remove_uploaded_source(record.source, settings.data_dir)
        except Exception as error:
            return render.error_html(friendly_error(error)[1])
        return f'<p class="viewer-placeholder">已删除：{render.esc(render.speech_label(record.title, record.date))}</p>'

    # -- layout ----------------------------------------------------------------------------------------------

    types = sorted(SUPPORTED_EXTENSIONS)
    with gr.Blocks(title="讲话助手", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# 讲话助手\n就资料库中的讲话提问、比较两篇讲话；每个回答都注明出处。", elem_id="app-title")
        turns = gr.State([])
        with gr.Tabs():
            with gr.Tab("对话", id="chat", elem_id="tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话", elem_id="chatbot", height=520, buttons=[], layout="bubble",
                            placeholder="就资料库中的讲话提问，例如：今年的经济增速目标是什么？",
                        )
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="输入问题，回车发送（可以追问）",
                                                  lines=1, max_lines=4, scale=6, elem_id="question", autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
                        with gr.Row():
                            speech_filter = gr.Dropdown(label="只在这些讲话中检索（不选 = 全部）", multiselect=True,
                                                        choices=[], scale=3, elem_id="filter-speeches")
                            year_from = gr.Dropdown(label="起始年份", choices=[], value=None, scale=1,
                                                    min_width=100, elem_id="year-from")
                            year_to = gr.Dropdown(label="截止年份", choices=[], value=None, scale=1, min_width=100,
                                                  elem_id="year-to")
                            new_chat = gr.Button("新对话", scale=1, min_width=80, elem_id="new-chat")
                        with gr.Accordion("复制 / 导出（Markdown，含来源）", open=False, elem_id="export"):
                            export_text = gr.Textbox(label="最近一个回答", lines=8, max_lines=16, buttons=["copy"],
                                                     interactive=False, elem_id="export-md")
                            export_file = gr.DownloadButton("下载整个对话（.md）", interactive=False, size="sm",
                                                            elem_id="export-download")
                    with gr.Column(scale=2):
                        viewer = gr.HTML(VIEWER_PLACEHOLDER, elem_id="passage-viewer", padding=True,
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
                    column_a = gr.HTML(COMPARE_PLACEHOLDER, elem_id="compare-a", padding=True, js_on_load=scroll_js)
                    column_b = gr.HTML("", elem_id="compare-b", padding=True, js_on_load=scroll_js)
                comparison = gr.HTML("", elem_id="comparison", padding=True, js_on_load=None)
                with gr.Accordion("复制比较结果（Markdown，含来源）", open=False):
                    comparison_text = gr.Textbox(show_label=False, lines=8, max_lines=16, buttons=["copy"],
                                                 interactive=False, elem_id="comparison-md")
                topic_chart = gr.HTML("", elem_id="topic-chart", padding=True, js_on_load=None)
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
                text_view = gr.HTML("", elem_id="full-text", padding=True, js_on_load=None)

        library_outputs = [library, speech_filter, year_from, year_to, speech_a, speech_b, picked]
        library_inputs = library_outputs[1:]

        ask_io = {"fn": ask, "inputs": [question, chatbot, turns, speech_filter, year_from, year_to],
                  "outputs": [chatbot, turns, question, export_text, export_file]}
        send.click(**ask_io)
        question.submit(**ask_io)
        viewer.click(open_citation, outputs=viewer)
        chatbot.like(feedback, inputs=[turns, chatbot], outputs=None)

        def reset():
            return [], [], "", None, gr.update(value=None, interactive=False), VIEWER_PLACEHOLDER

        new_chat.click(reset, outputs=[chatbot, turns, export_text, question, export_file, viewer])
        chatbot.clear(reset, outputs=[chatbot, turns, export_text, question, export_file, viewer])

        compare_io = {"fn": compare, "inputs": [speech_a, speech_b, topic],
                      "outputs": [column_a, column_b, comparison, comparison_text]}
        for trigger in (compare_button.click, topic.submit):
            trigger(**compare_io).then(chart, inputs=[speech_a, speech_b, topic], outputs=topic_chart)

        uploader.upload(upload, inputs=uploader, outputs=[upload_results, uploader],
                        concurrency_id=LIBRARY_WRITE, concurrency_limit=1
                        ).then(refresh_library, inputs=library_inputs, outputs=library_outputs)
        show_button.click(full_text, inputs=picked, outputs=text_view)
        picked.input(full_text, inputs=picked, outputs=text_view)
        delete_button.click(delete, inputs=picked, outputs=text_view, concurrency_id=LIBRARY_WRITE,
                            concurrency_limit=1, js="(id) => (id && confirm('删除这篇讲话？')) ? id : null"
                            ).then(refresh_library, inputs=library_inputs, outputs=library_outputs)
        demo.load(refresh_library, inputs=library_inputs, outputs=library_outputs)

        def library_controls(request: gr.Request) -> list:  # write controls for librarians only (server-side)
            writer = role_of(request) == LIBRARIAN
            return [gr.update(visible=writer)] * 3 + [gr.update(visible=not writer)]

        demo.load(library_controls, outputs=[uploader, upload_results, delete_button, write_notice])
    demo.queue(default_concurrency_limit=4)
    return demo
