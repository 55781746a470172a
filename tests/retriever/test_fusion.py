import pytest

from retriever.fusion import convex_fusion, reciprocal_rank_fusion


def test_rrf_with_known_rankings():
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    keyword = [("c", 12.0), ("a", 3.0), ("d", 1.0)]
    fused = reciprocal_rank_fusion([dense, keyword], [1.0, 1.0], k=60)
    scores = dict(fused)
    assert [pid for pid, _ in fused] == ["a", "c", "b", "d"]
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_rrf_weights_move_the_order():
    dense = [("a", 0.9), ("b", 0.8)]
    keyword = [("b", 5.0), ("a", 1.0)]
    assert reciprocal_rank_fusion([dense, keyword], [1.0, 0.5])[0][0] == "a"
    assert reciprocal_rank_fusion([dense, keyword], [0.5, 1.0])[0][0] == "b"


def test_convex_fusion_is_score_aware():
    # Dense scores nearly tied, keyword has one clear winner: the keyword winner comes first at equal weights.
    dense = [("a", 0.86), ("b", 0.85), ("c", 0.84)]
    keyword = [("b", 20.0), ("a", 2.0)]
    fused = convex_fusion([dense, keyword], [0.5, 0.5])
    assert [pid for pid, _ in fused] == ["b", "a", "c"]
    assert dict(fused)["b"] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert dict(fused)["c"] == pytest.approx(0.0)


def test_empty_lists_and_bad_weights():
    assert convex_fusion([[], [("x", 1.0)]], [0.5, 0.5]) == [("x", 0.5)]
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([[("x", 1.0)]], [0.0])
    with pytest.raises(ValueError, match="2 rankings but 1 weights"):
        convex_fusion([[], []], [1.0])
