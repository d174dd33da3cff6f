"""`dynint explain RUN_DIR --user ID`: which history items each recommendation rests on."""

from __future__ import annotations

import argparse

# dynint.serving.explain.METHODS, spelled out so that building the parser imports no JAX.
METHODS = ("auto", "occlusion", "attention", "attention-rollout", "target-attention", "neighbours")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("explain", help="the history items behind a finished run's recommendations")
    parser.add_argument("run_dir", help="the folder of a finished run")
    parser.add_argument("--user", required=True, help="a raw user id of the run's data set")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--window", type=int, default=20, help="how many of the latest history items to weigh")
    parser.add_argument(
        "--method",
        default="auto",
        choices=METHODS,
        help="auto (default): the model's own mechanism (ItemKNN neighbours, DIN/DIEN target attention, "
        "Transformer attention), else occlusion",
    )
    parser.add_argument("--out", help="a folder for explanation.{md,json,png}")
    parser.add_argument("--data-dir", default=None)
    parser.set_defaults(handler=explain)


def explain(args: argparse.Namespace) -> int:
    from dynint.serving import load
    from dynint.serving.explain import explain_user, write_explanation

    explanation = explain_user(load(args.run_dir, args.data_dir), args.user, args.k, args.window, args.method)
    print(explanation.to_markdown(), end="")
    if args.out:
        for path in write_explanation(explanation, args.out):
            print(f"wrote {path}")
    return 0
