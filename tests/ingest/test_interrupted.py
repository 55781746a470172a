"""A run killed at any moment leaves each speech wholly old or wholly new, and the next run repairs the rest.

On the on-disk store only (own ``Settings``, not the ``[disk]``/``[server]`` fixtures): the crash-at-every-write test
needs a fresh library per crash point, one data dir each, and kills the run above Chroma, so a server would check
nothing more; the SIGKILL test kills ``python -m ingest`` while it writes its data dir's Chroma files.
"""

from __future__ import annotations

import json
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


# ``python -m ingest`` with one hook: after the passages of the second speech are written, and before its record
# is switched to them (store.py's step 2 of 5), it says so on stdout and waits; the test kills it there.
MID_WRITE_INGEST = """
import sys
import ingest.store as store
from ingest.__main__ import main

put_speech, written = store.SpeechStore.put_speech, []

def paused_put_speech(self, speech, passages, **options):
    progress = options.get("progress", lambda n: None)
    written.append(speech.id)

    def after_a_batch(n):
        progress(n)
        if len(written) == 2:
            print("MID-WRITE", speech.id, flush=True)
            sys.stdin.readline()  # until killed

    return put_speech(self, speech, passages, **{**options, "progress": after_a_batch})

store.SpeechStore.put_speech = paused_put_speech
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigkill_during_a_real_ingest_then_rerun(tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SEED, folder)
    shutil.copytree(SAMPLES, folder / "samples")
    env = {**os.environ, "SPEECHES_DATA_DIR": str(tmp_path / "data"), "SPEECHES_EMBEDDING": f"st:{minilm_folder()}"}
    command = [sys.executable, "-m", "ingest", "--quiet", str(folder)]
    proc = subprocess.Popen([sys.executable, "-c", MID_WRITE_INGEST, "--quiet", str(folder)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # blocks until the hook speaks, or the process ends
        assert line.startswith("MID-WRITE "), f"no mid-write signal: {line!r} {proc.stderr.read()[-2000:]}"
        assert proc.poll() is None, "the ingest ended before it could be killed mid-write"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    interrupted = line.split()[1]

    settings = Settings(data_dir=tmp_path / "data", embedding=f"st:{minilm_folder()}", _env_file=None)
    store = open_store(settings)
    pending = store._speeches.get(where={"pending": {"$ne": ""}}, include=[])["ids"]  # marked, step 1
    assert pending == [interrupted], "the killed run left no speech half-written"
    seen = snapshot(store)  # readers see the first speech whole, and not the interrupted one
    assert len(seen) == 1 and interrupted not in seen
    del store

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "repaired 1" in done.stdout, done.stdout
    listed = subprocess.run([sys.executable, "-m", "ingest", "--list", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    speeches = json.loads(listed.stdout)
    assert len(speeches) == 5 and all(s["passages"] > 0 for s in speeches)
    store = open_store(settings)
    snapshot(store)
    assert len(store._passages.get(include=[])["ids"]) == sum(s["passages"] for s in speeches)
