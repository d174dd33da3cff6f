"""`dynint export RUN_DIR OUT`: a finished next-item run as a jax.export serving artefact."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="serialise a finished run's top-k function (jax.export, StableHLO)")
    parser.add_argument("run_dir", help="the folder of a finished next-item run")
    parser.add_argument("out", help="a new folder for the artefact")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--platforms", default="cpu", help="comma-separated: cpu, cuda, tpu")
    parser.add_argument("--data-dir", default=None)
    parser.set_defaults(handler=export)


def export(args: argparse.Namespace) -> int:
    from dynint.serving import load
    from dynint.serving.export import export_run

    run = load(args.run_dir, args.data_dir)
    out = export_run(run, args.out, args.k, tuple(args.platforms.split(",")))
    print(f"wrote {out} (top_k.jax, parameters.npz, items.json, serving.json): k={args.k}")
    return 0
