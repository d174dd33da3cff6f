"""Multitask interest models (Shared-Bottom, MMoE, PLE, ESMM) on a shared behaviour encoder.

Each is built as `Model(config, num_items, max_length, feature_sizes, rngs=...)`, as the CTR
models are, and called as `model(batch: CTRBatch, dropout=keys | None) -> MultitaskOutputs`;
`losses.task_losses` and `losses.combine_losses` turn the outputs into the training loss.
`MULTITASK_MODELS` maps a config `model.name` to (config dataclass, module class).
"""

from dynint.models.multitask.config import ESMMConfig, MMoEConfig, MultitaskConfig, PLEConfig, SharedBottomConfig
from dynint.models.multitask.models import ESMM, PLE, MMoE, MultitaskModel, MultitaskOutputs, SharedBottom

MULTITASK_MODELS: dict[str, tuple[type, type]] = {
    "shared-bottom": (SharedBottomConfig, SharedBottom),
    "mmoe": (MMoEConfig, MMoE),
    "ple": (PLEConfig, PLE),
    "esmm": (ESMMConfig, ESMM),
}

__all__ = ["MULTITASK_MODELS", "MultitaskConfig", "MultitaskModel", "MultitaskOutputs"]
