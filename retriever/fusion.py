"""Rank fusion of the dense and keyword result lists.

Two methods, both weighted:
- ``rrf``: reciprocal rank fusion, score = sum of weight / (k + rank). Ignores how far apart the scores are.
- ``convex``: each list's scores are scaled to [0, 1] by the list's best score, then summed with the weights.
  A passage missing from a list gets 0 there. Score-aware: a dense list whose scores are all nearly equal (as
  e5 cosines often are) moves the order less than a keyword list with one clear winner.
The default and its weights were chosen on ncppolicies-dev (docs/retrieval.md).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def _check(rankings: Sequence[Ranking], weights: Sequence[float]) -> None:
    if len(rankings) != len(weights):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ValueError(f"fusion weights must be >= 0 and not all 0, got {list(weights)}")
