"""ItemKNN speed and memory: fit plus full-ranking test evaluation, by the same protocol code
(`dynint.runner.evaluate_baseline`) as every table row.

Each data set runs in a fresh process, since peak RSS is a per-process high-water mark; each
time is the minimum over `--repeats` runs, since other jobs may share the cores. The reference
is RecBole 1.2.1's ItemKNN on amazon-beauty: 36 s end to end, 3.0 GB peak memory, 2 cores.
`--synthetic-items 100000` also fits on a random catalog of that size to show memory stays
bounded (blockwise similarity, top-k neighbours per item).

Run: python benchmarks/itemknn_speed.py [--repeats 3] [--synthetic-items 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("amazon-beauty", "amazon-sports")
RECBOLE = {"amazon-beauty": {"end_to_end_s": 36.0, "peak_rss_gb": 3.0}}
TARGET_S = {"amazon-beauty": 20.0, "amazon-sports": 40.0}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def measure_dataset(dataset: str, repeats: int, data_dir: str | None) -> dict:
    from baselines.base import FitData
    from baselines.itemknn import ItemKNN
    from dynint.config.loader import load_config
    from dynint.data.prepared import prepare_data
    from dynint.runner import evaluate_baseline

    tuned = REPO_ROOT / "experiments" / "seq-full-ranking" / f"itemknn-{dataset}.yaml"
    config_path = tuned if tuned.exists() else REPO_ROOT / "experiments" / "seq-full-ranking" / "itemknn.yaml"
    config = load_config(config_path, [f"data.name={dataset}"])
    started = time.perf_counter()
    data = prepare_data(config, data_dir)
    load_s = time.perf_counter() - started
    rss_after_load = peak_rss_gb()
    fit_times, eval_times, metrics = [], [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        fit_data = FitData.for_stage(data.split, "test", data.interactions.item_features)
        model = ItemKNN(config.model).fit(fit_data)
        fitted = time.perf_counter()
        metrics = evaluate_baseline(model, fit_data, data.split.test, config.eval, progress=False)
        fit_times.append(fitted - started)
        eval_times.append(time.perf_counter() - fitted)
        del model
    totals = [f + e for f, e in zip(fit_times, eval_times, strict=True)]
    return {
        "dataset": dataset,
        "config": str(config_path.relative_to(REPO_ROOT)),
        "load_s": load_s,
        "fit_s": min(fit_times),
        "test_eval_s": min(eval_times),
        "fit_plus_test_eval_s": min(totals),
        "end_to_end_s": load_s + min(totals),
        "peak_rss_gb": peak_rss_gb(),
        "rss_after_load_gb": rss_after_load,
        "test_NDCG@10": metrics["NDCG@10"],
        "test_eval_rows": len(data.split.test),
    }


def measure_synthetic(num_items: int, num_users: int, mean_length: int, seed: int) -> dict:
    """Fit ItemKNN on random histories over `num_items` items with Zipf-like popularity."""
    import numpy as np

    from baselines.base import FitData
    from baselines.itemknn import ItemKNN, ItemKNNConfig
    from dynint.data.ragged import Ragged

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, num_items + 1) ** 0.8
    lengths = rng.poisson(mean_length - 2, size=num_users) + 2
    items = rng.choice(np.arange(1, num_items + 1), size=int(lengths.sum()), p=popularity / popularity.sum())
    data = FitData(Ragged.from_lengths(items, lengths), num_users, num_items)
    rss_before = peak_rss_gb()
    started = time.perf_counter()
    model = ItemKNN(ItemKNNConfig(neighbors=100, shrink=10.0)).fit(data)
    return {
        "dataset": f"synthetic: {num_items} items, {num_users} users, {int(lengths.sum())} events",
        "fit_s": time.perf_counter() - started,
        "similarity_nnz": int(model.similarity.nnz),
        "peak_rss_gb": peak_rss_gb(),
        "rss_before_fit_gb": rss_before,
    }


def run_child(arguments: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", *arguments]
    out = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--synthetic-items", type=int, default=0, help="also fit on a random catalog this large")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "synthetic":
            result = measure_synthetic(*(int(v) for v in rest))
        else:
            result = measure_dataset(kind, args.repeats, args.data_dir)
        print(json.dumps(result))
        return 0

    print(f"ItemKNN, minimum of {args.repeats} runs (fit on train+valid events, full ranking of the test rows)")
    header = "| data set | load s | fit s | test eval s | fit + test eval s | target s | end to end s | peak RSS GB |"
    header += " test NDCG@10 | vs RecBole 1.2.1 (36 s, 3.0 GB) |"
    print(header)
    print("|" + " --- |" * 10)
    for dataset in filter(None, args.datasets.split(",")):
        extra = ["--data-dir", args.data_dir] if args.data_dir else []
        r = run_child([dataset, "--repeats", str(args.repeats), *extra])
        reference = RECBOLE.get(dataset)
        versus = "–"
        if reference:
            time_ratio = r["end_to_end_s"] / reference["end_to_end_s"]
            memory_ratio = r["peak_rss_gb"] / reference["peak_rss_gb"]
            versus = f"{time_ratio:.2f}x time, {memory_ratio:.2f}x memory"
        print(
            f"| {dataset} | {r['load_s']:.2f} | {r['fit_s']:.2f} | {r['test_eval_s']:.2f} | "
            f"{r['fit_plus_test_eval_s']:.2f} | < {TARGET_S[dataset]:.0f} | {r['end_to_end_s']:.2f} | "
            f"{r['peak_rss_gb']:.2f} | {r['test_NDCG@10']:.4f} | {versus} |"
        )
    if args.synthetic_items:
        r = run_child(["synthetic", str(args.synthetic_items), str(5 * args.synthetic_items), "10", "0"])
        print(
            f"\n{r['dataset']}: fit {r['fit_s']:.1f} s, {r['similarity_nnz']} similarity entries, "
            f"peak RSS {r['peak_rss_gb']:.2f} GB ({r['rss_before_fit_gb']:.2f} GB before fitting)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
