"""Keywords first, vectors behind: a speech is answerable once stored, its vectors come after (ingest/store.py).

The librarian's story: she adds a report; it answers keyword questions at once, shows ``keyword``, then ``vectors
n/m``, then ``complete``; a vector step stopped half-way resumes where it stopped; a changed file replaces all its
passages, whatever state the old ones were in; questions never see a speech twice, and a speech without vectors is
not pushed out of the results. With the fake embedder; tests/ingest/test_vectors_real.py runs the real ones.
"""

from __future__ import annotations

import shutil
import threading

import pytest
from conftest import SAMPLES, SEED

from ingest.pipeline import Ingestor
from ingest.store import COMPLETE, KEYWORD, VECTORS, split_passage_id
from ingest.writer import LibraryWriter, WriteRequest
from retriever.fusion import convex_fusion, reciprocal_rank_fusion, stand_in
from retriever.search import Filters, Retriever

REPORT = SEED / "002_d5a8c33760b2f744.txt"


def keyword_first(store, settings, *paths):
    return Ingestor(store, settings, progress=False, embed=False).run(list(paths))


def only(store, speech_id):
    return next(s for s in store.list_speeches() if s.id == speech_id)


@pytest.fixture
def report_id(store, settings, tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SAMPLES, folder)
    Ingestor(store, settings, progress=False).run([folder])  # the samples, complete
    shutil.copy(REPORT, folder / "report.txt")
    (added,) = keyword_first(store, settings, folder / "report.txt").added
    return added


def test_a_stored_speech_is_keyword_ready_before_any_vector(store, settings, report_id, fake_embeddings):
    speech = only(store, report_id)
    assert speech.state == KEYWORD and speech.vectors == 0 and speech.passages > 5
    assert store.speeches_to_embed() == [speech]
    assert not store._passages.get(where={"speech_id": report_id}, include=[])["ids"]  # no vector written
    text = store.speech_text(report_id)
    passages = store.speech_passages(report_id)
    assert len(passages) == speech.passages and all(p.text == text[p.start : p.end] for p in passages)
    by_id = store.passages_by_id(speech.passage_ids())
    assert [by_id[pid].text for pid in speech.passage_ids()] == [p.text for p in passages]
    assert [s["state"] for s in map(lambda s: s.as_dict(), store.list_speeches()) if s["id"] == report_id] == [KEYWORD]


def test_vectors_are_embedded_in_batches_and_resume_where_they_stopped(store, settings, report_id, fake_embeddings):
    total = only(store, report_id).passages
    stop_after = [2]

    def stop():
        stop_after[0] -= 1
        return stop_after[0] < 0

    before = fake_embeddings.embedded
    assert not store.embed_vectors(report_id, batch=4, stop=stop)
    halfway = only(store, report_id)
    assert halfway.state == VECTORS and halfway.vectors == 8
    assert fake_embeddings.embedded - before == 8
    # another process (a fresh store on the same library) goes on from the record's count, not from the start
    from ingest.store import open_store

    again = open_store(settings, fake_embeddings)
    assert [s.id for s in again.speeches_to_embed()] == [report_id]
    assert again.embed_vectors(report_id, batch=4)
    assert fake_embeddings.embedded - before == total
    done = only(again, report_id)
    assert done.state == COMPLETE and done.vectors == total and not again.speeches_to_embed()
    stored = again._passages.get(where={"speech_id": report_id}, include=[])["ids"]
    assert sorted(stored) == sorted(done.passage_ids())
    assert "spans" not in again._speeches.get(ids=[report_id], include=["metadatas"])["metadatas"][0]


