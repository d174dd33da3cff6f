"""Typed experiment configs: dataclasses are the source of truth, YAML files instantiate them."""

from dynint.config.loader import apply_overrides, config_to_dict, load_config, parse_config
from dynint.config.schema import DataConfig, ExperimentConfig, SplitConfig

__all__ = [
    "DataConfig",
    "ExperimentConfig",
    "SplitConfig",
    "apply_overrides",
    "config_to_dict",
    "load_config",
    "parse_config",
]
