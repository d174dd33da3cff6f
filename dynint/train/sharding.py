"""Where arrays live: the device mesh and every partition rule, kept in this one module.

The mesh has a `data` axis (batches are split over it) and a `model` axis
(`train.model_parallelism` devices). The per-item tables (`.../items/embedding` and the frozen
item content beside it) are row-sharded over `model`: each device of a model group holds
`1 / model_parallelism` of the catalogue's rows, and of their optimizer moments. Models pad
those tables to a multiple of the axis size (`model.items.table_rows_multiple`, set by
`model_for_mesh`). Everything else is replicated. The first rule of `PARAMETER_RULES` whose
pattern matches a parameter's path (`embed/items/embedding`, `encoder/blocks/0/attention/qkv/
kernel`, ...) wins.

The computations over a sharded table are left to GSPMD (XLA's sharding propagation): the
logits of a full softmax come out split by item over `model`, and their log-sum-exp is combined
across it without gathering the table.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dynint.errors import ConfigError

DATA_AXIS = "data"
MODEL_AXIS = "model"

PARAMETER_RULES: tuple[tuple[str, PartitionSpec], ...] = (
    (r"(.*/)?items/(embedding|frozen_text|frozen_attributes)", PartitionSpec(MODEL_AXIS, None)),
    (r".*", PartitionSpec()),
)


def make_mesh(num_devices: int = 1, model_parallelism: int = 1) -> Mesh:
    """A `(data, model)` mesh over the first `num_devices` local devices (-1: all of them)."""
    devices = jax.devices()
    count = len(devices) if num_devices == -1 else num_devices
    if count > len(devices):
        raise ConfigError(f"train.num_devices={num_devices}: only {len(devices)} devices are available")
    if count % model_parallelism:
        raise ConfigError(f"{count} devices cannot be split into model groups of {model_parallelism}")
    grid = np.asarray(devices[:count]).reshape(count // model_parallelism, model_parallelism)
    return Mesh(grid, (DATA_AXIS, MODEL_AXIS))


def data_parallelism(mesh: Mesh) -> int:
    return mesh.shape[DATA_AXIS]


def model_for_mesh(model_config: Any, model_parallelism: int) -> Any:
    """`model_config` with its item tables padded to split evenly over `model_parallelism` devices."""
    if model_parallelism == 1:
        return model_config
    if not hasattr(model_config, "items"):
        raise ConfigError(
            f"train.model_parallelism={model_parallelism}: model {model_config.name!r} has no item tables to shard"
        )
    items = replace(model_config.items, table_rows_multiple=model_parallelism)
    return replace(model_config, items=items)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Arrays whose leading axis is the batch (sequences or predicted positions) split over `data`."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def parameter_shardings(mesh: Mesh, params: Any) -> Any:
    """The sharding of each parameter, by the first matching rule of `PARAMETER_RULES`."""

    def rule(path, _) -> NamedSharding:
        name = "/".join(str(getattr(key, "key", getattr(key, "idx", key))) for key in path)
        for pattern, spec in PARAMETER_RULES:
            if re.fullmatch(pattern, name):
                return NamedSharding(mesh, spec)
        raise ValueError(f"no sharding rule matches parameter {name!r}")

    return jax.tree_util.tree_map_with_path(rule, params)


def state_shardings(mesh: Mesh, state: Any, params_field: str = "params") -> Any:
    """Shardings for a training state: the parameters' own, the same for optimizer moments that
    mirror them (matched by path suffix), replicated for everything else (step counters, keys)."""
    params = getattr(state, params_field)
    by_path = {
        _path_key(path): sharding
        for path, sharding in jax.tree_util.tree_flatten_with_path(parameter_shardings(mesh, params))[0]
    }

    def choose(path, _) -> NamedSharding:
        key = _path_key(path)
        for param_path, sharding in by_path.items():
            if key[-len(param_path) :] == param_path:
                return sharding
        return replicated(mesh)

    return jax.tree_util.tree_map_with_path(choose, state)


def one_program_at_a_time(devices: Any) -> bool:
    """Whether programs spanning `devices` must each finish before the next is dispatched: several
    CPU devices (XLA's simulated ones share the host's threads, and collectives of programs in flight
    at once could each hold part of them and wait forever for the rest). Accelerators stay asynchronous."""
    devices = list(devices)
    return len(devices) > 1 and all(device.platform == "cpu" for device in devices)


def _path_key(path) -> tuple[str, ...]:
    return tuple(str(getattr(key, "key", getattr(key, "idx", getattr(key, "name", key)))) for key in path)