def test_a_changed_file_replaces_all_passages_of_a_half_embedded_speech(store, settings, report_id, tmp_path):
    assert not store.embed_vectors(report_id, batch=4, stop=iter([False, True]).__next__)
    old = only(store, report_id)
    assert old.vectors == 4
    changed = tmp_path / "speeches" / "report.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n新增一段：加快建设现代化产业体系。", encoding="utf-8")
    assert keyword_first(store, settings, changed).updated == [report_id]
    new = only(store, report_id)
    assert new.version != old.version and new.state == KEYWORD
    assert not store.embed_vectors(report_id, batch=4, stop=lambda: True)
    # the old version's embedded passages are gone: only the new version's exist, none of them embedded yet
    assert not store._passages.get(where={"speech_id": report_id}, include=[])["ids"]
    assert store.embed_vectors(report_id)
    versions = {split_passage_id(i)[1] for i in store._passages.get(where={"speech_id": report_id}, include=[])["ids"]}
    assert versions == {new.version}
    assert "新增一段" in store.speech_passages(report_id)[-1].text


def test_a_vector_batch_of_a_replaced_version_is_not_written(store, settings, report_id, tmp_path):
    """The worker embeds outside the lock: a batch finished after the speech changed must be thrown away."""
    changed = tmp_path / "speeches" / "report.txt"

    def locked():
        if not changed.read_text(encoding="utf-8").endswith("改"):  # the first batch: the file changes meanwhile
            changed.write_text(changed.read_text(encoding="utf-8") + "\n\n又改", encoding="utf-8")
            keyword_first(store, settings, changed)
        return threading.Lock()

    assert not store.embed_vectors(report_id, batch=4, locked=locked)
    assert not store._passages.get(where={"speech_id": report_id}, include=[])["ids"]
    assert only(store, report_id).vectors == 0


def test_questions_find_a_speech_before_its_vectors_and_the_same_after(store, settings, report_id):
    retriever = Retriever(store, settings)
    question = "营商环境 民营经济"
    before = {mode: retriever.retrieve(question, k=5, mode=mode, filters=Filters(speech_ids=[report_id]))
              for mode in ("hybrid", "keyword", "dense")}
    for retrieval in before.values():
        assert retrieval.passages and {p.speech_id for p in retrieval.passages} == {report_id}
        assert all(p.dense_score is None for p in retrieval.passages)  # none came from a (missing) vector
    unfiltered = retriever.retrieve(question, k=5)
    ids = [p.passage_id for p in unfiltered.passages]
    assert len(ids) == len(set(ids))
    keyword_best = retriever.retrieve(question, k=1, mode="keyword").passages[0]
    assert keyword_best.speech_id == report_id  # the question is about the new report
    assert unfiltered.passages[0].speech_id == report_id  # not pushed out by the speeches with vectors

    assert store.embed_vectors(report_id)
    after = retriever.retrieve(question, k=5, filters=Filters(speech_ids=[report_id]))
    assert after.passages and all(p.dense_score is not None for p in after.passages[:1])
    assert {p.speech_id for p in after.passages} == {report_id}
    assert before["keyword"].passages[0].passage_id in {p.passage_id for p in after.passages}


def test_the_keyword_index_needs_no_vector(store, settings, report_id):
    retriever = Retriever(store, settings)
    retriever.keyword.sync(store)
    assert report_id in retriever.keyword.speech_ids()
    version_before = dict(retriever.keyword._snap.speeches)[report_id]
    store.embed_vectors(report_id)
    retriever.keyword.sync(store)  # vectors change no passage: the index keeps the speech as it was
    assert dict(retriever.keyword._snap.speeches)[report_id] == version_before


def test_stand_in_fuses_keyword_results_fairly():
    dense = [("a#v#0", 0.90), ("a#v#1", 0.85), ("b#v#0", 0.80)]
    keyword = [("c#v#3", 12.0), ("a#v#1", 9.0), ("c#v#1", 3.0), ("b#v#2", 1.0)]
    unready = lambda pid: pid.startswith("c#")  # noqa: E731
    merged = stand_in(dense, keyword, unready)
    assert [pid for pid, _ in merged].count("c#v#3") == 1
    assert dict(merged)["c#v#3"] == pytest.approx(0.90)  # the best keyword result scores as the best dense one
    assert dict(merged)["c#v#1"] == pytest.approx(0.80 + (3 - 1) / 11 * 0.10)
    for fused in (convex_fusion([merged, keyword], [1, 1]), reciprocal_rank_fusion([merged, keyword], [1, 1])):
        ids = [pid for pid, _ in fused]
        assert ids[0] == "c#v#3" and len(ids) == len(set(ids))
    # without stand-ins the best keyword passage of the speech without vectors falls behind one with both scores
    assert convex_fusion([dense, keyword], [1, 1])[0][0] == "a#v#1"
    assert stand_in([], keyword, unready) == [("c#v#3", 1.0), ("c#v#1", pytest.approx(2 / 11))]
    assert stand_in(dense, keyword, lambda pid: False) == dense


