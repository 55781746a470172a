"""Retrieval as the answering layer uses it: ask, filter, and trust nothing stale."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import SEED, FakeEmbeddings, ingest

from ingest.store import UnknownSpeechError, open_store, split_passage_id
from retriever.search import Filters, Retriever


@pytest.fixture
def retriever(store, settings, library):
    ingest(store, settings, library)
    return Retriever(store, settings)


def test_passages_carry_what_a_citation_needs(retriever, store):
    result = retriever.retrieve("“一核两翼三区”的发展布局是什么？", k=3)
    top = result.passages[0]
    assert top.speech_id == "2025-city-work-meeting" and "一核两翼三区" in top.text
    assert store.speech_text(top.speech_id)[top.start : top.end] == top.text
    assert top.title == "在全市经济工作会议上的讲话（示例）" and top.date == "2025-02-10"
    assert top.keyword_score and top.score > 0
    assert len(result.passages) == 3


def test_no_two_results_share_words(retriever):
    passages = retriever.retrieve("经济增长目标", k=10).passages
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            assert a.speech_id != b.speech_id or a.end <= b.start or b.end <= a.start



def test_a_text_two_speeches_hold_is_shown_once_naming_both(store, settings, tmp_path):
    shared = "全面推进乡村振兴，加快建设农业强国，确保粮食产量稳定在一万三千亿斤以上。"
    folder = tmp_path / "relay"
    folder.mkdir()
    body = f"一、目标任务\n{shared}\n\n二、工作要求\n"  # a level-1 heading starts a passage: the same one in both
    (folder / "notice.txt").write_text(f"关于春耕生产的通知\n\n各区县：现通知如下。\n\n{body}各地要抓好落实。",
                                       encoding="utf-8")
    (folder / "report.txt").write_text(f"转发春耕通知的报告\n\n上级通知全文如下。\n\n{body}请遵照执行。",
                                       encoding="utf-8")
    ingest(store, settings, folder)
    passages = Retriever(store, settings).retrieve("粮食产量稳定在多少以上？", k=5).passages
    copies = [p for p in passages if shared in p.text]
    assert len(copies) == 1, [p.text for p in passages]
    assert {copies[0].speech_id, *copies[0].also_in} == {"notice", "report"}
    assert copies[0].as_dict()["also_in"] == list(copies[0].also_in)


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_filters_exclude_what_they_should(retriever, mode):
    only = retriever.retrieve("今年要做好哪些工作", k=10, mode=mode, filters=Filters(speech_ids=["2023-ecology-forum"]))
    assert only.passages and {p.speech_id for p in only.passages} == {"2023-ecology-forum"}
    years = retriever.retrieve("今年要做好哪些工作", k=10, mode=mode, filters=Filters(years=(2024, 2025)))
    assert {p.speech_id for p in years.passages} <= {"2024-county-congress-closing", "2025-city-work-meeting"}
    assert years.passages
    speaker = Filters(where={"speaker": "示例县人大常委会主任"})
    assert {p.speech_id for p in retriever.retrieve("目标", k=10, mode=mode, filters=speaker).passages} == {
        "2024-county-congress-closing"
    }


def test_bad_filters_are_clear_errors(retriever):
    with pytest.raises(UnknownSpeechError, match="no-such-speech"):
        retriever.retrieve("目标", filters=Filters(speech_ids=["no-such-speech"]))
    with pytest.raises(ValueError, match="reversed"):
        Filters(years=(2025, 2020))
    with pytest.raises(ValueError, match="unknown speech metadata field 'colour'"):
        retriever.retrieve("目标", filters=Filters(where={"colour": "red"}))
    with pytest.raises(ValueError, match="empty"):
        retriever.retrieve("   ")
    with pytest.raises(ValueError, match="mode"):
        retriever.retrieve("目标", mode="magic")


def test_no_stale_passage_after_update_or_prune(retriever, store, settings, library):
    assert retriever.retrieve("一核两翼三区", k=1, mode="keyword").passages[0].speech_id == "2025-city-work-meeting"
    path = library / "samples" / "2025-city-work-meeting.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("一核两翼三区", "双核联动"), encoding="utf-8")
    ingest(store, settings, library)
    for mode in ("keyword", "hybrid", "dense"):
        for p in retriever.retrieve("一核两翼三区", k=10, mode=mode).passages:
            assert "一核两翼三区" not in p.text, f"{mode}: stale passage {p.passage_id}"
    assert "双核联动" in retriever.retrieve("双核联动", k=1, mode="keyword").passages[0].text
    path.unlink()
    ingest(store, settings, library, prune=True)
    for mode in ("keyword", "hybrid", "dense"):
        found = retriever.retrieve("双核联动", k=10, mode=mode).passages
        assert all(p.speech_id != "2025-city-work-meeting" for p in found)


def test_a_speech_filter_searches_only_that_speech(retriever):
    both = {sid: retriever.retrieve("干部作风", k=2, filters=Filters(speech_ids=[sid]))
            for sid in ("2024-county-congress-closing", "000_ed498335adf7a40a")}
    for speech_id, result in both.items():
        assert 0 < len(result.passages) <= 2 and {p.speech_id for p in result.passages} == {speech_id}
    assert "作风" in both["2024-county-congress-closing"].passages[0].text


@pytest.mark.slow
def test_exact_slogan_with_the_real_model_finds_its_passage_first(tmp_path, library):
    from settings import Settings

    settings = Settings(data_dir=tmp_path / "real", _env_file=None)
    store = open_store(settings)
    ingest(store, settings, SEED)
    retriever = Retriever(store, settings)
    for question, speech_id, words in [
        ("今年经济增速“保8争9”的目标是怎么提出的？", "002_d5a8c33760b2f744", "保8争9"),
        ("“一核两电三色四新”产业布局", "000_ed498335adf7a40a", "一核两电三色四新"),
        ("要远学什么精神，近学什么精神？", "002_d5a8c33760b2f744", "远学红旗渠精神"),
    ]:
        result = retriever.retrieve(question, k=5)
        assert result.passages[0].speech_id == speech_id and words in result.passages[0].text, question
        assert result.relevant


# -- dense search within a few speeches: exact, from cached vectors -------------------------------------------------


def test_exact_filtered_dense_search_equals_chromas(retriever, monkeypatch):
    import retriever.search as search

    for filters in (Filters(speech_ids=["2023-ecology-forum"]), Filters(years=(2024, 2025))):
        exact = retriever.retrieve("今年要做好哪些工作", k=8, mode="dense", filters=filters).passages
        monkeypatch.setattr(search, "EXACT_LIMIT", 0)  # an unfiltered query, the allowed passages kept
        wide = retriever.retrieve("今年要做好哪些工作", k=8, mode="dense", filters=filters).passages
        monkeypatch.setattr(search, "OVERSAMPLE_LIMIT", 0)  # Chroma's filtered HNSW query
        chroma = retriever.retrieve("今年要做好哪些工作", k=8, mode="dense", filters=filters).passages
        monkeypatch.undo()
        allowed = filters.allowed({s.id: s for s in retriever.store.list_speeches()})
        assert exact and {p.speech_id for p in exact} <= allowed
        for other in (wide, chroma):
            assert [p.passage_id for p in exact] == [p.passage_id for p in other]
            assert [p.dense_score for p in exact] == pytest.approx([p.dense_score for p in other], abs=1e-5)


def test_a_wide_query_that_finds_too_few_allowed_passages_falls_back_to_the_filtered_one(retriever, monkeypatch):
    import retriever.search as search

    monkeypatch.setattr(search, "EXACT_LIMIT", 0)
    monkeypatch.setattr(search, "OVERSAMPLE", 0.01)  # so few results that the allowed speech is not among them
    calls = []
    nearest = retriever.store.nearest_passages
    monkeypatch.setattr(retriever.store, "nearest_passages",
                        lambda vector, n, speech_ids=None: calls.append(speech_ids) or nearest(vector, n, speech_ids))
    only = Filters(speech_ids=["2023-ecology-forum"])
    found = retriever.retrieve("经济增长目标", k=3, mode="dense", filters=only).passages
    assert calls == [None, {"2023-ecology-forum"}]
    assert found and {p.speech_id for p in found} == {"2023-ecology-forum"}


def test_filtered_dense_search_reads_few_vectors_or_none(store, settings, library, monkeypatch):
    import retriever.search as search

    ingest(store, settings, library)
    monkeypatch.setattr(search, "EXACT_UNCACHED_LIMIT", 0)  # too much to read: Chroma's filtered query
    fresh = Retriever(store, settings)
    read = store.current_passages
    monkeypatch.setattr(store, "current_passages", lambda *a, **k: pytest.fail("read vectors over the limit"))
    only = Filters(speech_ids=["2023-ecology-forum"])
    assert {p.speech_id for p in fresh.retrieve("今年要做好哪些工作", k=5, mode="dense", filters=only).passages} == {
        "2023-ecology-forum"
    }
    monkeypatch.setattr(store, "current_passages", read)
    monkeypatch.setattr(search, "EXACT_UNCACHED_LIMIT", 10_000)
    fresh.retrieve("今年要做好哪些工作", k=5, mode="dense", filters=only)  # reads and caches that speech
    monkeypatch.setattr(search, "EXACT_UNCACHED_LIMIT", 0)
    monkeypatch.setattr(store, "nearest_passages", lambda *a, **k: pytest.fail("cached vectors, yet Chroma queried"))
    assert fresh.retrieve("今年要做好哪些工作", k=5, mode="dense", filters=only).passages


def test_speech_vectors_are_read_once_and_never_stale(retriever, store, settings, library, monkeypatch):
    city = Filters(speech_ids=["2025-city-work-meeting"])
    first = retriever.retrieve("一核两翼三区", k=3, mode="dense", filters=city)
    real = store.current_passages
    monkeypatch.setattr(store, "current_passages", lambda *a, **k: pytest.fail("read cached vectors again"))
    assert retriever.retrieve("一核两翼三区", k=3, mode="dense", filters=city) == first
    monkeypatch.setattr(store, "current_passages", real)

    path = library / "samples" / "2025-city-work-meeting.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("一核两翼三区", "双核联动"), encoding="utf-8")
    ingest(store, settings, library)
    version = store.get_speech("2025-city-work-meeting").version
    after = retriever.retrieve("双核联动", k=10, mode="dense", filters=city).passages
    assert after and all(split_passage_id(p.passage_id)[1] == version for p in after)
    assert any("双核联动" in p.text for p in after)


def test_vector_cache_keeps_within_its_bound(retriever, store):
    from retriever.search import _VectorCache

    speeches = store.list_speeches()
    cache = _VectorCache(max_bytes=1)  # room for one speech at a time
    ids, matrices = cache.get(store, speeches)
    assert len(ids) == sum(s.passages for s in speeches) == sum(len(m) for m in matrices) > 0
    assert len(cache._entries) == 1
    for matrix in matrices:
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


# -- bulk reads from the store --------------------------------------------------------------------------------------


def test_bulk_reads_equal_per_speech_reads(retriever, store):
    speeches = store.list_speeches()
    for page in (1, 50, 5000):
        got = list(store.current_passages(speeches, texts=True, vectors=True, page=page))
        assert [g.speech.id for g in got] == [s.id for s in speeches]
        for g in got:
            assert g.texts == [p.text for p in store.speech_passages(g.speech.id)]
            assert g.vectors.shape == (g.speech.passages, FakeEmbeddings.dim)
            stored = store._passages.get(ids=g.ids[:3], include=["embeddings"])["embeddings"]  # below the API
            assert np.allclose(g.vectors[:3], stored)


def test_listing_in_pages_lists_every_speech_once(retriever, store, monkeypatch):
    from ingest import store as store_module

    whole = store.list_speeches()
    monkeypatch.setattr(store_module, "_LIST_PAGE", 2)
    store._listing = None
    assert store.list_speeches() == whole and len(whole) == 5


def test_bulk_reads_leave_out_changed_or_incomplete_speeches(retriever, store):
    speeches = {s.id: s for s in store.list_speeches()}
    stale = dataclasses.replace(speeches["2023-ecology-forum"], version="0123456789abcdef")
    store._passages.delete(ids=[speeches["2025-city-work-meeting"].passage_ids()[1]])  # a half-written speech
    got = list(store.current_passages([stale, *(s for s in speeches.values() if s.id != stale.id)], page=10))
    assert {g.speech.id for g in got} == set(speeches) - {"2023-ecology-forum", "2025-city-work-meeting"}


def test_existing_passages_collection_gets_our_search_breadth(settings, fake_embeddings):
    from ingest import store as store_module

    first = store_module.open_store(settings, fake_embeddings)
    first._passages.modify(configuration={"hnsw": {"ef_search": 16}})  # as an older version left it
    assert store_module.open_store(settings, fake_embeddings)._passages.configuration["hnsw"]["ef_search"] == (
        store_module.EF_SEARCH
    )


class GatedEmbeddings(FakeEmbeddings):
    """Long queries wait for ``gate`` (an embedding that takes a while); short ones do not."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()

    def embed_query(self, text: str) -> list[float]:
        if len(text) > 60:
            assert self.gate.wait(30)
        return super().embed_query(text)


