"""Tiny multitask models on the tiny CTR batch (with ratings), and jitted passes over them."""

from __future__ import annotations

from functools import lru_cache

import jax
import numpy as np
from flax import nnx

from dynint.data.ctr_samples import CTRBatch
from dynint.models.ctr.config import DINConfig
from dynint.models.multitask import MULTITASK_MODELS
from dynint.models.multitask.losses import combine_losses, task_losses
from dynint.models.multitask.models import MultitaskOutputs
from tests.models.ctr.tiny_ctr import FEATURE_SIZES, MAX_LENGTH, NUM_ITEMS, tiny_batch

MODEL_NAMES = tuple(MULTITASK_MODELS)
ENCODER = DINConfig(embedding_size=4, attention_sizes=(6,))
TINY = {"tower_sizes": (5,), "bottom_sizes": (6,), "expert_sizes": (6,), "num_experts": 3}
# Rows 0 and 2 are engaged (label 1): rated 5 (liked) and 2 (not liked); rows 1 and 3 are not.
RATINGS = np.array([5.0, 0.0, 2.0, 0.0], np.float32)
LIKE_THRESHOLD = 4.0


def tiny_rated_batch(ratings: np.ndarray = RATINGS) -> CTRBatch:
    return tiny_batch()._replace(ratings=ratings)


def tiny_model(name: str, **overrides) -> nnx.Module:
    """A fresh tiny `name` model; the same overrides always give the same parameters."""
    graphdef, state = _tiny_model(name, tuple(sorted(overrides.items())))
    return nnx.merge(graphdef, state)


@lru_cache
def _tiny_model(name: str, overrides: tuple) -> tuple:
    config_class, module_class = MULTITASK_MODELS[name]
    fields = config_class.__dataclass_fields__
    config = config_class(**{"encoder": ENCODER, **{k: v for k, v in TINY.items() if k in fields}, **dict(overrides)})
    return nnx.split(module_class(config, NUM_ITEMS, MAX_LENGTH, FEATURE_SIZES, rngs=nnx.Rngs(0)))


@nnx.jit
def forward(model: nnx.Module, batch: CTRBatch) -> MultitaskOutputs:
    return model(batch, dropout=None)


def total_loss(model: nnx.Module, batch: CTRBatch) -> jax.Array:
    """The training loss as `multitask_loss_fn` computes it (fixed unit weights), without dropout."""
    outputs = model(batch, dropout=None)
    losses = task_losses(outputs, batch, LIKE_THRESHOLD, model.entire_space)
    log_variances = None if model.log_variances is None else model.log_variances[...]
    return combine_losses(losses, model.tasks, (1.0,) * len(model.tasks), log_variances) + outputs.auxiliary


loss_and_gradients = nnx.jit(nnx.value_and_grad(total_loss))
