"""LLM work is queued, and a waiting user is told where they are (issue 6): with the in-process model
(``SPEECHES_LLM=local``) one question at a time reaches the LLM, in arrival order; the others' streams carry
``Queued`` items (NDJSON ``{"queue": ...}`` lines on the streaming API), and their timeout starts with their turn."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import SAMPLES, GatedChat, ingest

from answer.service import Assistant, LLMQueue
from answer.events import Queued
from answer.types import Answer
from web.api import _stream

QUESTION = "全市森林覆盖率达到了多少？"


def test_queue_is_first_come_first_served_and_reports_positions():
    queue = LLMQueue(1)
    first = queue.turn()
    assert list(first) == []  # a free slot: no waiting, nothing to report
    second, third = queue.turn(), queue.turn()
    assert next(second) == Queued(1, 1)
    assert next(third) == Queued(2, 2)
    third.close()  # the user left while waiting: out of the queue
    assert queue.waiting() == 1
    queue.release()
    assert list(second) == []  # its turn now
    queue.release()
    assert queue.waiting() == 0 and queue._busy == 0


@pytest.mark.parametrize("llm_setting, queued", [("local", True), ("openai", False)])
def test_concurrent_questions_wait_their_turn_and_are_told_their_position(settings, store, llm_setting, queued):
    ingest(store, settings, SAMPLES)
    gate = threading.Event()
    chat = GatedChat(gate=gate, reply="森林覆盖率达到46%[1]。", running=[], most=[0])
    assistant = Assistant(settings.model_copy(update={"llm": llm_setting}), store=store, llm=chat)
    streams: dict[int, list] = {}

    def ask(n: int) -> None:
        streams[n] = [line for line in _stream(lambda: assistant.ask_stream(QUESTION), lambda a: "") if line]

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.3)  # arrival order 0, 1, 2
    deadline = time.monotonic() + 20
    while (assistant.llm_queue.waiting() < 2 if queued else len(chat.running) < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join(30)
    assert all("answer" in lines[-1] and lines[-1]["answer"]["found"] for lines in streams.values()), streams
    positions = {n: [line["queue"]["position"] for line in lines if "queue" in line] for n, lines in streams.items()}
    if queued:
        assert chat.most[0] == 1  # one at a time reached the LLM
        # [2, 1]: if the third looked again while the second ran
        assert positions[0] == [] and positions[1] == [1] and positions[2] in ([2], [2, 1]), positions
    else:  # an OpenAI-compatible server queues or batches by itself
        assert chat.most[0] == 3 and positions == {0: [], 1: [], 2: []}
    assert all(isinstance(a, Answer) for a in [assistant.ask(QUESTION)])
