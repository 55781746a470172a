"""What the command lines (``python app.py ask``, ``python -m ingest --list``) need of a terminal: how many columns a
text takes (a CJK character takes two), to align tables and to redraw what was printed."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (aligned right with ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def rows_taken(text: str, columns: int) -> int:
    """Terminal rows ``text`` took when printed from the start of a row into a terminal ``columns`` wide."""
    columns = max(1, columns)
    return sum(max(1, -(-display_width(line) // columns)) for line in text.split("\n"))
