"""The model registry: a config `model.name` maps to its config dataclass and constructor.

Baselines live in the top-level `baselines` package and register there; neural models
register here as they are added. One new file plus one registry line adds a model.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config_class: type
    build: Callable[[Any], Any]
    kind: str  # "baseline" (fit/score), "neural" (next-item, trained by dynint.train), "ctr" (click models),
    # "multitask" (engagement, like and rating models on the CTR samples) or "generative" (semantic-id retrieval)


def model_registry() -> dict[str, ModelEntry]:
    import baselines
    from dynint.generative import GENERATIVE_MODELS
    from dynint.models import MODELS
    from dynint.models.ctr import CTR_MODELS
    from dynint.models.multitask import MULTITASK_MODELS

    entries = {name: ModelEntry(name, cfg, cls, "baseline") for name, (cfg, cls) in baselines.BASELINES.items()}
    entries.update({name: ModelEntry(name, cfg, cls, "neural") for name, (cfg, cls) in MODELS.items()})
    entries.update({name: ModelEntry(name, cfg, cls, "ctr") for name, (cfg, cls) in CTR_MODELS.items()})
    entries.update({name: ModelEntry(name, cfg, cls, "multitask") for name, (cfg, cls) in MULTITASK_MODELS.items()})
    entries.update({name: ModelEntry(name, cfg, cls, "generative") for name, (cfg, cls) in GENERATIVE_MODELS.items()})
    return entries


TRAINERS: dict[str, str] = {
    "neural": "dynint.train.experiment:train_and_evaluate",
    "ctr": "dynint.train.ctr_experiment:train_and_evaluate_ctr",
    "multitask": "dynint.train.multitask_experiment:train_and_evaluate_multitask",
    "generative": "dynint.generative.experiment:train_and_evaluate_generative",
}
"""Per trained kind, the function (`module:name`, imported when a run needs it) that trains and
evaluates a run: `(config, data, run_dir, progress=...) -> TrainedRun`."""


def trainer(kind: str) -> Callable[..., Any]:
    """The training function of model kind `kind` (see `TRAINERS`)."""
    import importlib

    module, name = TRAINERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def get_model_entry(name: str) -> ModelEntry:
    registry = model_registry()
    if name not in registry:
        nearest = difflib.get_close_matches(name, list(registry), n=1)
        hint = f"did you mean '{nearest[0]}'?" if nearest else f"registered: {', '.join(sorted(registry))}"
        raise KeyError(f"unknown model '{name}'; {hint}")
    return registry[name]


def model_config_class(name: str) -> type:
    return get_model_entry(name).config_class
