"""An answer's layout, computed once: the ``segments`` of ``Answer``/``Comparison`` JSON.

Segments are blocks (``paragraph`` or list ``item``) of runs: a piece of text, or a reference to a citation by its
label. Sentences that failed the citation check are not in them (they are listed apart, in
``unsupported_sentences``). The web page (web/render.py), the embed page (web/static/embed.js) and the Markdown export
map segments to HTML, DOM nodes and Markdown; none of them parses an answer's text.

Who wrote a text decides how it becomes segments. Text the code writes (quotes from speeches, their titles, the
assistant's fixed sentences) is built run by run (``Draft.line``), so a "[1]", "【2】" or "[A1]" inside a speech stays
text and can never become a citation. Only text a model wrote is parsed for markers (``Draft.model``, ``parse``), and
only labels of passages it was given become references. ``Draft.text`` is the same answer as one string with
``[n]`` markers: the ``answer`` field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from answer.citations import LABEL, MARKER

BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.、)）])\s+")  # a list item's lead: "- ", "* ", "1. ", "2、"
PARAGRAPH, ITEM = "paragraph", "item"


@dataclass(frozen=True)
class Run:
    """A piece of text, or (``cite`` set) a reference to the citation labelled ``cite``."""

    text: str = ""
    cite: str | None = None

    def as_json(self) -> dict:
        return {"cite": self.cite} if self.cite is not None else {"text": self.text}

    def as_marked_text(self) -> str:
        return f"[{self.cite}]" if self.cite is not None else self.text


@dataclass(frozen=True)
class Block:
    kind: str  # PARAGRAPH or ITEM (consecutive items form one list)
    runs: tuple[Run, ...]

    def as_json(self) -> dict:
        return {"kind": self.kind, "runs": [run.as_json() for run in self.runs]}


def as_text(blocks: Iterable[Block]) -> str:
    """Blocks as text with ``[n]`` markers, a line each, list items after "- " (for a terminal)."""
    return "\n".join(("- " if b.kind == ITEM else "") + "".join(r.as_marked_text() for r in b.runs) for b in blocks)


def cited_labels(blocks: Iterable[Block]) -> list[str]:
    """The labels the blocks refer to, in order of first reference."""
    return list(dict.fromkeys(run.cite for block in blocks for run in block.runs if run.cite is not None))


def parse(text: str, labels: Collection[str] | None) -> list[Block]:
    """Blocks of a text a model wrote: one per non-blank line, ``- ``/``1. `` lines as items; markers naming one of
    ``labels`` as references (``labels`` None: markers stay text, as while an answer streams)."""
    blocks = []
    offset = 0
    for line in text.split("\n"):
        lo, hi = offset, offset + len(line)
        offset = hi + 1
        if not line.strip():
            continue
        bullet = BULLET.match(line)
        if bullet:
            lo += bullet.end()
        blocks.append(Block(ITEM if bullet else PARAGRAPH, tuple(_runs(text, lo, hi, labels))))
    return blocks


def _runs(text: str, lo: int, hi: int, labels: Collection[str] | None) -> list[Run]:
    markers = {m.start(): m for m in MARKER.finditer(text, lo, hi)} if labels is not None else {}
    cuts = {lo, hi}
    for m in markers.values():
        cuts.update((m.start(), m.end()))
    points = sorted(cuts)
    runs: list[Run] = []
    for p, q in zip(points, points[1:]):
        marker = markers.get(p)
        if marker is not None and marker.end() == q:
            runs += [Run(cite=label) if label in labels else Run(f"[{label}]")
                     for label in LABEL.findall(marker.group(1))]
        else:
            runs.append(Run(text[p:q]))
    return _merged(runs)


def _merged(runs: list[Run]) -> list[Run]:
    """Adjacent text runs as one."""
    out: list[Run] = []
    for run in runs:
        if out and run.cite is None and out[-1].cite is None:
            out[-1] = Run(out[-1].text + run.text)
        elif run.cite is not None or run.text:
            out.append(run)
    return out


class Draft:
    """An answer being put together from lines the code writes and text a model wrote, in order."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, list[Block] | None]] = []  # (text, blocks; None: a model's, parsed later)

    def line(self, *runs: Run | str, item: bool = False) -> Draft:
        """One line the code writes: strings are text runs, taken as they are."""
        built = tuple(Run(r) if isinstance(r, str) else r for r in runs)
        text = ("- " if item else "") + "".join(r.as_marked_text() for r in built)
        self._parts.append((text, [Block(ITEM if item else PARAGRAPH, built)]))
        return self

    def gap(self) -> Draft:
        """A blank line (between the parts of a comparison)."""
        self._parts.append(("", []))
        return self

    def model(self, text: str) -> Draft:
        self._parts.append((text, None))
        return self

    def extend(self, other: Draft) -> Draft:
        self._parts.extend(other._parts)
        return self

    def parts(self) -> list[tuple[str, list[Block] | None]]:
        return list(self._parts)

    @property
    def text(self) -> str:
        return "\n".join(text for text, _ in self._parts)

    @property
    def blocks(self) -> list[Block]:
        """The segments, with every model part parsed as is (markers of no label stay text)."""
        return [b for text, blocks in self._parts for b in (blocks if blocks is not None else parse(text, ()))]
