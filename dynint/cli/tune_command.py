"""`dynint tune CONFIG.yaml [key=value ...] --space SPACE.yaml`: choose a baseline's
hyper-parameters on the validation split; every trial is recorded, the best config written."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from dynint.config.loader import apply_overrides, parse_config, read_raw_config
from dynint.data.prepared import prepare_data
from dynint.run_lock import RunLock
from dynint.tune.search import (
    ValidationStage,
    check_tunable,
    search_points,
    tune,
    write_best_config,
    write_trials_header,
)
from dynint.tune.space import SearchSpace


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("tune", help="tune a baseline's hyper-parameters on the validation split")
    parser.add_argument("config", help="experiment YAML file to start from (see experiments/)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. data.name=amazon-beauty")
    parser.add_argument("--space", required=True, help="search space YAML (see dynint/tune/space.py)")
    parser.add_argument("--strategy", choices=("grid", "random"), default="grid")
    parser.add_argument("--trials", type=int, default=None, help="number of random draws (grid: all points)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    parser.add_argument("--metric", default="NDCG@10", help="validation metric to maximise")
    parser.add_argument("--output", default=None, help="best config path (default: CONFIG's folder/NAME-DATA.yaml)")
    parser.add_argument("--trials-file", default=None, help="JSON Lines of every trial (default: results/tuning/)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raw = apply_overrides(read_raw_config(args.config), args.overrides)
    config = parse_config(raw)
    points = search_points(SearchSpace.from_yaml(args.space), args.strategy, args.trials, args.seed)
    output = Path(args.output or Path(args.config).parent / f"{config.name}-{config.data.name}.yaml")
    trials_file = Path(args.trials_file or Path("results") / "tuning" / f"{output.stem}.jsonl")
    command = " ".join(["dynint tune", *map(shlex.quote, _command_arguments(args))])

    check_tunable(raw, points, args.metric)
    data = prepare_data(config, args.data_dir)
    stage = ValidationStage.from_split(data.split, data.interactions.item_features)
    del data  # from here on, only the validation stage exists
    with RunLock(trials_file.with_name(f".{trials_file.name}.lock"), f"tuning record {trials_file}"):
        write_trials_header(trials_file, {"command": command, "base_config": args.config, "points": len(points)})
        result = tune(raw, points, stage, metric=args.metric, trials_path=trials_file, progress=not args.no_progress)
        write_best_config(output, result, command=command, base_config=args.config, trials_path=trials_file)
    summary = {"best_params": result.best.params, "valid": result.best.metrics, "config": str(output)}
    print(json.dumps({**summary, "trials": str(trials_file)}, indent=2))
    return 0


def _command_arguments(args: argparse.Namespace) -> list[str]:
    """The arguments that determine the result (not paths of outputs or progress bars)."""
    arguments = [args.config, *args.overrides, "--space", args.space, "--strategy", args.strategy]
    if args.trials is not None:
        arguments += ["--trials", str(args.trials)]
    if args.strategy == "random":
        arguments += ["--seed", str(args.seed)]
    return arguments + ["--metric", args.metric]
