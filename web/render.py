"""HTML and Markdown for answers, citations, speeches and the topic chart.

Speech text, titles and answers are data, never markup: every piece of them goes through ``html.escape`` here, and
the only tags in the output are our own. Answers are shown as plain paragraphs and bullet lines (no Markdown
emphasis: speeches mask names with ``*``, and a quote must read exactly as spoken).

Citation chips are links whose fragment names what they open, so they survive the Chatbot's HTML sanitiser (it keeps
``href`` but drops ``data-`` attributes):
- ``#cite:SPEECH_ID:START:END:LABEL`` (ids and labels URL-quoted): the chat opens the passage inside its speech;
- ``#cmp-LABEL``: the comparison scrolls to the passage highlighted in its speech column.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote

# The answer chain's own citation markers ([1], [A2], [1, 3], full-width forms), so chips match what it resolved.
from answer.citations import LABEL, MARKER

_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.、)）])\s+")
CITE_PREFIX = "#cite:"
JUMP_PREFIX = "#cmp-"
SNIPPET_CHARS = 90


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def speech_label(title: str, date: str | None) -> str:
    return f"《{title}》" + (f"（{date}）" if date else "")


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


def chip(label: str, citation: Mapping | None, link: str) -> str:
    """A clickable chip for ``label``; a label with no citation stays plain text."""
    if citation is None:
        return esc(f"[{label}]")
    href = cite_href(citation) if link == "cite" else f"{JUMP_PREFIX}{quote(label, safe='')}"
    title = speech_label(citation.get("title") or citation["speech_id"], citation.get("date"))
    return f'<a class="cite-chip" href="{esc(href)}" title="{esc(title)}">{esc(label)}</a>'


# -- answers ---------------------------------------------------------------------------------------------------


def _flagged_ranges(text: str, sentences: Iterable[str]) -> list[tuple[int, int]]:
    ranges = []
    for sentence in sentences:
        sentence = sentence.strip()
        at = text.find(sentence) if sentence else -1
        if at >= 0:
            ranges.append((at, at + len(sentence)))
    return ranges


def _inline(text: str, lo: int, hi: int, flagged: Sequence[tuple[int, int]], cited: Mapping[str, Mapping],
            link: str) -> str:
    """``text[lo:hi]`` as HTML: escaped, markers as chips, flagged sentences marked."""
    markers = {m.start(): m for m in MARKER.finditer(text, lo, hi)} if cited is not None else {}
    cuts = {lo, hi}
    for start, end in flagged:
        cuts.update(p for p in (start, end) if lo < p < hi)
    for m in markers.values():
        cuts.update((m.start(), m.end()))
    points = sorted(cuts)
    out: list[str] = []
    run: list[str] = []  # the pieces of the flagged sentence being built
    for p, q in zip(points, points[1:]):
        if p in markers and markers[p].end() == q:
            piece = "".join(chip(label, cited.get(label), link) for label in LABEL.findall(markers[p].group(1)))
        else:
            piece = esc(text[p:q])
        if not any(start <= p and q <= end for start, end in flagged):
            out.append(piece)
            continue
        run.append(piece)
        if any(end == q for _, end in flagged) or q == hi:
            out.append('<span class="flagged" title="引用核对未通过：所引材料不支持这句话">' + "".join(run) + "</span>")
            if any(end == q for _, end in flagged):
                out.append('<span class="flag-icon" aria-hidden="true">⚠</span>')
            run = []
    return "".join(out)


def answer_html(text: str, citations: Sequence[Mapping] | None = None, unsupported: Iterable[str] = (), *,
                link: str = "cite", streaming: bool = False, css_class: str = "answer") -> str:
    """An answer as one line of HTML: paragraphs and bullet lists; ``[n]`` markers become chips when ``citations``
    are given (None while streaming: markers stay text); sentences in ``unsupported`` are marked."""
    text = text or ""
    cited = None if citations is None else {str(c["label"]): c for c in citations}
    flagged = _flagged_ranges(text, unsupported)
    blocks: list[str] = []
    items: list[str] = []
    offset = 0
    for line in text.split("\n"):
        lo, hi = offset, offset + len(line)
        offset = hi + 1
        bullet = _BULLET.match(line)
        if not line.strip():
            if items:
                blocks.append("<ul>" + "".join(items) + "</ul>")
                items = []
            continue
        if bullet:
            items.append(f"<li>{_inline(text, lo + bullet.end(), hi, flagged, cited, link)}</li>")
            continue
        if items:
            blocks.append("<ul>" + "".join(items) + "</ul>")
            items = []
        blocks.append(f"<p>{_inline(text, lo, hi, flagged, cited, link)}</p>")
    if items:
        blocks.append("<ul>" + "".join(items) + "</ul>")
    classes = css_class + (" streaming" if streaming else "")
    if streaming:
        blocks.append('<span class="cursor" aria-hidden="true">▍</span>')
    return f'<div class="{classes}">{"".join(blocks)}</div>'


def flagged_note(unsupported: Sequence[str]) -> str:
    if not unsupported:
        return ""
    return ('<p class="flagged-note"><span class="flag-icon">⚠</span> '
            f"{len(unsupported)} 句话未通过引用核对（已标出）：所引的讲话原文不支持它们，请核对原文。</p>")


def sources_html(citations: Sequence[Mapping], *, link: str = "cite") -> str:
    """The cited passages under an answer: chip, speech, opening words."""
    rows = []
    for c in citations:
        snippet = " ".join(str(c.get("text", "")).split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[:SNIPPET_CHARS] + "…"
        where = speech_label(c.get("title") or c["speech_id"], c.get("date"))
        also = c.get("also_in") or []
        copies = (f' <span class="source-also">同样的文字也见于 {len(also)} 篇：{esc("、".join(map(str, also)))}</span>'
                  if also else "")
        rows.append(f'<li>{chip(str(c["label"]), c, link)} <span class="source-title">{esc(where)}</span> '
                    f'<span class="source-snippet">{esc(snippet)}</span>{copies}</li>')
    return f'<ol class="sources">{"".join(rows)}</ol>'


def error_html(message: str) -> str:
    return f'<div class="app-error" role="alert"><span class="flag-icon">⚠</span> {esc(message)}</div>'


# -- speeches --------------------------------------------------------------------------------------------------


def speech_html(text: str, spans: Sequence[tuple[int, int, str]] = (), *, id_prefix: str = "", header: str = "",
                css_class: str = "speech-text") -> str:
    """A whole speech, escaped, with ``spans`` (start, end, label) highlighted. Overlapping spans (passages share
    sentences) are cut into pieces that carry every label covering them. The first piece of each label gets the
    element id ``id_prefix + label`` (what a ``#cmp-`` chip scrolls to) and a small label badge."""
    n = len(text)
    spans = [(max(0, min(n, s)), max(0, min(n, e)), str(label)) for s, e, label in spans]
    spans = [(s, e, label) for s, e, label in spans if e > s]
    cuts = sorted({0, n, *(p for s, e, _ in spans for p in (s, e))})
    seen: set[str] = set()
    out = []
    for p, q in zip(cuts, cuts[1:]):
        labels = [label for s, e, label in spans if s <= p and q <= e]
        piece = esc(text[p:q])
        if not labels:
            out.append(piece)
            continue
        new = [label for label in labels if label not in seen]
        seen.update(new)
        badges = "".join(f'<sup class="mark-label">{esc(label)}</sup>' for label in new)
        anchor = f' id="{esc(id_prefix + new[0])}"' if new and id_prefix else ""
        out.append(f'{badges}<mark class="cited"{anchor} data-labels="{esc(" ".join(labels))}">{piece}</mark>')
    head = f'<div class="speech-head">{header}</div>' if header else ""
    return f'{head}<div class="{css_class}">{"".join(out)}</div>'


def cited_passage_html(title: str, date: str | None, text: str, start: int, end: int, label: str) -> str:
    """The passage a chat chip opens: its whole speech, the cited span highlighted (and scrolled to by ui.js)."""
    header = (f'<span class="viewer-label">[{esc(label)}]</span> <strong>{esc(speech_label(title, date))}</strong>'
              f' <span class="viewer-range">第 {start + 1}–{end} 字</span>')
    return speech_html(text, [(start, end, label)], id_prefix="viewer-", header=header)


# -- the topic chart -------------------------------------------------------------------------------------------


def topic_chart_html(topic: str, rows: Sequence[Mapping], chosen: Iterable[str] = ()) -> str:
    """How strongly each speech addresses ``topic`` (scores 0..1), as bars: by year (the strongest speech of each
    year), then by speech in date order. The two compared speeches are highlighted."""
    chosen = set(chosen)
    if not rows:
        return '<p class="chart-empty">资料库是空的。</p>'
    ordered = sorted(rows, key=lambda r: (r.get("year") or 0, r.get("date") or "", r.get("title") or ""))
    by_year: dict[str, float] = {}
    for r in ordered:
        year = str(r.get("year") or "未知年份")
        by_year[year] = max(by_year.get(year, 0.0), float(r.get("score") or 0.0))

    def bar(label: str, score: float, extra: str = "", mark: bool = False) -> str:
        pct = max(0.0, min(1.0, score)) * 100
        return (f'<div class="bar-row{" chosen" if mark else ""}"><span class="bar-label" title="{esc(label)}">'
                f'{esc(label)}</span><span class="bar-track"><span class="bar-fill" style="width:{pct:.1f}%">'
                f'</span></span><span class="bar-value">{score:.2f}</span>{extra}</div>')

    years = "".join(bar(year, score) for year, score in by_year.items())
    speeches = "".join(
        bar(f"{r.get('year') or '—'} · {r.get('title') or r['speech_id']}", float(r.get("score") or 0.0),
            mark=r["speech_id"] in chosen)
        for r in ordered
    )
    note = "" if any(float(r.get("score") or 0) > 0 for r in rows) else \
        '<p class="chart-empty">资料库中没有讲话明显涉及这个主题。</p>'
    return (f'<div class="topic-chart" role="figure" aria-label="{esc(f"各讲话对“{topic}”的论述强度")}">'
            f'<h4>各讲话对“{esc(topic)}”的论述强度（0–1，按与主题相关的关键词覆盖）</h4>{note}'
            f'<div class="chart-part"><h5>按年份（当年最强的一篇）</h5>{years}</div>'
            f'<div class="chart-part"><h5>按讲话（高亮为正在比较的两篇）</h5>{speeches}</div></div>')


# -- Markdown for copy and export ------------------------------------------------------------------------------


def _sources_markdown(citations: Sequence[Mapping]) -> list[str]:
    lines = []
    for c in citations:
        where = speech_label(c.get("title") or c["speech_id"], c.get("date"))
        quoted = "\n".join(f"> {line}" for line in str(c.get("text", "")).splitlines() if line.strip())
        also = f"（同样的文字也见于：{'、'.join(map(str, c['also_in']))}）" if c.get("also_in") else ""
        lines += [f"[{c['label']}] {where}，{c['speech_id']}，第 {int(c['start']) + 1}–{c['end']} 字{also}", quoted, ""]
    return lines


def answer_markdown(answer: Mapping) -> str:
    """An answer with its sources, as Markdown (the chat's copy and export)."""
    lines = [f"## 问题\n\n{answer.get('question', '')}\n", f"## 回答\n\n{answer.get('answer', '')}\n"]
    if answer.get("unsupported_sentences"):
        lines.append("> ⚠ 以下句子未通过引用核对：")
        lines += [f"> - {s}" for s in answer["unsupported_sentences"]]
        lines.append("")
    if answer.get("citations"):
        lines.append("## 来源\n")
        lines += _sources_markdown(answer["citations"])
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(answers: Sequence[Mapping]) -> str:
    return "\n---\n\n".join(answer_markdown(a) for a in answers)


def comparison_markdown(comparison: Mapping) -> str:
    a, b = comparison["speeches"]["A"], comparison["speeches"]["B"]
    lines = [f"## 比较：{comparison.get('topic', '')}\n",
             f"- A：{speech_label(a['title'], a.get('date'))}（{a['speech_id']}）",
             f"- B：{speech_label(b['title'], b.get('date'))}（{b['speech_id']}）\n",
             comparison.get("answer", "") + "\n"]
    if comparison.get("citations"):
        lines.append("## 来源\n")
        lines += _sources_markdown(comparison["citations"])
    return "\n".join(lines).rstrip() + "\n"
