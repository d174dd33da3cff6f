"""SASRec training and validation speed on amazon-beauty, against RecBole 1.2.1's figures.

RecBole's SASRec (cross-entropy, max length 50, 2 layers, 2 heads, hidden 64, inner 256,
batch 256) took 108 s per training epoch, 11.7 s per full-ranking validation pass and
2.3 GB peak memory on the 2-core CPU machine this project is developed on.

Run: python benchmarks/sasrec_speed.py [--data-dir ../shared/data] [--epochs 4]
The first epoch includes compilation; the steady-state figures are the minimum over the later
epochs (other processes on the machine only ever make a measurement slower).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.runner import run_experiment

RECBOLE = {"epoch_s": 108.0, "valid_s": 11.7, "peak_memory_gb": 2.3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output_dir:
        config = parse_config(
            {
                "name": "sasrec-speed",
                "output_dir": output_dir,
                "data": {"name": args.dataset, "data_dir": args.data_dir},
                "model": {
                    "name": "sasrec",
                    "loss": "ce",
                    "hidden_size": 64,
                    "num_layers": 2,
                    "num_heads": 2,
                    "inner_size": 256,
                    "dropout": 0.2,
                },
                "train": {
                    "batch_size": 256,
                    "max_length": 50,
                    "max_epochs": args.epochs,
                    "patience": args.epochs,
                    "checkpoint": False,
                },
            }
        )
        started = time.perf_counter()
        data = prepare_data(config)
        load_time = time.perf_counter() - started
        result = run_experiment(config, data=data, progress=False)
        log = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [entry for entry in log if "epoch" in entry and "stage" not in entry]
    steady = epochs[1:] or epochs
    epoch_s = min(e["train_time_s"] for e in steady)
    valid_s = min(e["valid_time_s"] for e in steady)
    examples_per_s = max(e["examples_per_s"] for e in steady)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    rows = [
        ("training epoch", f"{epoch_s:.1f} s", epoch_s / RECBOLE["epoch_s"]),
        ("validation pass", f"{valid_s:.2f} s", valid_s / RECBOLE["valid_s"]),
        ("peak memory", f"{peak_gb:.2f} GB", peak_gb / RECBOLE["peak_memory_gb"]),
    ]
    print(f"{args.dataset}: {epochs[-1]['examples']} training positions per epoch, data loaded in {load_time:.1f} s")
    first = epochs[0]
    print(f"first epoch (with compilation): {first['train_time_s']:.1f} s train, {first['valid_time_s']:.1f} s valid")
    print(f"examples (positions) per second: {examples_per_s:.0f}")
    print(f"{'':16} {'dynint':>10} {'/ RecBole':>10}")
    for name, value, ratio in rows:
        print(f"{name:16} {value:>10} {ratio:>10.3f}")
    print(f"valid NDCG@10 after {len(epochs)} epochs: {epochs[-1]['valid']['NDCG@10']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
