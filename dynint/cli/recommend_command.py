"""`dynint recommend RUN_DIR --user ID` (or `--users FILE`): a finished run's top-k items."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dynint.errors import ConfigError


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("recommend", help="a finished run's top-k items for a user (raw ids)")
    parser.add_argument("run_dir", help="the folder of a finished run (runs/NAME/DATASET/seedN)")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a raw user id of the run's data set")
    who.add_argument("--users", help="a file of raw user ids, one per line; prints one JSON line per user")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--include-seen", action="store_true", help="also recommend items the user has seen")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=recommend)


def recommend(args: argparse.Namespace) -> int:
    from dynint.serving import load

    users = [args.user] if args.user is not None else _read_users(Path(args.users))
    run = load(args.run_dir, args.data_dir)
    lists = run.recommend_users(users, args.k, exclude_seen=not args.include_seen)
    for user, recommendations in zip(users, lists, strict=True):
        if args.json or args.users:
            items = [
                {"item": r.item, "score": r.score, **({"title": r.title} if r.title else {})} for r in recommendations
            ]
            print(json.dumps({"user": user, "items": items}))
            continue
        print(f"user {user} ({run.config.model.name} on {run.config.data.name}, {len(run.history_of(user))} events):")
        for rank, r in enumerate(recommendations, start=1):
            print(f"{rank:>3}  {r.item:>10}  {r.score:>10.4f}" + (f"  {r.title}" if r.title else ""))
    sys.stdout.flush()
    return 0


def _read_users(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise ConfigError(f"--users {path}: {error.strerror or error}") from None
    users = [line.strip() for line in lines if line.strip()]
    if not users:
        raise ConfigError(f"--users {path}: no user ids (expected one per line)")
    return users
