"""Hyper-parameter search (grid and seeded random) that selects on the validation split only."""

from dynint.tune.search import Trial, TuneResult, ValidationStage, search_points, tune, write_best_config
from dynint.tune.space import Range, SearchSpace

__all__ = [
    "Range",
    "SearchSpace",
    "Trial",
    "TuneResult",
    "ValidationStage",
    "search_points",
    "tune",
    "write_best_config",
]
