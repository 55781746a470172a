"""Rank fusion of the dense and keyword result lists.

Two methods, both weighted:
- ``rrf``: reciprocal rank fusion, score = sum of weight / (k + rank). Ignores how far apart the scores are.
- ``convex``: each list's scores are scaled to [0, 1] by the list's best score, then summed with the weights.
  A passage missing from a list gets 0 there. Score-aware: a dense list whose scores are all nearly equal (as
  e5 cosines often are) moves the order less than a keyword list with one clear winner.
The default and its weights were chosen on ncppolicies-dev (docs/retrieval.md).

A speech whose vectors are not complete yet (keywords first, ingest/store.py) has no dense results: ``stand_in``
puts its keyword results into the dense list in their place, so that fusion scores them as it scores the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Ranking = Sequence[tuple[str, float]]  # (passage id, score), best first


def reciprocal_rank_fusion(rankings: Sequence[Ranking], weights: Sequence[float],
                           k: int = 60) -> list[tuple[str, float]]:
    _check(rankings, weights)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, (passage_id, _) in enumerate(ranking, 1):
            fused[passage_id] = fused.get(passage_id, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def convex_fusion(rankings: Sequence[Ranking], weights: Sequence[float],
                  floors: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Scores scaled per list as (score - floor) / (best - floor), floor defaulting to the list's lowest score."""
    _check(rankings, weights)
    fused: dict[str, float] = {}
    for i, (ranking, weight) in enumerate(zip(rankings, weights)):
        if not ranking:
            continue
        best = max(score for _, score in ranking)
        floor = floors[i] if floors is not None else min(score for _, score in ranking)
        span = best - floor
        for passage_id, score in ranking:
            scaled = (score - floor) / span if span > 0 else 1.0
            fused[passage_id] = fused.get(passage_id, 0.0) + weight * max(scaled, 0.0)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def stand_in(dense: Ranking, keyword: Ranking, unready: Callable[[str], bool]) -> list[tuple[str, float]]:
    """``dense`` with the keyword results of passages for which ``unready(passage id)`` (their speech has no
    vectors yet) standing in for their missing dense results: each keyword score is mapped linearly from the
    keyword list's range onto the dense list's (the best keyword result scores as the best dense one, the worst as
    the worst), so both fusions rank such a passage as if its dense rank matched its keyword rank, neither pushed
    out for lack of vectors nor counted twice (a passage is in one of the two). An empty dense list takes the
    [0, 1] range. Best first."""
    extra = [(pid, score) for pid, score in keyword if unready(pid)]
    if not extra:
        return list(dense)
    low, high = min(s for _, s in keyword), max(s for _, s in keyword)
    floor, top = (min(s for _, s in dense), max(s for _, s in dense)) if dense else (0.0, 1.0)
    span = high - low
    mapped = [(pid, floor + ((score - low) / span if span > 0 else 1.0) * (top - floor)) for pid, score in extra]
    kept = [(pid, score) for pid, score in dense if not unready(pid)]
    return sorted(kept + mapped, key=lambda item: (-item[1], item[0]))


def _check(rankings: Sequence[Ranking], weights: Sequence[float]) -> None:
    if len(rankings) != len(weights):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ValueError(f"fusion weights must be >= 0 and not all 0, got {list(weights)}")
