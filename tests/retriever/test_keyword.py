"""The BM25 keyword index: tokeniser, search, and staying in sync with the store across changes, restarts, damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import bm25s
import numpy as np
import pytest
from conftest import ingest

import retriever.keyword as keyword
from ingest.store import passage_id, split_passage_id
from retriever.keyword import KeywordIndex, query_tokens, tokenize

CITY = "2025-city-work-meeting"


@pytest.fixture
def index(store, settings, library):
    ingest(store, settings, library)
    idx = KeywordIndex.open(settings.data_dir / "keyword")
    assert idx.sync(store)
    return idx


@pytest.fixture
def tokenize_calls(monkeypatch):
    calls = []

    def counting(text):
        calls.append(text)
        return tokenize(text)

    monkeypatch.setattr(keyword, "tokenize", counting)
    return calls


def text_of(store, pid):
    return store.passages_by_id([pid])[pid].text


def store_passage_ids(store):
    """Every passage stored, of any version (below the store's API)."""
    return set(store._passages.get(include=[])["ids"])


def hit_ids(idx, query, k=1000, allowed=None):
    return [pid for pid, _ in idx.search(query, k, allowed)]


# -- tokeniser ----------------------------------------------------------------------------------------------------


def test_cjk_runs_become_bigrams_and_a_lone_character_stays():
    assert tokenize("发展布局") == ["发展", "展布", "布局"]
    assert tokenize("“保8争9”") == ["保", "8", "争", "9"]
    assert tokenize("一核两翼三区") == ["一核", "核两", "两翼", "翼三", "三区"]


def test_other_scripts_are_whole_lowercased_words_and_numbers():
    assert tokenize("COVID-19 疫情与5G网络") == ["covid", "19", "疫情", "情与", "5g", "网络"]
    assert tokenize("增长5.2%，投入2.5%") == ["增长", "5.2", "投入", "2.5"]
    assert tokenize("ＧＤＰ增长８％") == ["gdp", "增长", "8"]  # full-width letters and digits fold


def test_question_words_leave_the_query_but_not_the_passages():
    assert query_tokens("今年的目标是什么？") == tokenize("今年的目标") == ["今年", "年的", "的目", "目标"]
    assert query_tokens("如何推进生态文明建设，有哪些举措") == tokenize("推进生态文明建设 举措")
    assert "什么" in tokenize("为什么要这样做")  # passages keep every word


def test_question_words_do_not_decide_the_ranking(index):
    assert index.search("“一核两翼三区”的发展布局是什么？", 5) == index.search("“一核两翼三区”的发展布局", 5)


def test_punctuation_and_space_yield_no_tokens():
    assert tokenize("") == []
    assert tokenize("，。！？、；：“”（）《》——…… \n\t ___ ---") == []


# -- search -------------------------------------------------------------------------------------------------------


def test_exact_slogan_finds_its_passage_first(store, index):
    top, score = index.search("一核两翼三区", 5)[0]
    assert top.startswith(f"{CITY}#") and score > 0
    assert "一核两翼三区" in text_of(store, top)


def test_results_are_best_first_positive_and_bounded(index):
    hits = index.search("经济工作会议", 3)
    assert len(hits) == 3
    assert all(s > 0 for _, s in hits) and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search("zzzz qqqq", 5) == [] and index.search("，。", 5) == [] and index.search("经济", 0) == []


def test_scores_equal_bm25s(store, index):
    """The index computes BM25 itself (vectorised); it must score as bm25s' default Lucene BM25 does."""
    speeches = {s.id: s for s in store.list_speeches()}
    ids, docs = [], []
    for sid, speech in speeches.items():
        for p in store.speech_passages(sid):
            ids.append(passage_id(sid, speech.version, p.order))
            docs.append(tokenize(f"{speech.title}\n{p.text}"))
    reference = bm25s.BM25(k1=keyword.K1, b=keyword.B, method="lucene")
    reference.index(docs, show_progress=False)
    assert len(index) == len(ids)
    for query in ("一核两翼三区", "今年经济增长的预期目标", "人民代表大会 闭幕", "生态环境保护"):
        expected = reference.get_scores(reference.get_tokens_ids(tokenize(query)))
        got = dict(index.search(query, len(ids)))
        want = {ids[i]: float(s) for i, s in enumerate(expected) if s > 0}
        assert got.keys() == want.keys()
        assert np.allclose([got[i] for i in want], list(want.values()), rtol=1e-5)


def test_allowed_restricts_results_to_those_speeches(index):
    everything = hit_ids(index, "经济发展")
    assert len({split_passage_id(pid)[0] for pid in everything}) > 1
    only_city = hit_ids(index, "经济发展", allowed={CITY})
    assert only_city and all(split_passage_id(pid)[0] == CITY for pid in only_city)
    assert only_city == [pid for pid in everything if pid.startswith(f"{CITY}#")]
    assert hit_ids(index, "经济发展", allowed=lambda sid: sid == CITY) == only_city
    assert hit_ids(index, "经济发展", allowed=set()) == []
    assert hit_ids(index, "经济发展", allowed={"no-such-speech"}) == []


# -- staying in sync ----------------------------------------------------------------------------------------------


def test_index_holds_exactly_the_current_passages(store, index):
    assert len(index) == len(store_passage_ids(store))
    assert index.speech_ids() == {s.id for s in store.list_speeches()}


def test_unchanged_store_syncs_without_reading_or_tokenising(store, index, tokenize_calls, monkeypatch):
    monkeypatch.setattr(store, "current_passages", lambda *a, **k: pytest.fail("read passages of an unchanged store"))
    assert index.sync(store) is False
    assert tokenize_calls == []


def test_changed_speech_is_picked_up_and_its_old_text_is_gone(store, settings, library, index, tokenize_calls):
    path = library / "samples" / f"{CITY}.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("一核两翼三区", "双城四带"), encoding="utf-8")
    assert ingest(store, settings, library).updated == [CITY]
    passages_now = len(store.speech_passages(CITY))
    assert index.sync(store) is True
    assert len(tokenize_calls) == passages_now, "only the changed speech is re-tokenised"
    version = store.get_speech(CITY).version
    top = index.search("双城四带", 1)[0][0]
    assert split_passage_id(top)[:2] == (CITY, version) and "双城四带" in text_of(store, top)
    for pid in hit_ids(index, "一核两翼三区"):
        assert pid in store_passage_ids(store), f"stale passage {pid}"
        assert "一核两翼三区" not in text_of(store, pid)
    assert len(index) == len(store_passage_ids(store))


def test_incremental_sync_equals_a_fresh_build(store, settings, library, index, tmp_path):
    path = library / "002_d5a8c33760b2f744.txt"
    path.write_text(path.read_text(encoding="utf-8")[:1500] + "\n新增一句：今年要办好二十件民生实事。",
                    encoding="utf-8")
    (library / "samples" / "2023-ecology-forum.md").unlink()
    ingest(store, settings, library, prune=True)
    assert index.sync(store)
    fresh = KeywordIndex.open(tmp_path / "fresh")
    assert fresh.sync(store)
    for query in ("二十件民生实事", "经济工作", "生态 保护", "人民代表大会"):
        mine, theirs = index.search(query, 50), fresh.search(query, 50)
        assert [p for p, _ in mine] == [p for p, _ in theirs]
        assert np.allclose([s for _, s in mine], [s for _, s in theirs], rtol=1e-5)


def test_pruned_and_deleted_speeches_leave_no_passages(store, settings, library, index):
    assert hit_ids(index, "生态", allowed={"2023-ecology-forum"})
    (library / "samples" / "2023-ecology-forum.md").unlink()
    assert ingest(store, settings, library, prune=True).pruned == ["2023-ecology-forum"]
    store.delete_speech(CITY)
    assert index.sync(store)
    assert not any(pid.startswith(("2023-ecology-forum#", f"{CITY}#")) for pid in hit_ids(index, "生态 经济 发展"))
    assert CITY not in {split_passage_id(pid)[0] for pid in hit_ids(index, "一核两翼三区")}
    assert index.speech_ids() == {s.id for s in store.list_speeches()}
    assert len(index) == len(store_passage_ids(store))


def test_a_speech_rewritten_while_being_read_is_retried_on_the_next_sync(store, index, monkeypatch):
    monkeypatch.setattr(index, "_snap", keyword._Snapshot.empty())
    monkeypatch.setattr(index, "_synced", "")  # forget the sync, as a fresh process would
    real = store.current_versions  # re-read after the passages: say the record moved on meanwhile

    def moved_on(ids):
        return {**real(ids), **({CITY: "newer"} if CITY in ids else {})}

    monkeypatch.setattr(store, "current_versions", moved_on)
    assert index.sync(store)
    assert CITY not in index.speech_ids()
    monkeypatch.setattr(store, "current_versions", real)
    assert index.sync(store) and CITY in index.speech_ids()
    assert index.sync(store) is False


# -- persistence ----------------------------------------------------------------------------------------------------


def test_reopened_index_gives_the_same_results_without_tokenising_passages(store, settings, index, tokenize_calls):
    queries = ("一核两翼三区", "经济增长", "人民代表大会", "生态文明")
    before = {q: index.search(q, 10) for q in queries}
    tokenize_calls.clear()
    reopened = KeywordIndex.open(settings.data_dir / "keyword")
    assert len(reopened) == len(index)
    assert reopened.sync(store) is False
    assert tokenize_calls == []
    assert {q: reopened.search(q, 10) for q in queries} == before
    assert tokenize_calls == list(queries), "only the queries were tokenised"


def test_empty_folder_opens_empty(tmp_path):
    idx = KeywordIndex.open(tmp_path / "nothing-here")
    assert len(idx) == 0 and idx.search("经济", 5) == []


def _generation(folder: Path) -> Path:
    return folder / (folder / keyword.CURRENT).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        lambda gen: (gen / "rows.npy").write_bytes(b"\x93NUMPY garbage"),
        lambda gen: (gen / "tf.npy").write_bytes((gen / "tf.npy").read_bytes()[:-7]),
        lambda gen: (gen / "indptr.npy").unlink(),
        lambda gen: (gen / "manifest.json").write_text("{not json", encoding="utf-8"),
        lambda gen: (gen / "vocab.json").write_text("[1, 2]", encoding="utf-8"),
        lambda gen: np.save(gen / "rows.npy", np.full(len(np.load(gen / "rows.npy")), 10**6, dtype=np.int32)),
        lambda gen: (gen.parent / keyword.CURRENT).write_text("gen-../../etc", encoding="utf-8"),
        lambda gen: shutil.rmtree(gen),
    ],
    ids=["garbled", "truncated", "missing", "bad-manifest", "bad-vocab", "rows-out-of-range", "bad-pointer", "gone"],
)
def test_damaged_index_is_discarded_and_rebuilt(store, settings, index, damage):
    folder = settings.data_dir / "keyword"
    before = index.search("一核两翼三区", 5)
    damage(_generation(folder))
    damaged = KeywordIndex.open(folder)
    assert len(damaged) == 0
    assert damaged.sync(store) is True
    assert damaged.search("一核两翼三区", 5) == before
    assert len(KeywordIndex.open(folder)) == len(index)


