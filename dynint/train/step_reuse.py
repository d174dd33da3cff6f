"""Optimizers and jit-compiled train steps reused by later fits in the same process.

Every `fit` used to build its optimizer and step afresh, so a run of many short fits (the temporal
protocol's window-by-window updates, a refit after early stopping) traced, lowered and looked up
its step once per fit and per batch shape, which cost more than the training of a short
fine-tune. A fit now takes the step an earlier fit built for the same loss function object, the
same optimizer settings, mesh and state layout: `jax.jit`'s own cache then holds its compiled
programs. A few of each are kept (least recently used dropped first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import jax
import optax
from jax.sharding import Mesh

from dynint.privacy.dpsgd import private_value_and_grad
from dynint.privacy.federated import federated_value_and_grad
from dynint.train.config import TrainConfig
from dynint.train.optim import make_optimizer, optimizer_key
from dynint.train.precision import with_compute_dtype
from dynint.train.step import LossFn, make_train_step

_KEPT = 4
_optimizers: OrderedDict[Hashable, optax.GradientTransformation] = OrderedDict()
_steps: OrderedDict[Hashable, Callable[..., Any]] = OrderedDict()


def shared_optimizer(train: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    """`make_optimizer(train, total_steps)`, the same object for the same settings."""
    return _kept(_optimizers, optimizer_key(train, total_steps), lambda: make_optimizer(train, total_steps))


def shared_train_step(
    loss: LossFn, train: TrainConfig, total_steps: int, mesh: Mesh, state_shardings: Any
) -> Callable[..., Any]:
    """The jit-compiled step of `loss` under `train`'s optimizer, precision and privacy settings,
    the same function for the same `loss` object, settings, mesh and state layout."""
    leaves, treedef = jax.tree.flatten(state_shardings)
    key = (
        loss,
        optimizer_key(train, total_steps),
        train.dtype,
        train.nonfinite_limit,
        train.privacy,
        train.federated,
        mesh,
        treedef,
        tuple(leaves),
    )

    def build() -> Callable[..., Any]:
        computed = with_compute_dtype(loss, train.dtype)
        return make_train_step(
            computed,
            shared_optimizer(train, total_steps),
            mesh,
            state_shardings,
            nonfinite_limit=train.nonfinite_limit,
            value_and_grad=_private_gradient(computed, train),
        )

    return _kept(_steps, key, build)


def _private_gradient(loss: LossFn, train: TrainConfig) -> Callable[..., Any] | None:
    """DP-SGD's or (DP-)FedAvg's gradient of `loss`; None for the ordinary one."""
    if train.federated.enabled:
        private = train.privacy if train.privacy.enabled else None
        return federated_value_and_grad(
            loss,
            train.federated,
            private.clip_norm if private else float("inf"),
            private.noise_multiplier if private else 0.0,
        )
    if train.privacy.enabled:
        private = train.privacy
        return private_value_and_grad(loss, private.clip_norm, private.noise_multiplier, private.chunk_size)
    return None


def _kept(store: OrderedDict, key: Hashable, build: Callable[[], Any]) -> Any:
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = store[key] = build()
    while len(store) > _KEPT:
        store.popitem(last=False)
    return value
