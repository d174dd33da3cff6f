"""`dynint datasets list` and `dynint datasets info NAME`."""

from __future__ import annotations

import argparse
import json

from dynint.config.schema import DataConfig, SplitConfig
from dynint.data.loading import load_interactions, make_split
from dynint.data.paths import resolve_data_dir
from dynint.data.registry import DATASETS, dataset_path, is_available
from dynint.data.stats import dataset_statistics


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("datasets", help="list registered data sets or describe one")
    sub = parser.add_subparsers(dest="datasets_command", required=True)
    listing = sub.add_parser("list", help="every registered data set, where it is read from, and whether it is present")
    listing.add_argument(
        "--data-dir", default=None, help="data directory (default: $DYNINT_DATA_DIR, ../shared/data, cache)"
    )
    listing.set_defaults(handler=list_datasets)
    info = sub.add_parser("info", help="statistics of one data set and of its leave-one-out split")
    info.add_argument("name", help="registered name, 'synthetic', or tfds:NAME")
    info.add_argument("--data-dir", default=None)
    info.add_argument("--split", default="leave-one-out", choices=["leave-one-out", "temporal"])
    info.add_argument("--download", action="store_true", help="download the data set if it is missing and has a URL")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument(
        "--skip-malformed-lines", action="store_true", help="drop malformed lines (with their count) instead of failing"
    )
    info.set_defaults(handler=show_info)


def list_datasets(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    print(f"data directory: {data_dir}")
    width = max(len(name) for name in DATASETS)
    for name, spec in sorted(DATASETS.items()):
        present = "available" if is_available(name, data_dir) else ("downloadable" if spec.url else "missing")
        print(f"{name:<{width}}  {present:<12}  {dataset_path(name, data_dir)}  {spec.description}")
    print(f"{'synthetic':<{width}}  {'built-in':<12}  (generated)  drifting-interest users, the quickstart default")
    return 0


def show_info(args: argparse.Namespace) -> int:
    data_config = DataConfig(name=args.name, download=args.download, skip_malformed_lines=args.skip_malformed_lines)
    interactions = load_interactions(data_config, args.data_dir)
    split = make_split(interactions, SplitConfig(kind=args.split))
    stats = dataset_statistics(interactions, split)
    stats = {"name": args.name, **stats}
    if args.json:
        print(json.dumps(stats))
        return 0
    for key, value in stats.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for sub_key, sub_value in value.items():
                print(f"  {sub_key}: {_readable(sub_value)}")
        else:
            print(f"{key}: {_readable(value)}")
    return 0


def _readable(value: object) -> object:
    return f"{value:.4g}" if isinstance(value, float) else value
