"""SASRec training and validation speed on amazon-beauty, with ratios against a peer's figures.

Machines differ by 2x or more from one to the next, so the ratios are only meaningful against
a peer measured on the same machine minutes before: `benchmarks/peers/recbole_sasrec.py` runs
RecBole 1.2.1's SASRec, writes its figures to a JSON file and then runs this script with
`--peer FILE`. Without `--peer`, dynint's own figures are printed alone.

Run: python benchmarks/sasrec_speed.py [--data-dir ../shared/data] [--epochs 4] [--peer FILE]
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
from pathlib import Path

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.runner import run_experiment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--peer", help="a JSON file of a peer's epoch_s, valid_s and peak_rss_bytes on this machine")
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
    peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
    print(f"{args.dataset}: {epochs[-1]['examples']} training positions per epoch, data loaded in {load_time:.1f} s")
    first = epochs[0]
    print(f"first epoch (with compilation): {first['train_time_s']:.1f} s train, {first['valid_time_s']:.1f} s valid")
    print(f"examples (positions) per second: {examples_per_s:.0f}")
    ours = {"epoch_s": epoch_s, "valid_s": valid_s, "peak_rss_bytes": peak_bytes}
    peer = json.loads(Path(args.peer).read_text()) if args.peer else None
    name = peer.get("name", "peer") if peer else ""
    print(f"{'':16} {'dynint':>10}" + (f" {name:>10} {name + ' / dynint':>18}" if peer else ""))
    for label, key, unit, scale in (
        ("training epoch", "epoch_s", "s", 1.0),
        ("validation pass", "valid_s", "s", 1.0),
        ("peak memory", "peak_rss_bytes", "GB", 1e-9),
    ):
        line = f"{label:16} {ours[key] * scale:>8.2f} {unit}"
        if peer:
            line += f" {peer[key] * scale:>8.2f} {unit} {peer[key] / ours[key]:>17.1f}x"
        print(line)
    print(f"valid NDCG@10 after {len(epochs)} epochs: {epochs[-1]['valid']['NDCG@10']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
