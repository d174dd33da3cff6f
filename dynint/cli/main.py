"""`dynint` entry point: parses the command line and dispatches to one subcommand module.

Every fault ends in one line on stderr and an exit status, never a traceback: 2 bad input (a
config key, a data file, a missing data set), 3 training diverged, 4 the run folder or table is in
use by another process, 5 an output cannot be written, 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import dynint
from dynint.cli import (
    datasets_command,
    explain_command,
    export_command,
    recommend_command,
    reproduce_command,
    run_command,
    runs_command,
    tune_command,
)
from dynint.errors import DynintError, DynintWarning, Interrupted


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dynint", description="Dynamic interest modeling for recommender systems.")
    parser.add_argument("--version", action="version", version=f"dynint {dynint.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    datasets_command.add_parser(commands)
    run_command.add_parser(commands)
    reproduce_command.add_parser(commands)
    tune_command.add_parser(commands)
    recommend_command.add_parser(commands)
    export_command.add_parser(commands)
    explain_command.add_parser(commands)
    runs_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _plain_dynint_warnings(warnings.showwarning)
            return args.handler(args) or 0
    except (DynintError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        _say(f"dynint: error: {message}")
        return getattr(error, "exit_code", 2)
    except KeyboardInterrupt as error:
        _say(f"dynint: interrupted: {error}" if str(error) else "dynint: interrupted")
        return error.exit_code if isinstance(error, Interrupted) else 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _say(line: str) -> None:
    """One line on stderr in a single write: `print` writes the text and its newline separately, and
    a library thread (tensorstore failing a checkpoint write) may print between the two."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM outside training ends the command as Ctrl-C does (training saves a checkpoint first)."""
    raise Interrupted(signum, "SIGTERM")


def _plain_dynint_warnings(show: Callable[..., None]) -> Callable[..., None]:
    """`show` (the way warnings are printed), but a `DynintWarning` as one line without a source line."""

    def show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, DynintWarning):
            _say(f"dynint: warning: {message}")
        else:
            show(message, category, *args, **kwargs)

    return show_warning


if __name__ == "__main__":
    sys.exit(main())
