"""Typed stream events and the one fold that consumes them (answer/events.py)."""

from __future__ import annotations

from answer.events import Delta, Done, Queued, collect, follow
from answer.types import Answer, Comparison, SpeechSide


def test_a_stream_folds_into_a_reply_and_each_event_is_its_own_ndjson_line():
    answer = Answer("q", "q", "甲乙。", True)
    events = [Queued(2, 3), Queued(1, 2), Delta("甲"), Delta("乙。"), Done(answer)]
    seen = [(reply.showing(), reply.result) for reply in follow(events)]
    assert seen == [
        ("（排队中：您是第 2 位，共 3 人在等待本机模型……）", None),
        ("（排队中：您是第 1 位，共 2 人在等待本机模型……）", None),
        ("甲", None),  # the first delta ends the wait
        ("甲乙。", None),
        ("甲乙。", answer),
    ]
    assert [e.as_json() for e in events[1:3]] == [
        {"queue": {"position": 1, "waiting": 2, "text": "（排队中：您是第 1 位，共 2 人在等待本机模型……）"}},
        {"delta": "甲"},
    ]
    assert Done(answer).as_json() == {"answer": answer.as_json()}
    reply = collect(events)
    assert (reply.text, reply.result, reply.queued, reply.event) == ("甲乙。", answer, None, events[-1])


def test_a_comparison_is_sent_under_its_own_key():
    side = SpeechSide("A", "a", "甲", None, False)
    comparison = Comparison("t", side, side, "x", False)
    assert list(Done(comparison).as_json()) == ["comparison"]
    assert collect([]).result is None
