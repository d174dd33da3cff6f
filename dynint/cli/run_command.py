"""`dynint run CONFIG.yaml [key=value ...]`: one experiment, outputs in its run folder."""

from __future__ import annotations

import argparse
import json

from dynint.config.loader import load_config
from dynint.runner import run_experiment


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="run one experiment config")
    parser.add_argument("config", help="experiment YAML file (see experiments/)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. data.name=ml-100k seed=1")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted neural run from its latest checkpoint"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    overrides = [*args.overrides, "train.resume=true"] if args.resume else args.overrides
    config = load_config(args.config, overrides)
    result = run_experiment(config, data_dir=args.data_dir, progress=not args.no_progress)
    print(json.dumps({"run_dir": str(result.run_dir), "test": result.metrics["test"]}, indent=2))
    return 0
