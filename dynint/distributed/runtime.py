"""Several processes (one per host) training one model, on JAX's own distributed runtime.

`jax.distributed.initialize` connects the processes; the mesh then spans every process's
devices. Each process builds the same batches (they are a pure function of seed and epoch) and
transfers only its share of each to its own devices (`global_batch`). Every process evaluates
the full model (`host_copy` gathers parameters sharded across processes), and only the primary
process (index 0) writes run files; orbax saves and restores sharded checkpoints with all
processes taking part.

The settings come from the `distributed` section of a config, else from the environment:
`JAX_COORDINATOR_ADDRESS` (host:port of process 0), `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`.
Left unset on a cluster JAX recognises (SLURM, Open MPI, Cloud TPU), JAX detects them itself
when `distributed.enabled` is true.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from dynint.distributed.config import DistributedConfig
from dynint.errors import ConfigError
from dynint.io import set_writes_files


def initialize(config: DistributedConfig) -> None:
    """Join the other processes of a multi-process run (once per process; nothing for one process)."""
    settings = config.resolved()
    if not settings.enabled or jax.distributed.is_initialized():
        return
    try:
        jax.distributed.initialize(
            coordinator_address=settings.coordinator_address,
            num_processes=settings.num_processes,
            process_id=settings.process_id,
        )
    except (RuntimeError, ValueError) as error:
        raise ConfigError(f"distributed: cannot join the other processes ({error})") from error
    set_writes_files(is_primary())


def is_primary() -> bool:
    """Whether this process writes the run's files (process 0; the only one without distribution)."""
    return jax.process_index() == 0


def host_copy(tree: Any) -> Any:
    """`tree` as numpy arrays on this host; arrays sharded across processes are gathered first."""

    def copy(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and not leaf.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return np.array(leaf)

    return jax.tree.map(copy, tree)


def global_batch(batch: Any, sharding: Any) -> Any:
    """`batch` (the same host arrays in every process) as arrays laid out by `sharding` over the
    mesh; each process transfers only the slices its own devices hold. One process: unchanged
    (the compiled step places it)."""
    if jax.process_count() == 1:
        return batch

    def place(array: Any) -> Any:
        if array is None:
            return None
        array = np.asarray(array)
        return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])

    return jax.tree.map(place, batch)


def same_on_every_process(metrics: dict[str, float]) -> dict[str, float]:
    """Process 0's `metrics` in every process. Each process evaluates the model itself, and float
    sums may round differently from one to another; decisions taken on metrics (the best epoch,
    its checkpoint, early stopping) must be the same everywhere, or one process waits forever in a
    save or step the others skip. One process: `metrics` unchanged."""
    if jax.process_count() == 1 or not metrics:
        return metrics
    shared = multihost_utils.broadcast_one_to_all(jax.tree.map(lambda value: np.asarray(value, np.float64), metrics))
    return jax.tree.map(lambda value: float(np.asarray(value)), shared)


def barrier(name: str) -> None:
    """Wait until every process reaches `name` (nothing for one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
