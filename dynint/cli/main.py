"""`dynint` entry point: parses the command line and dispatches to one subcommand module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import dynint
from dynint.cli import datasets_command, reproduce_command, run_command, tune_command
from dynint.errors import DynintError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dynint", description="Dynamic interest modeling for recommender systems.")
    parser.add_argument("--version", action="version", version=f"dynint {dynint.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    datasets_command.add_parser(commands)
    run_command.add_parser(commands)
    reproduce_command.add_parser(commands)
    tune_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (DynintError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"dynint: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dynint: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
