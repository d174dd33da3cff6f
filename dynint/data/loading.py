"""From a `DataConfig` to preprocessed `Interactions` and a `Split`."""

from __future__ import annotations

from pathlib import Path

from dynint.config.schema import DataConfig, SplitConfig
from dynint.data.interactions import Interactions
from dynint.data.preprocess import preprocess
from dynint.data.splits import Split, cold_item_split, leave_one_out_split, temporal_split

SYNTHETIC = "synthetic"


def load_interactions(config: DataConfig, data_dir: str | Path | None = None) -> Interactions:
    """Read the configured data set (`synthetic`, a registered name, or `tfds:NAME`) and preprocess it.

    `data_dir` (e.g. from `--data-dir`) takes precedence over `config.data_dir`.
    """
    if config.name == SYNTHETIC:
        from dynint.data.synthetic import generate_drifting_interactions

        raw, _ = generate_drifting_interactions(config.synthetic)
    else:
        from dynint.data.paths import resolve_data_dir
        from dynint.data.readers import malformed_lines_skipped
        from dynint.data.registry import load_dataset

        directory = resolve_data_dir(str(data_dir) if data_dir is not None else config.data_dir)
        with malformed_lines_skipped(config.skip_malformed_lines):
            raw = load_dataset(config.name, directory, download=config.download)
    return preprocess(
        raw,
        rating_threshold=config.rating_threshold,
        min_user_interactions=config.min_user_interactions,
        min_item_interactions=config.min_item_interactions,
    )


def make_split(interactions: Interactions, config: SplitConfig) -> Split:
    """The split `config.kind` names, with its settings from `config`."""
    if config.kind == "leave-one-out":
        return leave_one_out_split(interactions)
    if config.kind == "cold-items":
        return cold_item_split(interactions, config.cold_item_fraction, config.cold_item_seed)
    return temporal_split(interactions, config.valid_fraction, config.test_fraction)
