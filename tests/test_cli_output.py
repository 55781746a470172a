"""What the command lines print (issue 12, item 9): ``ingest --list`` aligns its columns by display width, and
``app.py ask`` keeps the finished answer's [n] markers, in a terminal (redrawn) and into a pipe."""

from __future__ import annotations

import io

from answer.events import Delta, Done
from answer.types import Answer
from app import run_stream


def test_list_aligns_its_columns_whatever_the_script_of_the_ids(capsys):
    """Columns by display width: a CJK character takes two (issue 12, item 9)."""
    from ingest.__main__ import print_speeches
    from ingest.store import StoredSpeech
    from terminal import display_width

    def speech(sid: str, date: str | None) -> StoredSpeech:
        return StoredSpeech(sid, "标题", date, None, None, None, "", 12, 3456, "v", "", "", {}, "300/80")

    print_speeches([speech("在全市经济工作会议上的讲话", "2025-02-10"), speech("a", None), speech("二〇二四", "2024")],
                   as_json=False)
    lines = capsys.readouterr().out.splitlines()[:4]
    ends = {display_width(line[: line.index(mark)]) for line, mark in zip(lines, ("date", "2025", "-", "2024"))}
    assert len(ends) == 1, lines  # every date column starts at the same place
    assert len({display_width(line) for line in lines[1:]}) == 1


def test_list_shows_each_speechs_state_and_the_work_left(capsys):
    """Keywords first: keyword, vectors n/m, complete, and how many passages are still to embed."""
    from ingest.__main__ import print_speeches
    from ingest.store import StoredSpeech

    def speech(sid: str, vectors: int) -> StoredSpeech:
        return StoredSpeech(sid, "标题", None, None, None, None, "", 12, 3456, "v", "", "", {}, "300/80",
                            vectors=vectors)

    print_speeches([speech("new", 0), speech("half", 5), speech("old", -1)], as_json=False)
    lines = capsys.readouterr().out.splitlines()
    state = {line.split()[0]: line.split()[4:-1] for line in lines[1:4]}
    assert state == {"new": ["keyword"], "half": ["vectors", "5/12"], "old": ["complete"]}, lines
    assert lines[-1] == "3 speeches; 2 waiting for vectors (19 passages to embed)"
    print_speeches([speech("new", 0)], as_json=True)
    import json

    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["state"] == "keyword" and listed["vectors"] == 0 and listed["passages"] == 12


def _stream(pieces: list[str], final: str):
    for piece in pieces:
        yield Delta(piece)
    yield Done(Answer("问题", "问题", final, True))


def test_into_a_pipe_the_finished_answer_is_printed_with_its_markers(capsys):
    run_stream(_stream(["今年的目标是", "5%左右。"], "今年的目标是5%左右。[1]"), as_json=False)
    assert capsys.readouterr().out.startswith("今年的目标是5%左右。[1]\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_the_streamed_text_is_redrawn_as_the_checked_answer():
    out = Terminal()
    run_stream(_stream(["今年的目标是", "5%左右。\n", "要抓好落实。"], "今年的目标是5%左右。[1]\n要抓好落实。[2]"),
               as_json=False, out=out)
    written = out.getvalue()
    assert written.startswith("今年的目标是5%左右。\n要抓好落实。")  # as it came
    assert written.endswith("\r\x1b[1A\x1b[J今年的目标是5%左右。[1]\n要抓好落实。[2]\n")  # then, over it, the answer
    unchanged = Terminal()
    run_stream(_stream(["好。[1]"], "好。[1]"), as_json=False, out=unchanged)
    assert unchanged.getvalue() == "好。[1]\n"