def test_a_short_question_is_answered_while_a_long_one_is_still_being_embedded(settings, library):
    """No lock around a whole retrieval (issue 12, item 3): only what changes is locked."""
    import threading

    embeddings = GatedEmbeddings()
    store = open_store(settings, embeddings)
    ingest(store, settings, library)
    retriever = Retriever(store, settings)
    long_one = threading.Thread(target=retriever.retrieve, args=("经济增长的预期目标" * 40,))
    long_one.start()
    try:
        done = threading.Thread(target=retriever.retrieve, args=("“一核两翼三区”的发展布局是什么？",))
        done.start()
        done.join(20)
        assert not done.is_alive(), "the short question waited for the long one"
        assert long_one.is_alive()  # still embedding
    finally:
        embeddings.gate.set()
        long_one.join(30)


def test_retrievals_side_by_side_agree_with_one_at_a_time(store, settings, library, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from retriever.keyword import KeywordIndex

    ingest(store, settings, library)
    questions = ["“一核两翼三区”的发展布局是什么？", "生态环境保护要坚持什么？", "今年全县要办好哪些民生实事？",
                 "去年全市地区生产总值增长了多少？", "人大代表要做什么？"]
    one_at_a_time = Retriever(store, settings)
    alone = {q: [p.passage_id for p in one_at_a_time.retrieve(q, k=5).passages] for q in questions}
    cold = Retriever(store, settings, KeywordIndex.open(tmp_path / "cold-keyword"))  # first searches sync it at once
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: (q, [p.passage_id for p in cold.retrieve(q, k=5).passages]),
                                 questions * 4))
    assert all(ids == alone[q] for q, ids in together)
