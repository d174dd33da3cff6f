"""RecBole 1.2.1's SASRec and dynint's, side by side on one machine, minutes apart.

Machines here differ by 2x or more, so a speed ratio is only meaningful between runs on the
same machine. This script
1. installs RecBole 1.2.1 into a virtual environment of its own (`--venv`; once): torch 2.13.0
   (the CPU build pip finds on this machine's disk), `numpy<1.24` and `setuptools<81`, which
   RecBole 1.2.1 still needs;
2. converts amazon-beauty, as dynint reads it, to RecBole's atomic format (one `.inter` file;
   each event's position in its user's sequence as its timestamp, so both order it alike);
3. runs RecBole's SASRec (cross-entropy, max length 50, 2 layers, 2 heads, hidden 64, inner 256,
   batch 256, dropout 0.2) for `--epochs` epochs with a full-ranking validation after each, with
   `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` (RecBole's checkpoints predate torch's safe loading) and
   autograd's anomaly detection off (RecBole turns it on at import);
4. runs `benchmarks/sasrec_speed.py` with the same configuration right after, which prints both
   sets of figures and RecBole / dynint ratios (epoch, validation pass, peak memory).

Times are the fastest epoch of each (dynint's first epoch, which compiles, is left out); peak
memory is each process's own peak resident set.

Run: python benchmarks/peers/recbole_sasrec.py [--data-dir ../shared/data] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = ("torch==2.13.0", "numpy<1.24", "setuptools<81", "recbole==1.2.1")


def ensure_environment(venv: Path) -> Path:
    """The Python of RecBole's virtual environment, created and installed on first use."""
    python = venv / "bin" / "python"
    if python.exists() and _imports_recbole(python):
        return python
    print(f"installing RecBole 1.2.1 into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    if not _imports_recbole(python):
        raise SystemExit(f"RecBole does not import in {venv}; see the pip output above")
    return python


def _imports_recbole(python: Path) -> bool:
    check = "import recbole, torch; print(recbole.__version__, torch.__version__)"
    done = subprocess.run([str(python), "-c", check], capture_output=True, text=True, env=_recbole_environment())
    return done.returncode == 0


def _recbole_environment() -> dict[str, str]:
    return {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}


def write_atomic_dataset(data_dir: str, dataset: str, folder: Path) -> Path:
    """`folder/dataset/dataset.inter`: dynint's events of `dataset`, user and item tokens with
    each event's position in its user's sequence as the timestamp."""
    from dynint.data.registry import load_dataset

    interactions = load_dataset(dataset, data_dir)
    items, _ = interactions.user_sequences()
    path = folder / dataset / f"{dataset}.inter"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(len(items)):
        lines += [f"u{user}\ti{item}\t{position}" for position, item in enumerate(items[user])]
    path.write_text("\n".join(lines) + "\n")
    return path


def epoch_times(log: str) -> tuple[list[float], list[float]]:
    """The training and evaluation seconds RecBole logged per epoch."""
    train = [float(value) for value in re.findall(r"epoch \d+ training \[time: ([0-9.]+)s", log)]
    valid = [float(value) for value in re.findall(r"epoch \d+ evaluating \[time: ([0-9.]+)s", log)]
    return train, valid


def run_recbole(python: Path, folder: Path, dataset: str, epochs: int) -> dict:
    runner = HERE / "recbole_runner.py"
    command = [str(python), str(runner), str(folder), dataset, str(epochs), str(folder / "saved")]
    print(f"RecBole SASRec, {epochs} epochs ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder, env=_recbole_environment())
    if done.returncode != 0:
        raise SystemExit(f"RecBole failed:\n{done.stderr[-4000:]}")
    log = done.stdout + done.stderr
    train, valid = epoch_times(log)
    if len(train) < epochs or len(valid) < epochs:
        raise SystemExit(f"RecBole's log shows {len(train)} training and {len(valid)} evaluation times:\n{log[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "name": "RecBole",
        "version": "1.2.1",
        "epoch_s": min(train),
        "valid_s": min(valid),
        "epochs_s": train,
        "valid_passes_s": valid,
        "peak_rss_bytes": figures["peak_rss_bytes"],
        "best_valid_ndcg10": figures["best_valid_ndcg10"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--venv", default=str(HERE / ".venv-recbole"))
    parser.add_argument("--keep", help="a file to keep RecBole's figures in (JSON)")
    args = parser.parse_args()
    python = ensure_environment(Path(args.venv))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_atomic_dataset(args.data_dir, args.dataset, folder)
        recbole = run_recbole(python, folder, args.dataset, args.epochs)
        print(
            f"RecBole: epochs {recbole['epochs_s']} s, validation passes {recbole['valid_passes_s']} s, "
            f"peak {recbole['peak_rss_bytes'] / 1e9:.2f} GB, best valid NDCG@10 {recbole['best_valid_ndcg10']:.4f}",
            flush=True,
        )
        figures = Path(args.keep) if args.keep else folder / "recbole.json"
        figures.write_text(json.dumps(recbole, indent=1) + "\n")
        speed = HERE.parent / "sasrec_speed.py"
        command = [sys.executable, str(speed), "--data-dir", args.data_dir, "--dataset", args.dataset]
        command += ["--epochs", str(args.epochs), "--peer", str(figures)]
        print(f"dynint SASRec, {args.epochs} epochs ...", flush=True)
        return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
