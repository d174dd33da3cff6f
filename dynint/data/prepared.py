"""`PreparedData`: the preprocessed interactions and split a run trains and evaluates on.

It lives with the data layer so the training code and the runner both depend on it, not on each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dynint.data.interactions import Interactions
from dynint.data.loading import load_interactions, make_split
from dynint.data.splits import Split

if TYPE_CHECKING:
    from dynint.config.schema import ExperimentConfig


@dataclass(frozen=True)
class PreparedData:
    """Preprocessed interactions and their split, reusable across seeds and models."""

    interactions: Interactions
    split: Split


def prepare_data(config: ExperimentConfig, data_dir: str | Path | None = None) -> PreparedData:
    """Read, preprocess and split the data set of `config.data` under `config.split`."""
    interactions = load_interactions(config.data, data_dir)
    return PreparedData(interactions, make_split(interactions, config.split))
