"""Latency and throughput of an exported top-k function (`dynint export`), read with jax and numpy
only, as a serving system would: batch 1 and batch 256, histories drawn from the artefact's items.

Run: python benchmarks/export_latency.py OUT_DIR [--repeats 50]
Reports the median wall time per call (after one warm-up call, which compiles) and rows per second;
a ratio to compare with another machine or platform, not an absolute figure (the 2-core machine here
is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seen", type=int, default=50, help="items per request (history and exclusions)")
    args = parser.parse_args()
    out = Path(args.out_dir)
    exported = jax.export.deserialize(bytearray((out / "top_k.jax").read_bytes()))
    settings = json.loads((out / "serving.json").read_text())
    with np.load(out / "parameters.npz") as saved:
        leaves = [jax.numpy.asarray(saved[f"p{i}"]) for i in range(settings["parameters"])]
    num_items = len(json.loads((out / "items.json").read_text())) - 1
    rng = np.random.default_rng(0)
    print(
        f"{out}: {settings['model']} on {settings['dataset']}, {num_items} items, k={settings['k']}, {jax.devices()[0]}"
    )
    for batch in (1, 256):
        seen = rng.integers(1, num_items + 1, size=(batch, args.seen)).astype(np.int32)
        history = np.zeros((batch, settings["max_length"]), np.int32)
        width = min(args.seen, settings["max_length"])
        history[:, :width] = seen[:, -width:]
        exported.call(leaves, history, seen).block_until_ready()  # compiles
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            exported.call(leaves, history, seen).block_until_ready()
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"batch {batch:>3}: median {median * 1e3:8.2f} ms per call, {batch / median:10.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