def test_index_of_another_format_is_rebuilt(store, settings, index, monkeypatch):
    monkeypatch.setattr(keyword, "FORMAT", keyword.FORMAT + " other-tokeniser")
    again = KeywordIndex.open(settings.data_dir / "keyword")
    assert len(again) == 0 and again.sync(store)


def test_failed_save_keeps_the_previous_index_on_disk_and_retries(store, settings, library, index, monkeypatch):
    folder = settings.data_dir / "keyword"
    before = index.search("一核两翼三区", 5)
    (library / "samples" / "2023-ecology-forum.md").unlink()
    ingest(store, settings, library, prune=True)
    real_save, calls = np.save, []

    def fail_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(keyword.np, "save", fail_on_third)
    assert index.sync(store) is True
    monkeypatch.setattr(keyword.np, "save", real_save)
    assert "2023-ecology-forum" not in index.speech_ids(), "the index works from memory meanwhile"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("gen-")) == [keyword.CURRENT]
    survivor = KeywordIndex.open(folder)
    assert survivor.search("一核两翼三区", 5) == before and "2023-ecology-forum" in survivor.speech_ids()

    assert index.sync(store) is False  # nothing new, but the unsaved index is saved now
    assert "2023-ecology-forum" not in KeywordIndex.open(folder).speech_ids()
    assert len([p for p in folder.iterdir() if p.name.startswith("gen-")]) == 1, "old generations are cleaned up"
