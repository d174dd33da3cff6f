"""`dynint runs compare RUN_DIR...`: several runs' curves in one figure and their best epochs."""

from __future__ import annotations

import argparse
from pathlib import Path

from dynint.errors import ConfigError


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("runs", help="look at finished or running runs")
    sub = parser.add_subparsers(dest="runs_command", required=True)
    compare = sub.add_parser("compare", help="plot several runs' curves together and tabulate their best epochs")
    compare.add_argument("run_dirs", nargs="+", help="run folders (runs/NAME/DATASET/seedN)")
    compare.add_argument("--metric", default="NDCG@10", help="the validation metric to plot and rank by")
    compare.add_argument("--out", default="compare.png", help="the PNG to write")
    compare.set_defaults(handler=compare_runs)


def compare_runs(args: argparse.Namespace) -> int:
    from dynint.observability.curves import best_epoch, epoch_entries, plot_runs

    runs = {}
    for run_dir in args.run_dirs:
        try:
            entries = epoch_entries(run_dir)
        except FileNotFoundError as error:
            raise ConfigError(str(error)) from None
        label = "/".join(Path(run_dir).resolve().parts[-3:])
        runs[label] = entries
    width = max(len(label) for label in runs)
    print(f"{'run':<{width}}  epochs  best epoch  best {args.metric}")
    for label, entries in runs.items():
        best = best_epoch(entries, args.metric)
        shown = f"{best[0]:>10}  {best[1]:.4f}" if best else f"{'-':>10}  -"
        print(f"{label:<{width}}  {len(entries):>6}  {shown}")
    if plot_runs(runs, args.metric, args.out):  # without matplotlib, pyplot_or_none says why there is none
        print(f"wrote {args.out}")
    return 0
