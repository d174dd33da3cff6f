"""TensorBoard event files for a run, written with tensorboardX (a maintained writer of the event
format with no TensorFlow or torch dependency; `clu.metric_writers` would pull TensorFlow in).

One scalar series per logged quantity: `train/loss`, `train/gradient_norm` (the mean over the
epoch's steps of the gradient's global norm), `train/examples_per_s`, `train/time_s`,
`valid/<metric>`, `privacy/epsilon` and, where the optimizer's schedule is known,
`train/learning_rate`; the step axis is the epoch. TensorBoard tags admit no `@`, so
`valid/NDCG@10` appears as `valid/NDCG_10`. Files go to `RUN_DIR/tensorboard/` (a refit to
`RUN_DIR/refit/tensorboard/`), so `tensorboard --logdir runs` shows every run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

FOLDER = "tensorboard"


class EpochWriter:
    """Appends each epoch's log entry to the run's event file; a no-op where tensorboardX is missing."""

    def __init__(self, run_dir: str | Path, learning_rate: Any = None):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:  # an optional extra: the run goes on without event files
            self._writer = None
        else:
            self._writer = SummaryWriter(str(Path(run_dir) / FOLDER), flush_secs=30)
        self._learning_rate = learning_rate

    def write(self, entry: dict[str, Any]) -> None:
        if self._writer is None or "epoch" not in entry:
            return
        epoch = int(entry["epoch"])
        for key, tag in (
            ("train_loss", "train/loss"),
            ("gradient_norm", "train/gradient_norm"),
            ("examples_per_s", "train/examples_per_s"),
        ):
            if entry.get(key) is not None:  # an epoch whose every step was dropped has no loss
                self._writer.add_scalar(tag, float(entry[key]), epoch)
        if "train_time_s" in entry:
            self._writer.add_scalar("train/time_s", float(entry["train_time_s"]), epoch)
        for name, value in (entry.get("valid") or {}).items():
            self._writer.add_scalar(f"valid/{name}", float(value), epoch)
        if "epsilon" in entry and math.isfinite(entry["epsilon"]):  # clipping without noise spends an infinite epsilon
            self._writer.add_scalar("privacy/epsilon", float(entry["epsilon"]), epoch)
        if self._learning_rate is not None and "step" in entry:
            self._writer.add_scalar("train/learning_rate", float(self._learning_rate(entry["step"])), epoch)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
