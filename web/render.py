"""HTML and Markdown for answers, citations and speeches, and the study views (quote check, topic, outline).

The HTML comes from the Jinja2 templates in ``web/templates/`` with autoescaping on: speech text, titles and answers
are data, never markup, and the only tags in the output are the templates' own. An answer is drawn from its
``segments`` (answer/segments.py), never by parsing its text, so a "[1]" quoted from a speech stays text; answers are
shown as plain paragraphs and bullet lines (no Markdown emphasis: speeches mask names with ``*``, and a quote must
read exactly as spoken). The embed page (web/static/embed.js) maps the same segments to DOM nodes, with the texts
and lengths defined here (``embed_page``).

What goes into the Gradio Chatbot is one line of HTML: its Markdown renderer leaves an HTML block alone until a
blank line, so no newline from the data may end it (``_one_line``). LaTeX is off in the Chatbot (web/ui.py).

Citation chips are links whose fragment names what they open, so they survive the Chatbot's HTML sanitiser (it keeps
``href`` but drops ``data-`` attributes):
- ``#cite:SPEECH_ID:START:END:LABEL`` (ids and labels URL-quoted): the chat opens the passage inside its speech;
- ``#cmp-LABEL``: the comparison scrolls to the passage highlighted in its speech column;
- ``#ol-h1`` (``f1``, ``m1``): a speech's outline scrolls to that heading, figure or formula in its text;
- ``#topic:NAME``: a formula of the outline opens the topic view on it.
A ``#cite:`` link opens the passage in the viewer of the tab it is in (chat, 核对, 主题).

The Markdown export escapes every character of the data that Markdown could read as syntax (``md_escape``): raw
HTML, links (``javascript:`` ones included) and images (remote ones included) cannot be formed from a speech, an
answer or a question, and everything reads as it was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from answer.segments import ITEM, parse
from ingest.speechtext import DATED, TITLE, speech_label

CITE_PREFIX = "#cite:"
JUMP_PREFIX = "#cmp-"
TOPIC_PREFIX = "#topic:"
SNIPPET_CHARS = 90  # opening characters of a cited passage shown under an answer
FLAGGED_TITLE = "引用核对未通过：所引材料不支持这句话"
FLAGGED_NOTE = "{n} 句话未通过引用核对（已标出）：所引的讲话原文不支持它们，请核对原文。"
STOPPED_NOTE = "已停止：这个回答没有写完，追问时不会用到它。"


def snippet(text: str) -> str:
    words = " ".join(str(text or "").split())
    return words if len(words) <= SNIPPET_CHARS else words[:SNIPPET_CHARS] + "…"


def flagged_note(count: int) -> str:
    """The line under an answer with flagged sentences (empty when none)."""
    return FLAGGED_NOTE.format(n=count) if count else ""


def embed_page() -> str:
    """The embed page (web/templates/embed.html) with what it draws with, defined here, as JSON data in it."""
    config = {"flagged_title": FLAGGED_TITLE, "flagged_note": FLAGGED_NOTE, "snippet_chars": SNIPPET_CHARS,
              "stopped_note": STOPPED_NOTE, "speech_label": {"title": TITLE, "dated": DATED}}
    return _ENV.get_template("embed.html").render(config=config)


# -- citation chips --------------------------------------------------------------------------------------------


def cite_href(citation: Mapping) -> str:
    return (f"{CITE_PREFIX}{quote(str(citation['speech_id']), safe='')}:{int(citation['start'])}:"
            f"{int(citation['end'])}:{quote(str(citation['label']), safe='')}")


def parse_cite_href(href: str) -> tuple[str, int, int, str]:
    """(speech_id, start, end, label) from a chip's ``#cite:`` link; ValueError when it is not one."""
    if not isinstance(href, str) or not href.startswith(CITE_PREFIX):
        raise ValueError("not a citation link")
    parts = href[len(CITE_PREFIX):].split(":")
    if len(parts) != 4:
        raise ValueError("not a citation link")
    speech_id, start, end, label = unquote(parts[0]), int(parts[1]), int(parts[2]), unquote(parts[3])
    if not speech_id or start < 0 or end < start:
        raise ValueError("not a citation link")
    return speech_id, start, end, label


