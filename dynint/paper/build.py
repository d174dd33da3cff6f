"""Build the paper from results/: `python paper/build.py` (a thin wrapper around `main`).

1. Each table's figures are drawn again from its JSON (`results/TABLE*.png`, the same functions
   `dynint reproduce` uses).
2. `paper/generated/numbers.tex` (every number the text quotes) and `paper/generated/tables/*.tex`
   are written from the JSON.
3. With `latexmk` or `pdflatex` on the PATH, `paper/main.tex` is compiled to `paper/dynint.pdf`;
   without them the build says so and stops after the sources.

`--check` builds nothing and exits 1 when a generated file differs from what results/ gives.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynint.io import write_text_atomic
from dynint.paper.latex_tables import latex_table
from dynint.paper.numbers import benchmark_numbers, numbers_tex
from dynint.provenance import REPO_ROOT

PAPER_DIR = REPO_ROOT / "paper"
RESULTS_DIR = REPO_ROOT / "results"
MANUSCRIPT = "main.tex"
PDF_NAME = "dynint.pdf"


@dataclass(frozen=True)
class PaperTable:
    """The columns the paper shows of a results table (the JSON and markdown keep them all)."""

    metrics: tuple[str, ...]
    records: tuple[str, ...] = ()


PAPER_TABLES: Mapping[str, PaperTable] = {
    "quickstart": PaperTable(("HR@10", "NDCG@10", "MRR@10")),
    "seq-full-ranking": PaperTable(("HR@10", "NDCG@10", "NDCG@20", "MRR@10")),
    "long-sequence": PaperTable(("HR@10", "NDCG@10")),
    "ctr-auc": PaperTable(("AUC", "GAUC", "logloss")),
    "multitask": PaperTable(("engagement_AUC", "like_AUC", "CTCVR_AUC", "rating_RMSE"), ("parameters",)),
    "text-enhanced": PaperTable(("HR@10", "NDCG@10", "AUC", "GAUC")),
    "temporal": PaperTable(("mean NDCG@10", "AUC NDCG@10"), ("later update time (s)", "switch lag (events)")),
    "generative": PaperTable(("HR@10", "NDCG@10"), ("parameters",)),
    "scaling": PaperTable(("NDCG@10",), ("non_embedding_parameters", "train_flops_to_best_epoch")),
    "beyond-accuracy": PaperTable(("NDCG@10", "Coverage@10", "Gini@10", "Novelty@10", "ILD@10", "NDCG@10 gap")),
    "privacy": PaperTable(("HR@10", "NDCG@10"), ("epsilon",)),
}


PAPER_BENCHMARKS: Mapping[str, tuple[str, ...]] = {
    "sparse_attention_speed_cpu": ("model", "length"),
    "itemknn_incremental_speed_cpu_ml-100k": ("window",),
    "scale_cpu": ("items", "devices"),
}
"""Benchmark CSVs in results/ whose numbers the text may quote, with the columns naming a row."""


def load_benchmarks(results_dir: Path = RESULTS_DIR) -> dict[str, dict[str, str]]:
    """The numbers of each benchmark in PAPER_BENCHMARKS whose CSV is in `results_dir`."""
    loaded = {}
    for name, identity in PAPER_BENCHMARKS.items():
        path = Path(results_dir) / f"{name}.csv"
        if path.exists():
            with path.open(newline="") as handle:
                loaded[name] = benchmark_numbers(name, list(csv.DictReader(handle)), identity)
    return loaded


def load_tables(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The results tables (documents with a `table` key; benchmark provenance files are not), in
    the paper's order, then any others by name."""
    tables = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
        if isinstance(document, dict) and "table" in document and "rows" in document:
            tables[document["table"]] = document
    order = [name for name in PAPER_TABLES if name in tables] + sorted(set(tables) - set(PAPER_TABLES))
    return [tables[name] for name in order]


def generated_sources(
    tables: Sequence[Mapping[str, Any]], benchmarks: Mapping[str, Mapping[str, str]] = {}
) -> dict[str, str]:
    """The generated files, path relative to paper/ -> text."""
    files = {"generated/numbers.tex": numbers_tex(tables, benchmarks)}
    for table in tables:
        columns = PAPER_TABLES.get(table["table"]) or PaperTable(tuple(table["metric_names"]))
        files[f"generated/tables/{table['table']}.tex"] = latex_table(table, columns.metrics, columns.records)
    return files


