"""Real-data fixtures for the evaluation tests, parsed locally so they do not depend on the readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def sequences_eval_set(path: Path) -> tuple[EvalSet, int]:
    """An S3-Rec sequence file (`user item item ...` per line) as an EvalSet: last item is the
    target, the earlier ones the history. Returns it with the number of items."""
    if not path.exists():
        pytest.skip(f"{path} is missing; real-data tests need ../shared/data")
    lines = [np.array(line.split(), dtype=np.int64) for line in path.read_text().splitlines() if line.strip()]
    users = np.array([line[0] for line in lines])
    eval_set = EvalSet(
        users=users,
        targets=np.array([line[-1] for line in lines]),
        histories=Ragged.from_rows([line[1:-1] for line in lines]),
        timestamps=np.zeros(len(lines)),
    )
    return eval_set, int(max(line[1:].max() for line in lines))


@pytest.fixture(scope="session")
def beauty() -> tuple[EvalSet, int]:
    return sequences_eval_set(SHARED_DATA / "amazon-beauty" / "Beauty.txt")


@pytest.fixture(scope="session")
def sports() -> tuple[EvalSet, int]:
    return sequences_eval_set(SHARED_DATA / "amazon-sports" / "Sports_and_Outdoors.txt")
