"""DIEN training speed on amazon-beauty: length-bucketed CTR batches against every history padded to 50.

The issue's target: one DIEN training epoch (every training prefix with its positive and its
negative sample; history length 50, 18 per embedding field, batch 128) within 60 s on 2 CPU
cores. The reference path pads every history to 50, as CTR training did before bucketing;
Beauty's histories average about 8 items, so most of its GRU steps were padding.

Run: python benchmarks/dien_speed.py [--data-dir ../shared/data] [--fraction 0.1 | --full]
     [--reference-fraction 0.02] [--buckets 4,8,16,32] [overrides such as train.batch_size=256]

Each path first compiles its step once per batch shape (reported apart), then times the first
`--fraction` of an epoch's batches (the epoch's order is shuffled across buckets, so a prefix of
it is a fair mix) and extrapolates to the whole epoch; `--full` times every batch of the epoch.
Other processes on the machine only ever make a measurement slower: the script prints the load
average so that a loaded measurement can be read as such.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from dynint.components import get_model_entry
from dynint.config import load_config
from dynint.data.prepared import prepare_data
from dynint.train import sharding
from dynint.train.ctr_batches import CTRBatcher, predict_logits
from dynint.train.ctr_experiment import build_ctr_run_data, ctr_loss_fn
from dynint.train.experiment import run_key
from dynint.train.optim import make_optimizer
from dynint.train.state import init_guard, init_state, split_model
from dynint.train.step import make_train_step

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "ctr-auc" / "dien.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of the bucketed epoch to time")
    parser.add_argument("--reference-fraction", type=float, default=0.02, help="share of the padded epoch to time")
    parser.add_argument("--full", action="store_true", help="time the whole bucketed epoch")
    parser.add_argument("--buckets", default=None, help="bucket lengths below 50 (default: the config's)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.batch_size=256")
    args = parser.parse_args()
    overrides = [f"data.name={args.dataset}", f"data.data_dir={args.data_dir}", *args.overrides]
    if args.buckets:
        overrides.append(f"train.bucket_lengths=[{args.buckets}]")
    config = load_config(CONFIG, overrides)
    train = config.train

    started = time.perf_counter()
    ctr_data = build_ctr_run_data(config, prepare_data(config))
    print(
        f"{args.dataset}: {len(ctr_data.train)} training samples, data built in {time.perf_counter() - started:.1f} s"
    )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    model = get_model_entry(config.model.name).build(
        config.model, ctr_data.num_items, train.max_length, ctr_data.feature_sizes, rngs=nnx.Rngs(params=run_key(0, 0))
    )
    graphdef, params = split_model(model)
    fraction = 1.0 if args.full else args.fraction
    bucketed = _time_epoch(graphdef, params, config, CTRBatcher(ctr_data, train.batch_size, train.buckets), fraction)
    valid = _time_validation(graphdef, params, config, ctr_data, train.buckets)
    rows = [("bucketed " + str(list(train.buckets)), bucketed, valid)]
    if not args.skip_reference:
        reference = _time_epoch(
            graphdef, params, config, CTRBatcher(ctr_data, train.batch_size), args.reference_fraction
        )
        rows.append(("padded to 50", reference, _time_validation(graphdef, params, config, ctr_data, None)))

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    print(f"{'':40} {'epoch s':>9} {'cpu s':>7} {'examples/s':>11} {'compile s':>10} {'valid s':>8} {'timed':>7}")
    for name, epoch, valid_s in rows:
        timed = "full" if epoch["fraction"] >= 1.0 else f"{epoch['fraction']:.0%}"
        print(
            f"{name:40} {epoch['epoch_s']:9.1f} {epoch['epoch_cpu_s']:7.1f} {epoch['examples_per_s']:11.0f} "
            f"{epoch['compile_s']:10.1f} "
            f"{valid_s:8.2f} {timed:>7}"
        )
    if len(rows) == 2:
        print(f"epoch time, bucketed / padded: {rows[0][1]['epoch_s'] / rows[1][1]['epoch_s']:.3f}")
        print(f"validation pass, bucketed / padded: {rows[0][2] / rows[1][2]:.3f}")
    print(f"peak memory (process): {peak_gb:.2f} GB")
    print("epoch s is extrapolated from the timed share of the epoch unless 'timed' says full")
    print("cpu s: this process's CPU seconds for that epoch (all threads); on a loaded machine it estimates")
    print("the unloaded epoch time better than the wall clock, which also counts time spent waiting for a core")
    return 0


def _time_epoch(graphdef, params, config, batcher: CTRBatcher, fraction: float) -> dict[str, float]:
    """Compile the step for every batch shape of the epoch (timed apart), then time the first
    `fraction` of the epoch's batches and extrapolate to all of them."""
    train = config.train
    mesh = sharding.make_mesh(train.num_devices)
    optimizer = make_optimizer(train, batcher.num_batches(config.seed, 1) * train.max_epochs)
    state = init_state(jax.tree.map(np.array, params), optimizer, run_key(config.seed, 1))
    shardings = sharding.state_shardings(mesh, state)
    state = jax.device_put(state, shardings)
    step = make_train_step(ctr_loss_fn(graphdef), optimizer, mesh, shardings)
    batches = batcher.epoch(config.seed, 1)
    guard = init_guard()
    started = time.perf_counter()
    for length in batcher.buckets:
        first = next(i for i, (bucket_length, _) in enumerate(batches.plan) if bucket_length == length)
        state, guard, outputs = step(state, guard, batches[first])
    jax.block_until_ready(outputs)
    compile_s = time.perf_counter() - started
    count = max(1, min(len(batches), round(fraction * len(batches))))
    examples = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(count):
        batch = batches[i]
        state, guard, outputs = step(state, guard, batch)
        examples += len(batch.labels)
    jax.block_until_ready(outputs)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "epoch_s": elapsed * len(batches) / count,
        "epoch_cpu_s": cpu * len(batches) / count,
        "examples_per_s": examples / elapsed,
        "compile_s": compile_s,
        "fraction": count / len(batches),
    }


def _time_validation(graphdef, params, config, ctr_data, buckets) -> float:
    """Seconds for one prediction pass over the validation samples (after a first, compiling pass)."""
    predict_logits(graphdef, params, ctr_data, "valid", config.ctr.batch_size, buckets)
    started = time.perf_counter()
    predict_logits(graphdef, params, ctr_data, "valid", config.ctr.batch_size, buckets)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