def topic_href(name: str) -> str:
    """The link of a formula that opens the topic view on it (ui.js sends it to the outline's click event)."""
    return TOPIC_PREFIX + quote(name, safe="")


def parse_topic_href(href: str) -> str:
    if not isinstance(href, str) or not href.startswith(TOPIC_PREFIX):
        raise ValueError("not a topic link")
    return unquote(href[len(TOPIC_PREFIX):])


def _chip_href(citation: Mapping, label: str, link: str) -> str:
    return cite_href(citation) if link == "cite" else f"{JUMP_PREFIX}{quote(label, safe='')}"


_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
_ENV.globals.update(chip_href=_chip_href, speech_label=speech_label, snippet=snippet, flagged_title=FLAGGED_TITLE,
                    cite_href=cite_href, topic_href=topic_href)
_ENV.filters["clamp"] = lambda value: max(0.0, min(1.0, float(value)))
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")  # the templates' own line breaks (data never holds a bare ">")


def _render(template: str, **values) -> str:
    html = _ENV.get_template(template).render(**values)
    return html if template == "speech.html" else _BETWEEN_TAGS.sub("><", html).strip()  # a speech's own breaks stay


def _note(name: str, *args) -> str:
    return str(getattr(_ENV.get_template("notes.html").module, name)(*args))


def _one_line(html: str) -> str:
    """For the Chatbot: no line break at all, so its Markdown renderer never leaves our HTML block."""
    return " ".join(html.splitlines())


# -- answers ---------------------------------------------------------------------------------------------------


def _layout(segments: Sequence[Mapping]) -> list[dict]:
    """Segments as the answer template walks them: runs of paragraphs and lists; each block's runs grouped by the
    flagged sentence they belong to."""
    layout: list[dict] = []
    for block in segments:
        groups: list[dict] = []
        for run in block["runs"]:
            flag = run.get("flag")
            if groups and groups[-1]["flag"] == flag:
                groups[-1]["runs"].append(run)
            else:
                groups.append({"flag": flag, "runs": [run]})
        is_list = block["kind"] == ITEM
        if layout and layout[-1]["list"] == is_list:
            layout[-1]["blocks"].append(groups)
        else:
            layout.append({"list": is_list, "blocks": [groups]})
    return layout


def answer_html(segments: Sequence[Mapping], citations: Sequence[Mapping], unsupported: Sequence[str] = (), *,
                link: str = "cite", css_class: str = "answer") -> str:
    """A finished answer: its segments with chips for ``citations`` (by label), flagged sentences marked, and the
    note saying how many were flagged."""
    cited = {str(c["label"]): c for c in citations}
    return _one_line(_render("answer.html", layout=_layout(segments), cited=cited, link=link, css_class=css_class,
                             streaming=False, note=flagged_note(len(unsupported))))


def streaming_html(text: str, css_class: str = "answer") -> str:
    """An answer while it streams: its text so far in paragraphs and lists, markers as text, a cursor."""
    segments = [block.as_json() for block in parse(text, None)]
    return _one_line(_render("answer.html", layout=_layout(segments), cited={}, link="cite", css_class=css_class,
                             streaming=True, note=""))


def stopped_html(text: str) -> str:
    """An answer the user stopped: its text so far, without the cursor, and a note that it was stopped."""
    segments = [block.as_json() for block in parse(text, None)]
    body = _render("answer.html", layout=_layout(segments), cited={}, link="cite", css_class="answer stopped",
                   streaming=False, note="")
    return _one_line(body + _note("stopped", STOPPED_NOTE))


def sources_html(citations: Sequence[Mapping], *, link: str = "cite", heading: str = "") -> str:
    """The cited passages under an answer: chip, speech, opening words."""
    return _one_line(_render("sources.html", citations=citations, link=link, heading=heading))


def question_html(question: str) -> str:
    """The user's question in the chat: plain text, whatever Markdown, HTML or LaTeX it holds."""
    return _one_line(_note("question", question))