def write_sources(
    tables: Sequence[Mapping[str, Any]], benchmarks: Mapping[str, Mapping[str, str]], paper_dir: Path = PAPER_DIR
) -> list[Path]:
    written = []
    for relative, text in generated_sources(tables, benchmarks).items():
        written.append(write_text_atomic(Path(paper_dir) / relative, text))
    return written


def stale_sources(
    tables: Sequence[Mapping[str, Any]], benchmarks: Mapping[str, Mapping[str, str]], paper_dir: Path = PAPER_DIR
) -> list[str]:
    """The generated files (relative to paper/) that are missing or differ from what the results give."""
    stale = []
    for relative, text in generated_sources(tables, benchmarks).items():
        path = Path(paper_dir) / relative
        if not path.exists() or path.read_text() != text:
            stale.append(relative)
    return stale


def draw_figures(tables: Sequence[Mapping[str, Any]], results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Draw each table's figure(s) again from its JSON, where its table specification has one."""
    from dynint.reproduce.tables import TABLES

    drawn = []
    for table in tables:
        spec = TABLES.get(table["table"])
        if (
            spec is not None
            and spec.figure is not None
            and spec.figure(dict(table), Path(results_dir) / f"{spec.name}.png")
        ):
            drawn.append(Path(results_dir) / f"{spec.name}.png")
    return drawn


def compile_pdf(paper_dir: Path = PAPER_DIR) -> Path | None:
    """Compile main.tex into dynint.pdf (in a temporary folder, then moved into place); None when
    no LaTeX is installed. A LaTeX error raises with the end of its log."""
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if pdflatex is None:
        return None
    paper_dir = Path(paper_dir)
    with tempfile.TemporaryDirectory(prefix="dynint-paper-") as build_dir:
        if latexmk is not None:
            commands = [
                [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", f"-outdir={build_dir}", MANUSCRIPT]
            ]
        else:  # twice, so references and the table of contents settle
            commands = [
                [pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"-output-directory={build_dir}", MANUSCRIPT]
            ] * 2
        for command in commands:
            done = subprocess.run(command, cwd=paper_dir, capture_output=True, text=True)
            if done.returncode != 0:
                log = Path(build_dir) / "main.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else done.stdout[-3000:]
                raise RuntimeError(f"LaTeX failed on {paper_dir / MANUSCRIPT} (exit {done.returncode}):\n{tail}")
        target = paper_dir / PDF_NAME
        temporary = paper_dir / f".{PDF_NAME}.tmp"
        shutil.copyfile(Path(build_dir) / "main.pdf", temporary)
        temporary.replace(target)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python paper/build.py", description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--paper-dir", type=Path, default=PAPER_DIR)
    parser.add_argument("--no-figures", action="store_true", help="keep results/*.png as they are")
    parser.add_argument("--no-pdf", action="store_true", help="write the sources only")
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated source is out of date")
    arguments = parser.parse_args(argv)
    try:
        tables = load_tables(arguments.results_dir)
        benchmarks = load_benchmarks(arguments.results_dir)
    except ValueError as error:
        print(f"paper: error: {error}", file=sys.stderr)
        return 2
    if arguments.check:
        stale = stale_sources(tables, benchmarks, arguments.paper_dir)
        for relative in stale:
            print(f"paper: {relative} is out of date with results/; run python paper/build.py", file=sys.stderr)
        return 1 if stale else 0
    if not arguments.no_figures:
        for path in draw_figures(tables, arguments.results_dir):
            print(f"drew {path}")
    for path in write_sources(tables, benchmarks, arguments.paper_dir):
        print(f"wrote {path}")
    if arguments.no_pdf:
        return 0
    try:
        pdf = compile_pdf(arguments.paper_dir)
    except RuntimeError as error:
        print(f"paper: error: {error}", file=sys.stderr)
        return 1
    if pdf is None:
        print(
            "paper: no LaTeX found (pdflatex), so no PDF; the sources are built. On Debian: "
            "apt-get install texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk"
        )
    else:
        print(f"wrote {pdf}")
    return 0