def test_the_writer_in_the_app_embeds_behind_and_the_cli_waits(store, settings, tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SAMPLES, folder)
    writer = LibraryWriter(store, settings, background=True)
    try:
        seen = []

        class Seen:
            def event(self, kind, **values):
                seen.append((kind, values))

        report = writer.apply(WriteRequest(paths=[str(folder)], wait=False))
        assert len(report.added) == 3 and sorted(report.vectors_left) == sorted(report.added)
        assert "3 speeches are answerable by keywords and wait for vectors" in report.summary()
        assert writer.vectors.wait(report.added, Seen(), timeout=120)
        assert all(s.state == COMPLETE for s in store.list_speeches())
        vectors = [v for kind, v in seen if kind == "vectors"]
        assert vectors[-1]["done"] == vectors[-1]["total"] == sum(s.passages for s in store.list_speeches())
        shutil.copy(REPORT, folder / "report.txt")
        report = writer.apply(WriteRequest(paths=[str(folder)], wait=True))
        assert report.added and not report.vectors_left and only(store, report.added[0]).state == COMPLETE
    finally:
        writer.close()


def test_a_cli_run_embeds_what_an_earlier_run_left(store, settings, tmp_path):
    folder = tmp_path / "speeches"
    shutil.copytree(SAMPLES, folder)
    first = LibraryWriter(store, settings).apply(WriteRequest(paths=[str(folder)], wait=False))
    assert len(first.vectors_left) == 3
    shutil.copy(REPORT, folder / "report.txt")
    second = LibraryWriter(store, settings).apply(WriteRequest(paths=[str(folder / "report.txt")]))
    assert second.added and not second.vectors_left
    assert all(s.state == COMPLETE for s in store.list_speeches())


def test_the_worker_tries_again_after_a_failure(store, settings, tmp_path, fake_embeddings, monkeypatch):
    from ingest.writer import VectorWorker

    monkeypatch.setattr(VectorWorker, "RETRY_S", 0.1)
    calls = []
    real = fake_embeddings.embed_documents

    def flaky(texts):
        calls.append(len(texts))
        if len(calls) == 1:
            raise RuntimeError("the model failed once")
        return real(texts)

    monkeypatch.setattr(fake_embeddings, "embed_documents", flaky)
    folder = tmp_path / "speeches"
    shutil.copytree(SAMPLES, folder)
    writer = LibraryWriter(store, settings, background=True)
    try:
        report = writer.apply(WriteRequest(paths=[str(folder)]), stop=None)
        assert not report.vectors_left and len(calls) > 1
        assert all(s.state == COMPLETE for s in store.list_speeches())
    finally:
        writer.close()


def test_a_vector_batch_is_not_counted_when_the_count_was_reset_meanwhile(store, settings, report_id):
    """--reindex (or another process) reset the record's count while a batch was embedded: the batch must not
    claim passages the new collection does not hold."""
    calls = []

    def locked():
        calls.append(1)
        if len(calls) == 2:  # the second batch: the count goes back to 0, as a re-put of the same version does
            store._speeches.update(ids=[report_id], metadatas=[{"vectors": 0}])
        return threading.Lock()

    assert not store.embed_vectors(report_id, batch=4, locked=locked)
    assert only(store, report_id).vectors == 0
    assert store.embed_vectors(report_id, batch=4)  # the next call goes on from what the record says
    assert only(store, report_id).state == COMPLETE