def error_html(message: str) -> str:
    return _note("error", message)


def viewer_placeholder() -> str:
    return _note("viewer_placeholder")


def placeholder_html(text: str) -> str:
    return _note("placeholder", text)


def compare_placeholder() -> str:
    return _note("compare_placeholder")


def deleted_html(title: str, date: str | None) -> str:
    return _note("deleted", title, date)


def samples_removed_html(count: int) -> str:
    return _note("samples_removed", count)


# -- speeches --------------------------------------------------------------------------------------------------


def _pieces(text: str, spans: Sequence[tuple[int, int, str]], id_prefix: str, css: str = "cited",
            badges: bool = True) -> list[dict]:
    """The speech cut where highlighted spans start and end. Overlapping spans (passages share sentences) give
    pieces that carry every label covering them; the first piece of each label gets the element id
    ``id_prefix + label`` (what a ``#cmp-`` chip scrolls to) and, with ``badges``, a small label badge. ``css``:
    the marks' class (``cited`` marks are what ui.js scrolls to when the speech is shown)."""
    n = len(text)
    spans = [(max(0, min(n, s)), max(0, min(n, e)), str(label)) for s, e, label in spans]
    spans = [(s, e, label) for s, e, label in spans if e > s]
    cuts = sorted({0, n, *(p for s, e, _ in spans for p in (s, e))})
    seen: set[str] = set()
    pieces = []
    for p, q in zip(cuts, cuts[1:]):
        labels = [label for s, e, label in spans if s <= p and q <= e]
        new = [label for label in labels if label not in seen]
        seen.update(new)
        anchor = id_prefix + new[0] if new and id_prefix else ""
        pieces.append({"text": text[p:q], "labels": labels, "new": new if badges else [], "anchor": anchor,
                       "css": css})
    return pieces


def cited_passage_html(title: str, date: str | None, text: str, start: int, end: int, label: str) -> str:
    """The passage a chat chip opens: its whole speech, the cited span highlighted (and scrolled to by ui.js)."""
    return _render("speech.html", pieces=_pieces(text, [(start, end, label)], "viewer-"), header="passage",
                   title=title, date=date, start=start, end=end, label=label)


def compare_column_html(key: str, record, text: str, side: Mapping | None) -> str:
    """One speech of a comparison, its passages on the topic (``side``, once known) highlighted."""
    spans = [(c["start"], c["end"], c["label"]) for c in (side or {}).get("passages", [])]
    return _render("speech.html", pieces=_pieces(text, spans, "cmp-"), header="column", key=key, title=record.title,
                   date=record.date, not_found=side is not None and not side["found"])


# -- the study views: quote check, topic, outline (study/) ------------------------------------------------------

STATUS = {"exact": "一字不差", "altered": "有改动", "not_found": "未找到"}


def verify_html(check: Mapping) -> str:
    """A quote check: a line of counts, then each quote with its status, the source as a chip that opens it, the
    diff of an altered one (meaning-bearing changes marked) and the nearest passages of one not found."""
    sentences = check.get("sentences", [])
    counts = {status: sum(s["status"] == status for s in sentences) for status in STATUS}
    return _render("verify.html", sentences=sentences, counts=counts, status=STATUS)


def topic_html(view: Mapping) -> str:
    """A topic across the library: by year, then each speech in date order with its strength and quote chips.
    Bars are drawn against the strongest row, the share itself is written beside them."""
    speeches, years = view.get("speeches", []), [y for y in view.get("years", []) if y.get("speeches")]
    top = max([s["strength"] for s in speeches] + [y["strength"] for y in years] + [0.0]) or 1.0
    return _render("topic.html", view=view, speeches=speeches, years=years, top=top)


def outline_html(outline: Mapping) -> str:
    """A speech's outline, figures and formulas as links into its text (``#ol-`` anchors of
    ``outlined_text_html``); a formula other speeches hold also links to the topic view."""
    return _render("outline.html", outline=outline)


