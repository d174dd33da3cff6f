"""The SASRec release (Kang and McAuley, ICDM 2018): lines `user item`, chronological within each user."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions
from dynint.data.readers._lines import read_numeric_table


def read_sasrec(path: Path | str) -> Interactions:
    """One event per line, integer ids separated by a space; only order is known (`has_timestamps=False`)."""
    table = read_numeric_table(path, " ", {"user": np.int64, "item": np.int64})
    return build_interactions(path, table["user"], table["item"])
