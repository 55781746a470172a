"""The UI of the study tools: the 核对 (quote check) and 主题 (topic) tabs, a speech's outline in the library tab, and
the Word downloads of every view. ``StudyHandlers`` holds what each event does (tests call it directly:
tests/test_study_ui.py); ``verify_tab`` and ``topic_tab`` lay out their tab inside ``build_ui``'s tabs (their
passage viewers open a chip's passage with the chat's handler, ``open_passage``); ``build_ui`` wires what crosses
tabs (two speeches of a topic into the comparison, a formula of an outline into the topic view).

Every event here reads: a reader may call each one (no library write, no file named by the client). What is shown
comes from web/render.py's templates, escaped; a failure is one friendly line (web/errors.py).
"""

from __future__ import annotations

import logging

import gradio as gr

from ingest.store import speech_labels
from study.outline import speech_outline
from study.quotes import check_quotes
from study.topic import follow_topic
from web import render, word
from web.errors import friendly_error
from web.exports import export_file

log = logging.getLogger(__name__)

VERIFY_PLACEHOLDER = ("把稿子粘贴在左边（引号里的话会逐一核对；没有引号时逐句核对），点“核对”。"
                      "点击结果中的出处，这里会打开原文并高亮那段话。")
TOPIC_PLACEHOLDER = "输入一个主题（例如：营商环境），查看资料库中哪些讲话谈到它、谈了多少，以及原话。点击编号打开原文。"
NO_DOWNLOAD = {"value": None, "interactive": False}


def _download(document: bytes, kind: str) -> dict:
    """A Word document as the file of a download button."""
    return gr.update(value=export_file(document, ".docx", word.file_name(kind)), interactive=True)


class StudyHandlers:
    def __init__(self, assistant, settings) -> None:
        self.assistant = assistant
        self.settings = settings

    # -- 核对 -------------------------------------------------------------------------------------------------------

    def verify(self, text: str) -> tuple:
        """Outputs: the results, the check (for the download), the Word download."""
        if not (text or "").strip():
            return render.error_html("请先粘贴要核对的文字。"), None, gr.update(**NO_DOWNLOAD)
        try:
            check = check_quotes(self.assistant.retriever, text).as_json()
        except Exception as error:
            return render.error_html(friendly_error(error, self.settings.language)[1]), None, gr.update(**NO_DOWNLOAD)
        return render.verify_html(check), check, _download(word.document("verify", check), "verify")

    # -- 主题 -------------------------------------------------------------------------------------------------------

    def topic(self, topic: str) -> tuple:
        """Outputs: the topic view, the view (for the download), the speeches to pick two of, the Word download."""
        if not (topic or "").strip():
            return (render.error_html("请输入一个主题。"), None, gr.update(choices=[], value=[]),
                    gr.update(**NO_DOWNLOAD))
        try:
            view = follow_topic(self.assistant.retriever, topic).as_json()
        except Exception as error:
            return (render.error_html(friendly_error(error, self.settings.language)[1]), None,
                    gr.update(choices=[], value=[]), gr.update(**NO_DOWNLOAD))
        labels = speech_labels(self.assistant.store.list_speeches())  # what tells two speeches apart (issue 12)
        choices = [(labels.get(s["speech_id"], s["title"]), s["speech_id"]) for s in view["speeches"]]
        return (render.topic_html(view), view, gr.update(choices=choices, value=[]),
                _download(word.document("topic", view), "topic"))

    def compare_picked(self, picked, topic: str) -> tuple:
        """Two speeches of the topic view into the comparison. Outputs: speech A, speech B, the comparison's topic,
        the tabs (the comparison shown). Anything but two picked: a notice (gr.Error: the comparison does not run)."""
        picked = list(picked or [])
        if len(picked) != 2 or not (topic or "").strip():
            raise gr.Error("请先查看一个主题，再在列表中选两篇讲话。", print_exception=False)
        return picked[0], picked[1], topic.strip(), gr.Tabs(selected="compare")

    def open_topic(self, event: gr.EventData) -> tuple:
        """A formula's link in a speech's outline: the topic view on it. Outputs: the tabs, the topic box."""
        try:
            name = render.parse_topic_href(getattr(event, "topic", ""))
        except ValueError:
            raise gr.Error("这个链接无效。", print_exception=False) from None
        return gr.Tabs(selected="topic"), name

    # -- the library: a speech with its outline ----------------------------------------------------------------------

    def overview(self, speech_id: str | None) -> tuple:
        """Outputs: the speech's outline (headings, figures, formulas), its text with them marked."""
        if not speech_id:
            return "", ""
        try:
            outline = speech_outline(self.assistant.retriever, speech_id).as_json()
            store = self.assistant.store
            record, text = store.get_speech(speech_id), store.speech_text(speech_id)
        except Exception as error:
            return "", render.error_html(friendly_error(error, self.settings.language)[1])
        return render.outline_html(outline), render.outlined_text_html(record, text, outline)

    def clear_outline(self) -> str:
        """After a speech was deleted: no outline."""
        return ""

    # -- Word downloads of the chat and the comparison -----------------------------------------------------------------

    def conversation_docx(self, turns: list) -> dict:
        answers = [t["answer"] for t in turns or [] if t.get("answer")]
        return _download(word.conversation_docx(answers), "answer") if answers else gr.update(**NO_DOWNLOAD)

    def comparison_docx(self, comparison: dict | None) -> dict:
        if not comparison:
            return gr.update(**NO_DOWNLOAD)
        return _download(word.document("comparison", comparison), "comparison")


