"""Train-step time and activation memory of dense SASRec versus sparse SASRec on long histories.

Both models have the same batch, width and depth (hidden 64, 2 layers, 2 heads, inner 256) and
train through the engine's own step (`dynint.train.step`: loss, gradient, Adam update, state
donated). The histories come from the synthetic drifting-interest generator, every user exactly
`L + 1` events long, so each of the `B * L` positions predicts its next item. The loss is
SASRec's BCE with one sampled negative per position: a full softmax over the catalogue costs the
two models the same and would only dilute the comparison of their encoders. Attention-weight
dropout is off for both (the fused GPU kernel has none); the other dropout sites stay at 0.2.

What is measured, per model and length, in one process:
- step time: the median wall time of `--steps` compiled train steps after one warm-up step;
- activation memory: `temp_size_in_bytes` of the compiled step's `memory_analysis()`, i.e. the
  scratch buffers XLA allocates for intermediates (activations kept for the backward pass and
  the gradients' temporaries), excluding the parameters, optimizer state and batch.
A model whose step needs more memory (scratch plus arguments) than the budget (`--memory-budget-gb`;
by default 80% of the accelerator's memory, or of the host's available memory on CPU) is recorded
as not fitting without being run, and one that fails to compile or run (e.g. out of memory on a
GPU) is recorded with its error. Ratios are dense over sparse, measured in the same process.

Writes `results/sparse_attention_speed_BACKEND.csv`, `.provenance.json` (commit, versions, machine,
date, command, load average) and `.png` (the plot needs matplotlib:
`python3 -m pip install -e '.[bench]'`; without it only the CSV is written).

Run: python benchmarks/sparse_attention_speed.py [--lengths 128 512 2048 8192] [--batch-size 8]
     [--window 64] [--stride 0] [--num-global 0] [--steps 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from dynint.data.synthetic import SyntheticConfig, generate_drifting_interactions
from dynint.io import write_json_atomic, write_text_atomic
from dynint.models import MODELS
from dynint.models.sparse_attention import AttentionPattern
from dynint.plotting import pyplot_or_none, save_figure
from dynint.provenance import REPO_ROOT, provenance
from dynint.train import sharding
from dynint.train.batching import TrainBatch
from dynint.train.config import TrainConfig
from dynint.train.optim import make_optimizer
from dynint.train.state import init_guard, init_state, split_model
from dynint.train.step import make_train_step, sequence_loss_fn

NUM_ITEMS = 2000
SIZES = {
    "hidden_size": 64,
    "num_layers": 2,
    "num_heads": 2,
    "inner_size": 256,
    "dropout": 0.2,
    "attention_dropout": 0.0,
    "loss": "bce",
}
FIELDS = ("backend", "device", "model", "length", "batch_size", "status", "step_ms", "activation_mb")


@dataclass
class Measurement:
    model: str
    length: int
    status: str  # "ok", "does not fit" or "failed: ..."
    step_ms: float | None = None
    activation_mb: float | None = None


def synthetic_batch(length: int, batch_size: int, seed: int = 0) -> TrainBatch:
    """`batch_size` synthetic histories of `length + 1` events: inputs and next-item targets."""
    config = SyntheticConfig(
        num_users=batch_size,
        num_items=NUM_ITEMS,
        sequence_length=length + 1,
        min_length=length + 1,
        seed=seed,
    )
    interactions, _ = generate_drifting_interactions(config)
    order = np.lexsort((interactions.timestamp, interactions.user))
    events = interactions.item[order].reshape(batch_size, length + 1).astype(np.int32)
    tokens = batch_size * length
    return TrainBatch(
        inputs=events[:, :-1],
        token_index=np.arange(tokens, dtype=np.int32),
        token_target=events[:, 1:].reshape(-1),
        token_weight=np.ones(tokens, np.float32),
    )


def memory_budget(requested_gb: float | None) -> float:
    """Bytes a step may use: the request, else 80% of the device's (or on CPU the host's available) memory."""
    if requested_gb is not None:
        return requested_gb * 1e9
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return 0.8 * stats["bytes_limit"]
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return 0.8 * int(line.split()[1]) * 1024
    return float("inf")


def measure(name: str, model_config, batch: TrainBatch, steps: int, budget: float) -> Measurement:
    length = batch.inputs.shape[1]
    try:
        model = MODELS[name][1](model_config, NUM_ITEMS, length, rngs=nnx.Rngs(params=0))
        graphdef, params = split_model(model)
        optimizer = make_optimizer(TrainConfig(), total_steps=steps + 1)
        mesh = sharding.make_mesh(1)
        state = init_state(params, optimizer, jax.random.key(0))
        shardings = sharding.state_shardings(mesh, state)
        state = jax.device_put(state, shardings)
        step = make_train_step(sequence_loss_fn(graphdef, model_config), optimizer, mesh, shardings)
        guard = init_guard()
        compiled = step.lower(state, guard, batch).compile()
        memory = compiled.memory_analysis()
        activation = memory.temp_size_in_bytes
        needed = activation + memory.argument_size_in_bytes
        if needed > budget:
            return Measurement(name, length, "does not fit", activation_mb=activation / 1e6)
        device_batch = jax.device_put(batch, sharding.batch_sharding(mesh))
        state, guard, outputs = compiled(state, guard, device_batch)  # warm-up
        jax.block_until_ready(outputs)
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            state, guard, outputs = compiled(state, guard, device_batch)
            jax.block_until_ready(outputs)
            times.append(time.perf_counter() - started)
    except Exception as error:  # out of memory (XlaRuntimeError RESOURCE_EXHAUSTED, MemoryError) or a kernel refusal
        return Measurement(name, length, f"failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
    return Measurement(name, length, "ok", 1000 * statistics.median(times), activation / 1e6)


def describe(measurement: Measurement) -> str:
    if measurement.status == "ok":
        return f"{measurement.step_ms:.1f} ms, {measurement.activation_mb:.1f} MB"
    if measurement.activation_mb is not None:
        return f"{measurement.status} ({measurement.activation_mb:.1f} MB of activations)"
    return measurement.status


def plot(rows: list[Measurement], path: Path, title: str) -> bool:
    plt = pyplot_or_none()
    if plt is None:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, marker in (("sasrec", "o"), ("sparse-sasrec", "s")):
        ok = [r for r in rows if r.model == name and r.status == "ok"]
        axes[0].plot([r.length for r in ok], [r.step_ms for r in ok], marker=marker, label=name)
        axes[1].plot([r.length for r in ok], [r.activation_mb for r in ok], marker=marker, label=name)
        for r in rows:
            if r.model == name and r.status != "ok":
                for axis in axes:
                    axis.axvline(r.length, color="grey", linestyle=":", label=f"{name} does not fit at {r.length}")
    for axis, label in zip(axes, ("train step (ms)", "activation memory (MB)"), strict=True):
        axis.set(xscale="log", yscale="log", xlabel="history length L", ylabel=label)
        axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048, 8192])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--stride", type=int, default=0)
    parser.add_argument("--num-global", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--memory-budget-gb", type=float, default=None)
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "results")
    args = parser.parse_args()
    pattern = AttentionPattern(window=args.window, stride=args.stride, num_global=args.num_global)
    configs = {
        "sasrec": MODELS["sasrec"][0](**SIZES),
        "sparse-sasrec": MODELS["sparse-sasrec"][0](**SIZES, attention=pattern),
    }
    backend, device = jax.default_backend(), jax.devices()[0].device_kind
    budget = memory_budget(args.memory_budget_gb)
    print(f"{backend} ({device}), batch {args.batch_size}, {pattern}, memory budget {budget / 1e9:.1f} GB")
    rows: list[Measurement] = []
    for length in args.lengths:
        batch = synthetic_batch(length, args.batch_size)
        measured = {name: measure(name, config, batch, args.steps, budget) for name, config in configs.items()}
        rows.extend(measured.values())
        dense, sparse = measured["sasrec"], measured["sparse-sasrec"]
        line = f"L={length:>5}  " + "  ".join(f"{m.model}: {describe(m)}" for m in (dense, sparse))
        if dense.status == sparse.status == "ok":
            line += (
                f"  | dense/sparse: time {dense.step_ms / sparse.step_ms:.2f}x, "
                f"memory {dense.activation_mb / sparse.activation_mb:.2f}x"
            )
        print(line, flush=True)
    stem = args.output_dir / f"sparse_attention_speed_{backend}"
    handle = io.StringIO()
    writer = csv.writer(handle)
    writer.writerow([*FIELDS, "window", "stride", "num_global", "dense_over_sparse_time", "dense_over_sparse_memory"])
    for row in rows:
        dense = next(r for r in rows if r.length == row.length and r.model == "sasrec")
        both = row.status == dense.status == "ok"
        writer.writerow(
            [
                backend,
                device,
                row.model,
                row.length,
                args.batch_size,
                row.status,
                "" if row.step_ms is None else f"{row.step_ms:.2f}",
                "" if row.activation_mb is None else f"{row.activation_mb:.2f}",
                args.window,
                args.stride,
                args.num_global,
                f"{dense.step_ms / row.step_ms:.3f}" if both else "",
                f"{dense.activation_mb / row.activation_mb:.3f}" if both else "",
            ]
        )
    recorded = provenance()  # before this run's outputs change tracked files (which would read as -dirty)
    write_text_atomic(stem.with_suffix(".csv"), handle.getvalue())
    record = {"command": " ".join(sys.argv), "load_average_at_end": list(os.getloadavg()), **recorded}
    write_json_atomic(stem.with_suffix(".provenance.json"), record)
    print(f"wrote {stem.with_suffix('.csv')} and its provenance")
    title = f"dense vs sparse SASRec train step, {backend} ({device}), batch {args.batch_size}, window {args.window}"
    if plot(rows, stem.with_suffix(".png"), title):
        print(f"wrote {stem.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
