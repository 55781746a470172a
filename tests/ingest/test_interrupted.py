"""A run killed at any moment leaves each speech wholly old or wholly new, and the next run repairs the rest.

On the on-disk store only (own ``Settings``, not the ``[disk]``/``[server]`` fixtures): the crash-at-every-write test
needs a fresh library per crash point, one data dir each, and kills the run above Chroma, so a server would check
nothing more; the SIGKILL test kills ``python -m ingest`` in its vector step (ingest/store.py: keywords first),
between two batches of one speech's vectors.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, SEED, FakeEmbeddings, minilm_folder

from ingest.pipeline import Ingestor
from ingest.store import open_store, split_passage_id
from settings import Settings


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, no except clause catches it."""


class CrashingCollection:
    """Passes calls through to a Chroma collection, and dies at the n-th write across all wrapped collections."""

    def __init__(self, inner, budget):
        self._inner, self._budget = inner, budget

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in ("add", "upsert", "update", "delete"):
            return attr

        def write(*args, **kwargs):
            self._budget[0] -= 1
            if self._budget[0] < 0:
                raise Crash(name)
            return attr(*args, **kwargs)

        return write


def snapshot(store):
    """Speech id -> passage texts as a reader sees them; also checks that readers see no half-written speech."""
    seen = {}
    for speech in store.list_speeches():
        text = store.speech_text(speech.id)
        passages = store.speech_passages(speech.id)
        assert len(passages) == speech.passages, f"{speech.id}: half-written"
        assert all(p.text == text[p.start : p.end] for p in passages)
        seen[speech.id] = [p.text for p in passages]
    return seen


def prepare(folder: Path, settings: Settings):
    shutil.copytree(SAMPLES, folder)
    store = open_store(settings, FakeEmbeddings())
    Ingestor(store, settings, progress=False).run([folder])
    old = snapshot(store)
    changed = folder / "2025-city-work-meeting.txt"
    changed.write_text(changed.read_text(encoding="utf-8").replace("5%左右", "5.5%左右"), encoding="utf-8")
    (folder / "2024-county-congress-closing.txt").unlink()
    shutil.copy(SEED / "002_d5a8c33760b2f744.txt", folder / "new.txt")
    return store, old


def test_a_crash_at_every_write_leaves_each_speech_wholly_old_or_new(tmp_path):
    # The outcome of an uninterrupted run, to compare with.
    settings = Settings(data_dir=tmp_path / "clean" / "data", embedding="fake", _env_file=None)
    store, old = prepare(tmp_path / "clean" / "speeches", settings)
    Ingestor(store, settings, progress=False).run([tmp_path / "clean" / "speeches"], prune=True)
    new = snapshot(store)
    assert old.keys() != new.keys() and old["2025-city-work-meeting"] != new["2025-city-work-meeting"]

    writes = 0
    while True:
        run = tmp_path / f"crash-{writes}"
        settings = Settings(data_dir=run / "data", embedding="fake", _env_file=None)
        store, _ = prepare(run / "speeches", settings)
        budget = [writes]
        store._speeches = CrashingCollection(store._speeches, budget)
        store._passages = CrashingCollection(store._passages, budget)
        try:
            Ingestor(store, settings, progress=False).run([run / "speeches"], prune=True)
            finished = True
        except Crash:
            finished = False

        reopened = open_store(settings, FakeEmbeddings())
        after_crash = snapshot(reopened)
        for speech_id, texts in after_crash.items():
            assert texts in (old.get(speech_id), new.get(speech_id)), f"crash at write {writes}: {speech_id} mixed"
        Ingestor(reopened, settings, progress=False).run([run / "speeches"], prune=True)
        assert snapshot(reopened) == new, f"crash at write {writes}: the next run did not repair"
        current = {(s.id, s.version) for s in reopened.list_speeches()}
        leftovers = [i for i in reopened._passages.get(include=[])["ids"] if split_passage_id(i)[:2] not in current]
        assert not leftovers, f"crash at write {writes}: orphan passages {leftovers[:3]}"
        if finished:
            break
        writes += 1
    assert writes > 10  # every step of add, update and prune was interrupted once


# ``python -m ingest`` with two hooks on the vector step (ingest/store.py): each speech's step says on stdout where
# it begins (``START id vectors``); with PAUSE set, after the first batch of 4 passages of the second speech is
# written it says so (``MID-VECTORS id``) and waits; the test kills it there.
VECTOR_STEP_INGEST = """
import os, sys
import ingest.store as store
from ingest.__main__ import main

embed_vectors, begun = store.SpeechStore.embed_vectors, []

def paused_embed_vectors(self, speech_id, **options):
    print("START", speech_id, self.get_speech(speech_id).vectors, flush=True)
    begun.append(speech_id)
    progress = options.get("progress", lambda n: None)

    def after_a_batch(n):
        progress(n)
        if os.environ.get("PAUSE") and len(begun) == 2:
            print("MID-VECTORS", speech_id, flush=True)
            sys.stdin.readline()  # until killed

    return embed_vectors(self, speech_id, **{**options, "batch": 4, "progress": after_a_batch})

store.SpeechStore.embed_vectors = paused_embed_vectors
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigkill_in_the_vector_step_keeps_the_speech_answerable_and_the_next_run_resumes(tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SEED, folder)
    shutil.copytree(SAMPLES, folder / "samples")
    env = {**os.environ, "SPEECHES_DATA_DIR": str(tmp_path / "data"), "SPEECHES_EMBEDDING": f"st:{minilm_folder()}"}
    command = [sys.executable, "-c", VECTOR_STEP_INGEST, "--quiet", str(folder)]
    proc = subprocess.Popen(command, cwd=ROOT, env={**env, "PAUSE": "1"}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not (lines and lines[-1].startswith("MID-VECTORS ")):
            line = proc.stdout.readline()  # blocks until the hook speaks, or the process ends
            assert line, f"no mid-vectors signal: {lines} {proc.stderr.read()[-2000:]}"
            lines.append(line)
        assert proc.poll() is None, "the ingest ended before it could be killed in the vector step"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    interrupted = lines[-1].split()[1]

    settings = Settings(data_dir=tmp_path / "data", embedding=f"st:{minilm_folder()}", _env_file=None)
    store = open_store(settings)
    assert not store._speeches.get(where={"pending": {"$ne": ""}}, include=[])["ids"]  # no write was cut
    listed = {s.id: s for s in store.list_speeches()}
    assert len(listed) == 5  # every speech was stored keyword-ready before the vector step began
    assert listed[interrupted].state == "vectors" and listed[interrupted].vectors == 4
    seen = snapshot(store)  # readers see every speech whole, the interrupted one too
    assert len(seen) == 5
    from retriever.search import Filters, Retriever

    found = Retriever(store, settings).retrieve(seen[interrupted][5][:30], k=3,
                                                filters=Filters(speech_ids=[interrupted]))
    assert found.passages and found.passages[0].speech_id == interrupted  # answerable by keywords meanwhile
    del store

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    starts = dict(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("START "))
    assert starts[interrupted] == "4"  # resumed after the batch written before the kill
    store = open_store(settings)
    speeches = store.list_speeches()
    assert len(speeches) == 5 and all(s.state == "complete" for s in speeches)
    assert snapshot(store) == seen
    assert sorted(store._passages.get(include=[])["ids"]) == sorted(p for s in speeches for p in s.passage_ids())
