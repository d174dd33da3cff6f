"""SASRec as the catalogue grows: training throughput, full-ranking time and memory per device.

Synthetic logs whose catalogue holds exactly `--items` items (every item has events) and at
least `--events` training events (users of `--length` events each) train SASRec for one epoch
through dynint's own training path (`train_and_evaluate`: batching, compiled step, validation
by full ranking of every user's validation target against the whole catalogue, seen items
excluded, then the test pass). Each configuration runs in a process of its own, since a
process's device count is fixed when JAX starts: 1 device, and 8 devices with the item table
split 8 ways over the `model` axis (`train.model_parallelism=8`; on a CPU machine 8 simulated
devices sharing its cores, so their times show overhead, not speed-up).

Measured, not estimated: at the end of the epoch the bytes of every live array on each device
(`jax.live_arrays()`, shard by shard; the item table with its Adam moments counted apart), and
the process's peak resident memory. Times are wall clock; the epoch includes compilation.

The item ids are drawn so that the catalogue is covered (a permutation of it, then draws near
each user's own region of ids): the data set exists to have this shape, not to be learned, so
its metrics are not reported. The loss defaults to sampled softmax (`--negatives` per position):
a full softmax over 10^6 items costs about 10^12 multiply-adds per batch, hours per epoch on two
CPU cores; `--loss ce` measures it where a machine allows.

Run: python benchmarks/scale.py [--items 100000,1000000] [--events 1000000] [--devices 1,8]
     [--sharded-events N] (the multi-device runs' events: 8 simulated devices share 2 cores here)
     [--skip ITEMSxDEVICES,...] (configurations to leave out)
Writes results/scale_{platform}.{csv,png,provenance.json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_FIELDS = (
    "items",
    "devices",
    "model_parallelism",
    "loss",
    "users",
    "train_events",
    "epoch_s",
    "events_per_s",
    "valid_s",
    "test_s",
    "valid_users",
    "table_rows",
    "item_table_bytes_per_device",
    "live_bytes_per_device",
    "peak_rss_bytes",
)


def synthetic_log(num_items: int, min_events: int, length: int, seed: int = 0):
    """Users of `length` events over exactly `num_items` items: the log starts with a permutation
    of the catalogue, the rest are drawn within 2,000 ids of each user's own region."""
    import numpy as np

    from dynint.data.interactions import Interactions

    rng = np.random.default_rng(seed)
    # A user's last 2 events are validation and test targets; of the rest, all but the first are training targets.
    users = max(-(-min_events // (length - 3)), -(-num_items // length))
    total = users * length
    region = rng.integers(0, num_items, size=users)
    items = (np.repeat(region, length) + rng.integers(0, 2000, size=total)) % num_items
    items[:num_items] = rng.permutation(num_items)
    user = np.repeat(np.arange(users), length)
    timestamp = np.tile(np.arange(length, dtype=np.float64), users)
    return Interactions.from_raw_ids(user, items + 1, timestamp, source="synthetic-scale")


def live_bytes_per_device(table_rows: int) -> tuple[int, int]:
    """The largest, over devices, of the bytes of every live array and of the item tables
    (arrays with `table_rows` rows: the table and its optimizer moments) held on one device."""
    import jax

    every, tables = {}, {}
    for array in jax.live_arrays():
        is_table = array.ndim >= 1 and array.shape[0] == table_rows
        for shard in array.addressable_shards:
            size = shard.data.nbytes
            every[shard.device] = every.get(shard.device, 0) + size
            if is_table:
                tables[shard.device] = tables.get(shard.device, 0) + size
    return max(every.values(), default=0), max(tables.values(), default=0)


def measure(args: argparse.Namespace) -> dict:
    """One configuration, in this process: one epoch, validation and test, and what it held."""
    import jax

    from dynint.config import parse_config
    from dynint.data.loading import make_split
    from dynint.data.prepared import PreparedData
    from dynint.train.experiment import train_and_evaluate

    if jax.device_count() < args.devices:
        raise SystemExit(f"--devices {args.devices}: only {jax.device_count()} devices")
    interactions = synthetic_log(args.items, args.events, args.length)
    model_parallelism = args.devices if args.devices > 1 else 1
    with tempfile.TemporaryDirectory() as output_dir:
        config = parse_config(
            {
                "name": "scale",
                "output_dir": output_dir,
                "data": {"name": "synthetic"},
                "split": {"kind": "leave-one-out"},
                "eval": {"kind": "full", "ks": [10], "exclude_seen": True},
                "model": {
                    "name": "sasrec",
                    "loss": args.loss,
                    "num_negatives": args.negatives,
                    "hidden_size": 64,
                    "num_layers": 2,
                    "num_heads": 2,
                    "inner_size": 256,
                    "dropout": 0.2,
                },
                "train": {
                    "batch_size": 256,
                    "max_length": args.length,
                    "max_epochs": 1,
                    "patience": 1,
                    "checkpoint": False,
                    "eval_batch_size": 256,
                    "num_devices": args.devices,
                    "model_parallelism": model_parallelism,
                },
            }
        )
        data = PreparedData(interactions, make_split(interactions, config.split))
        table_rows = -(-(data.split.num_items + 1) // model_parallelism) * model_parallelism
        held: dict[str, int] = {}

        def at_epoch_end(_: int) -> None:
            held["live"], held["tables"] = live_bytes_per_device(table_rows)

        run_dir = Path(output_dir) / "run"
        run_dir.mkdir()
        started = time.perf_counter()
        train_and_evaluate(config, data, run_dir, progress=False, on_epoch_end=at_epoch_end)
        total_s = time.perf_counter() - started
        log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epoch = next(entry for entry in log if "train_time_s" in entry)
    test_s = total_s - epoch["train_time_s"] - epoch["valid_time_s"]
    return {
        "items": data.split.num_items,
        "devices": args.devices,
        "model_parallelism": model_parallelism,
        "loss": args.loss,
        "users": interactions.num_users,
        "train_events": epoch["examples"],
        "epoch_s": round(epoch["train_time_s"], 2),
        "events_per_s": round(epoch["examples"] / epoch["train_time_s"], 1),
        "valid_s": round(epoch["valid_time_s"], 2),
        "test_s": round(test_s, 2),  # the test pass and the run's remaining bookkeeping
        "valid_users": len(data.split.eval_set("valid")),
        "table_rows": table_rows,
        "item_table_bytes_per_device": held["tables"],
        "live_bytes_per_device": held["live"],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_configuration(args: argparse.Namespace, items: int, devices: int) -> dict:
    """`measure` in a fresh process with `devices` devices (simulated where the platform is the CPU)."""
    from dynint.train.compilation import CACHE_ENV

    environment = dict(os.environ)
    if devices > 1:
        environment["XLA_FLAGS"] = (
            environment.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={devices}"
            + " --xla_cpu_collective_timeout_seconds=1800 --xla_cpu_collective_call_terminate_timeout_seconds=1800"
        )
        environment[CACHE_ENV] = "0"  # collective programs read back from the compilation cache have hung here
    command = [
        sys.executable,
        __file__,
        "--worker",
        f"--items={items}",
        f"--devices={devices}",
        f"--events={args.events if devices == 1 else (args.sharded_events or args.events)}",
        f"--length={args.length}",
        f"--loss={args.loss}",
        f"--negatives={args.negatives}",
    ]
    for attempt in (1, 2):
        try:
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            # On simulated CPU devices a collective now and then waits forever for one of its 8
            # participants (an XLA CPU runtime hang, seen also in DIN's data-parallel step): retry once.
            print(f"  attempt {attempt} exceeded {args.timeout} s (a stuck collective?)", flush=True)
            continue
        if done.returncode != 0:
            raise SystemExit(f"{items} items on {devices} devices failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    raise SystemExit(f"{items} items on {devices} devices: both attempts exceeded {args.timeout} s")


def _write_rows(rows: list[dict], path: Path) -> None:
    from dynint.io import write_text_atomic

    lines = [",".join(_FIELDS)] + [",".join(str(row[field]) for field in _FIELDS) for row in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")


def plot(rows: list[dict], platform: str, path: Path) -> bool:
    from dynint.plotting import pyplot_or_none, save_figure

    plt = pyplot_or_none()
    if plt is None:
        return False
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for devices in sorted({row["devices"] for row in rows}):
        mine = sorted((row for row in rows if row["devices"] == devices), key=lambda row: row["items"])
        items = [row["items"] for row in mine]
        label = "1 device" if devices == 1 else f"{devices} devices, table split {devices} ways"
        axes[0].plot(items, [row["events_per_s"] for row in mine], marker="o", label=label)
        axes[1].plot(items, [row["valid_s"] for row in mine], marker="o", label=label)
        axes[2].plot(items, [row["item_table_bytes_per_device"] / 2**20 for row in mine], marker="o", label=label)
    titles = (
        "training events / s (epoch 1)",
        "full-ranking validation (s)",
        "item table + Adam moments per device (MiB)",
    )
    for axis, title in zip(axes, titles, strict=True):
        axis.set_xscale("log")
        axis.set_xlabel("catalogue (items)")
        axis.set_title(title, fontsize=10)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=8)
    figure.suptitle(f"SASRec ({rows[0]['loss']}) scaling on {platform}", fontsize=11)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="100000,1000000", help="comma-separated catalogue sizes")
    parser.add_argument("--devices", default="1,8", help="comma-separated device counts (above 1: model-parallel)")
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many training events")
    parser.add_argument(
        "--sharded-events", type=int, default=None, help="training events of the multi-device runs (default: --events)"
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds a configuration may take (one retry)")
    parser.add_argument("--length", type=int, default=50, help="events per user (and the model's max length)")
    parser.add_argument("--loss", default="sampled-softmax", choices=("sampled-softmax", "ce"))
    parser.add_argument("--negatives", type=int, default=256, help="sampled negatives per position")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated ITEMSxDEVICES configurations not to run (say 1000000x8, the longest on a small CPU)",
    )
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.items, args.devices = int(args.items), int(args.devices)
        print(json.dumps(measure(args)))
        return 0

    import jax

    from dynint.io import write_json_atomic
    from dynint.provenance import provenance

    platform = jax.devices()[0].platform
    results = Path(args.results_dir)
    stem = f"scale_{platform}"
    rows = []
    skipped = {value.strip() for value in args.skip.split(",") if value.strip()}
    for items in (int(value) for value in args.items.split(",")):
        for devices in (int(value) for value in args.devices.split(",")):
            if f"{items}x{devices}" in skipped:
                print(f"{items} items, {devices} device(s): skipped (--skip)", flush=True)
                continue
            print(f"{items} items, {devices} device(s) ...", flush=True)
            try:
                row = run_configuration(args, items, devices)
            except SystemExit as failure:  # the rows measured so far are kept (below), this one is reported
                print(f"  not measured: {failure}", flush=True)
                continue
            rows.append(row)
            _write_rows(rows, results / f"{stem}.partial.csv")  # survives a later configuration's failure
            print(
                f"  {row['train_events']} events in {row['epoch_s']} s ({row['events_per_s']:.0f}/s), "
                f"validation {row['valid_s']} s, item table {row['item_table_bytes_per_device'] / 2**20:.1f} MiB "
                f"per device, live {row['live_bytes_per_device'] / 2**20:.1f} MiB, "
                f"peak RSS {row['peak_rss_bytes'] / 2**30:.2f} GiB",
                flush=True,
            )
    for items in sorted({row["items"] for row in rows}):
        by_devices = {row["devices"]: row for row in rows if row["items"] == items}
        if 1 in by_devices and len(by_devices) > 1:
            one = by_devices[1]["item_table_bytes_per_device"]
            for devices, row in sorted(by_devices.items()):
                if devices > 1:
                    share = row["item_table_bytes_per_device"] / one
                    print(f"{items} items: item-table bytes per device on {devices} devices / 1 device = {share:.4f}")
    if not rows:
        raise SystemExit("no configuration was measured")
    recorded = provenance()  # before this run's outputs change tracked files (which would read as -dirty)
    _write_rows(rows, results / f"{stem}.csv")
    (results / f"{stem}.partial.csv").unlink(missing_ok=True)
    plot(rows, platform, results / f"{stem}.png")
    command = " ".join(["python benchmarks/scale.py", *sys.argv[1:]])
    write_json_atomic(
        results / f"{stem}.provenance.json",
        {**recorded, "command": command, "settings": {k: v for k, v in vars(args).items() if k != "worker"}},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
