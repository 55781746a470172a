"""Retrieval as the answering layer uses it: ask, filter, and trust nothing stale."""

from __future__ import annotations

import pytest
from conftest import SEED, ingest

from ingest.store import UnknownSpeechError, open_store
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
        assert all(p.speech_id != "2025-city-work-meeting" for p in retriever.retrieve("双核联动", k=10, mode=mode).passages)


def test_per_speech_retrieval_searches_each_speech(retriever):
    both = retriever.retrieve_per_speech("干部作风", ["2024-county-congress-closing", "000_ed498335adf7a40a"], k=2)
    assert set(both) == {"2024-county-congress-closing", "000_ed498335adf7a40a"}
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