def outlined_text_html(record, text: str, outline: Mapping) -> str:
    """A speech of the library with its size, its headings, figures and formulas marked and anchored for the
    outline's links (ids ``ol-h1``, ``ol-f1``, ``ol-m1``...)."""
    spans = [(h["start"], h["end"], f"h{i}") for i, h in enumerate(outline.get("headings", []), 1)]
    spans += [(f["start"], f["end"], f"f{i}") for i, f in enumerate(outline.get("figures", []), 1)]
    spans += [(m["start"], m["end"], f"m{i}") for i, m in enumerate(outline.get("formulas", []), 1)]
    return _render("speech.html", pieces=_pieces(text, spans, "ol-", css="outline-mark", badges=False),
                   header="full", record=record, title=record.title, date=record.date)


# -- Markdown for copy and export ------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|&#!])")


def md_escape(text: object) -> str:
    """Data as Markdown text that reads as written: every character Markdown (CommonMark, GFM, math) could take
    as syntax is backslash-escaped, so no HTML, link, image, emphasis or formula is ever formed from it."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def _md_runs(runs: Sequence[Mapping]) -> str:
    out, after_cite = [], False
    for run in runs:
        if "cite" in run:
            out.append(f"[{md_escape(run['cite'])}]")
            after_cite = True
            continue
        text = md_escape(run["text"])
        if after_cite and text[:1] in "(:":  # "[1](...)" or "[1]: ..." would be a link or a link definition
            text = "\\" + text
        out.append(text)
        after_cite = False
    return "".join(out)


def segments_markdown(segments: Sequence[Mapping]) -> str:
    """Paragraphs apart, list items one a line."""
    lines: list[str] = []
    for block in segments:
        if block["kind"] == ITEM:
            lines.append("- " + _md_runs(block["runs"]))
        else:
            lines += ["", _md_runs(block["runs"]), ""] if lines and lines[-1] else [_md_runs(block["runs"]), ""]
    return "\n".join(lines).strip()


def _sources_markdown(citations: Sequence[Mapping]) -> list[str]:
    lines = []
    for c in citations:
        where = md_escape(speech_label(c.get("title") or c["speech_id"], c.get("date")))
        quoted = "\n".join(f"> {md_escape(line)}" for line in str(c.get("text", "")).splitlines() if line.strip())
        also = f"（同样的文字也见于：{md_escape('、'.join(map(str, c['also_in'])))}）" if c.get("also_in") else ""
        lines += [f"[{md_escape(c['label'])}] {where}，{md_escape(c['speech_id'])}，"
                  f"第 {int(c['start']) + 1}–{int(c['end'])} 字{also}", quoted, ""]
    return lines


def answer_markdown(answer: Mapping) -> str:
    """An answer with its sources, as Markdown (the chat's copy and export, and the API's ``markdown``)."""
    question = "\n".join(md_escape(line) for line in str(answer.get("question", "")).splitlines())
    lines = [f"## 问题\n\n{question}\n", f"## 回答\n\n{segments_markdown(answer.get('segments') or [])}\n"]
    if answer.get("unsupported_sentences"):
        lines.append("> ⚠ 以下句子未通过引用核对：")
        lines += [f"> - {md_escape(s)}" for s in answer["unsupported_sentences"]]
        lines.append("")
    if answer.get("citations"):
        lines.append("## 来源\n")
        lines += _sources_markdown(answer["citations"])
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(answers: Sequence[Mapping]) -> str:
    return "\n---\n\n".join(answer_markdown(a) for a in answers)


def comparison_markdown(comparison: Mapping) -> str:
    a, b = comparison["speeches"]["A"], comparison["speeches"]["B"]
    lines = [f"## 比较：{md_escape(comparison.get('topic', ''))}\n",
             f"- A：{md_escape(speech_label(a['title'], a.get('date')))}（{md_escape(a['speech_id'])}）",
             f"- B：{md_escape(speech_label(b['title'], b.get('date')))}（{md_escape(b['speech_id'])}）\n",
             segments_markdown(comparison.get("segments") or []) + "\n"]
    if comparison.get("citations"):
        lines.append("## 来源\n")
        lines += _sources_markdown(comparison["citations"])
    return "\n".join(lines).rstrip() + "\n"
