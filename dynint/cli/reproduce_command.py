"""`dynint reproduce TABLE`: regenerate a results table from real runs."""

from __future__ import annotations

import argparse
import sys

from dynint.errors import TrainingDiverged
from dynint.reproduce.render import render_markdown
from dynint.reproduce.runner import reproduce_table
from dynint.reproduce.tables import TABLES


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("reproduce", help="run a results table: " + ", ".join(sorted(TABLES)))
    parser.add_argument("table", help="table name")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the table's)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--datasets", default=None, help="comma-separated subset of the table's data sets")
    parser.add_argument("--rows", default=None, help="comma-separated subset of the table's rows (models)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="run everything again instead of reusing finished runs and resuming interrupted ones in --runs-dir",
    )
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--runs-dir", default="runs/reproduce")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=reproduce)


def reproduce(args: argparse.Namespace) -> int:
    table = reproduce_table(
        args.table,
        seeds=args.seeds,
        data_dir=args.data_dir,
        results_dir=args.results_dir,
        runs_dir=args.runs_dir,
        datasets=tuple(args.datasets.split(",")) if args.datasets else None,
        rows=tuple(args.rows.split(",")) if args.rows else None,
        reuse=not args.fresh,
        progress=not args.no_progress,
    )
    print(render_markdown(table))
    failures = [f"{row['model']} on {row['dataset']}" for row in table.get("failed_rows", [])]
    if failures:
        print(f"dynint: error: {len(failures)} rows failed ({', '.join(failures)}); see 'Failed runs'", file=sys.stderr)
        return TrainingDiverged.exit_code
    return 0
