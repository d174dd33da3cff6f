"""ItemKNN under the streaming protocol: an incremental update against a refit, window by window.

The log is cut into windows (`dynint.temporal`); before each later window the model learns the
events so far, either refitted from scratch (`ItemKNN.fit`) or updated with the new window's
events (`IncrementalItemKNN.update`). Both give the same similarity matrix (checked here entry
for entry); the benchmark reports each one's wall time per window and the ratio, and writes
`results/itemknn_incremental_speed_cpu.{csv,png,provenance.json}`.

Run: python benchmarks/itemknn_incremental_speed.py [--data-dir ../shared/data] [--dataset ml-100k] [--windows 10]
     python benchmarks/itemknn_incremental_speed.py --dataset synthetic --windows 40 \
         --synthetic num_users=40000 num_items=40000 num_clusters=2000 sequence_length=12
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from baselines.base import FitData
from baselines.itemknn import ItemKNN
from baselines.itemknn_incremental import IncrementalItemKNN
from dynint.config import load_config
from dynint.data.registry import load_dataset
from dynint.data.synthetic import SyntheticConfig, generate_drifting_interactions
from dynint.io import write_json_atomic, write_text_atomic
from dynint.plotting import pyplot_or_none, save_figure
from dynint.provenance import REPO_ROOT, provenance
from dynint.temporal.baseline_learner import stream_fit_data
from dynint.temporal.config import TemporalConfig
from dynint.temporal.windows import TemporalStream, temporal_stream

TUNED = load_config(REPO_ROOT / "experiments" / "temporal" / "itemknn.yaml").model  # tuned on ml-100k


def fit_data(stream: TemporalStream, window: int) -> FitData:
    return stream_fit_data(stream, *stream.visible_before(window))


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def measure(stream: TemporalStream, repeats: int) -> list[dict]:
    incremental = IncrementalItemKNN(TUNED).fit(fit_data(stream, 1))
    rows = []
    for window in range(2, stream.num_windows):
        data = fit_data(stream, window)
        update_s = timed(lambda data=data: incremental.update(data))[1]
        refit_s = []
        for _ in range(repeats):
            refitted, seconds = timed(lambda data=data: ItemKNN(TUNED).fit(data))
            refit_s.append(seconds)
        if (incremental.similarity != refitted.similarity).nnz:
            raise AssertionError(f"window {window}: the incremental similarity differs from the refit's")
        rows.append(
            {
                "window": window,
                "events_so_far": int(len(data.sequences.values)),
                "new_events": int(np.count_nonzero(stream.window == window - 1)),
                "refit_s": min(refit_s),
                "incremental_s": update_s,
                "ratio": update_s / min(refit_s),
            }
        )
        print(
            f"window {window}: {rows[-1]['events_so_far']} events ({rows[-1]['new_events']} new): refit "
            f"{rows[-1]['refit_s']:.2f} s, incremental {update_s:.2f} s, ratio {rows[-1]['ratio']:.2f}"
        )
    return rows


def plot(rows: list[dict], dataset: str, path: Path) -> bool:
    plt = pyplot_or_none()
    if plt is None:
        return False

    windows = [row["window"] for row in rows]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(windows, [row["refit_s"] for row in rows], marker="o", label="refit on every event so far")
    axis.plot(windows, [row["incremental_s"] for row in rows], marker="s", label="incremental update")
    axis.set_xlabel("window updated for")
    axis.set_ylabel("wall time (s)")
    axis.set_title(f"ItemKNN updates on {dataset} (2 CPU cores)")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="ml-100k", help="a registered data set with timestamps, or synthetic")
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="refits per window (the fastest is kept)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument(
        "--synthetic", nargs="*", default=[], help="data.synthetic overrides, e.g. num_items=20000 num_clusters=1000"
    )
    args = parser.parse_args()

    if args.dataset == "synthetic":
        settings = dict(setting.split("=", 1) for setting in args.synthetic)
        defaults = SyntheticConfig()
        config = SyntheticConfig(**{key: type(getattr(defaults, key))(value) for key, value in settings.items()})
        interactions, _ = generate_drifting_interactions(config)
    else:
        interactions = load_dataset(args.dataset, args.data_dir)
    stream = temporal_stream(interactions, TemporalConfig(num_windows=args.windows, cut="events"))
    rows = measure(stream, args.repeats)
    total_refit = sum(row["refit_s"] for row in rows)
    total_incremental = sum(row["incremental_s"] for row in rows)
    print(
        f"all {len(rows)} updates: refit {total_refit:.1f} s, incremental {total_incremental:.1f} s, "
        f"ratio {total_incremental / total_refit:.2f}"
    )
    results = Path(args.results_dir)
    stem = f"itemknn_incremental_speed_cpu_{args.dataset}" + ("_large" if args.synthetic else "")
    lines = [",".join(rows[0])] + [",".join(str(row[key]) for key in rows[0]) for row in rows]
    recorded = provenance()  # before this run's outputs change tracked files (which would read as -dirty)
    write_text_atomic(results / f"{stem}.csv", "\n".join(lines) + "\n")
    plot(rows, args.dataset, results / f"{stem}.png")
    write_json_atomic(
        results / f"{stem}.provenance.json",
        {
            **recorded,
            "command": f"python benchmarks/itemknn_incremental_speed.py --dataset {args.dataset} "
            f"--windows {args.windows} --repeats {args.repeats}"
            + (f" --synthetic {' '.join(args.synthetic)}" if args.synthetic else ""),
            "config": {"itemknn": str(TUNED), "windows": args.windows, "cut": "events"},
            "total_refit_s": total_refit,
            "total_incremental_s": total_incremental,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