def verify_tab(on: StudyHandlers, open_passage, ui_js: str) -> None:
    """The 核对 tab (inside ``gr.Tabs``)."""
    with gr.Tab("核对", id="verify", elem_id="tab-verify"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                text = gr.Textbox(label="要核对的文字：带引号的稿子，或一句话", lines=8, max_lines=20,
                                  max_length=on.settings.max_verify_chars, elem_id="verify-text",
                                  placeholder="例如：会议指出，“今年全市经济增长的预期目标是5%左右。”")
                with gr.Row():
                    button = gr.Button("核对", variant="primary", scale=1, min_width=80, elem_id="verify-button")
                    download = gr.DownloadButton("下载核对结果（Word）", interactive=False, size="sm", scale=1,
                                                 elem_id="verify-docx")
                results = gr.HTML("", elem_id="verify-results", padding=True, js_on_load=None)
            with gr.Column(scale=2):
                viewer = gr.HTML(render.placeholder_html(VERIFY_PLACEHOLDER), elem_id="verify-viewer", padding=True,
                                 js_on_load=ui_js + "\nspeechesViewer(element, trigger, watch);")
        check = gr.State(None)
        button.click(on.verify, inputs=text, outputs=[results, check, download])
        viewer.click(open_passage, outputs=viewer)


def topic_tab(on: StudyHandlers, open_passage, ui_js: str) -> dict:
    """The 主题 tab (inside ``gr.Tabs``); returns the components ``build_ui`` wires across tabs."""
    with gr.Tab("主题", id="topic", elem_id="tab-topic"):
        with gr.Row():
            query = gr.Textbox(show_label=False, placeholder="主题，例如：营商环境", scale=4, elem_id="topic-query")
            button = gr.Button("查看", variant="primary", scale=1, min_width=80, elem_id="topic-button")
            download = gr.DownloadButton("下载（Word）", interactive=False, size="sm", scale=1, elem_id="topic-docx")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                view = gr.HTML("", elem_id="topic-view", padding=True, js_on_load=None)
                with gr.Row():
                    pick = gr.Dropdown(label="选两篇讲话，在“比较”中打开", choices=[], multiselect=True,
                                       max_choices=2, scale=3, elem_id="topic-pick")
                    compare = gr.Button("比较这两篇", scale=1, min_width=80, elem_id="topic-compare")
            with gr.Column(scale=2):
                viewer = gr.HTML(render.placeholder_html(TOPIC_PLACEHOLDER), elem_id="topic-viewer", padding=True,
                                 js_on_load=ui_js + "\nspeechesViewer(element, trigger, watch);")
        result = gr.State(None)
        show = {"fn": on.topic, "inputs": query, "outputs": [view, result, pick, download]}
        button.click(**show)
        query.submit(**show)
        viewer.click(open_passage, outputs=viewer)
    return {"query": query, "show": show, "pick": pick, "compare": compare}
