"""Flax NNX models. `MODELS` maps a config `model.name` to (config dataclass, module class)."""

MODELS: dict[str, tuple[type, type]] = {}
