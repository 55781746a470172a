"""The retriever as a LangChain ``BaseRetriever`` (``Retriever.as_langchain``), on both store backends."""

from __future__ import annotations

import pytest
from conftest import ingest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from retriever.search import Filters, Retriever

CITY = "2025-city-work-meeting"


@pytest.fixture
def retriever(store, settings, library):
    ingest(store, settings, library)
    return Retriever(store, settings)


def test_documents_carry_the_passage_and_what_a_citation_needs(retriever, store):
    lc = retriever.as_langchain(k=3)
    assert isinstance(lc, BaseRetriever)
    docs = lc.invoke("“一核两翼三区”的发展布局是什么？")
    direct = retriever.retrieve("“一核两翼三区”的发展布局是什么？", k=3)
    assert [d.id for d in docs] == [p.passage_id for p in direct.passages] and len(docs) == 3
    top = docs[0]
    assert isinstance(top, Document) and "一核两翼三区" in top.page_content
    meta = top.metadata
    assert meta["speech_id"] == CITY and meta["title"] == "在全市经济工作会议上的讲话（示例）"
    assert store.speech_text(meta["speech_id"])[meta["start"]:meta["end"]] == top.page_content
    assert meta["relevant"] is True and meta["relevance"] == pytest.approx(direct.relevance)
    assert [d.metadata["score"] for d in docs] == [p.score for p in direct.passages]


def test_filters_k_and_mode_apply_and_it_composes_in_a_chain(retriever):
    only = retriever.as_langchain(k=2, mode="keyword", filters=Filters(speech_ids=["2023-ecology-forum"]))
    docs = only.invoke("今年要做好哪些工作")
    assert docs and len(docs) <= 2 and {d.metadata["speech_id"] for d in docs} == {"2023-ecology-forum"}
    assert all(d.metadata["keyword_score"] and d.metadata["dense_score"] is None for d in docs)

    chain = retriever.as_langchain(k=1) | RunnableLambda(lambda found: found[0].metadata["speech_id"])
    assert chain.invoke("“一核两翼三区”的发展布局是什么？") == CITY
    assert [len(d) for d in retriever.as_langchain(k=2).batch(["经济增长目标", "生态环境保护"])] == [2, 2]


def test_bad_input_is_the_retrievers_clear_error(retriever):
    with pytest.raises(ValueError, match="the question is empty"):
        retriever.as_langchain().invoke("   ")
