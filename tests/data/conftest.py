"""Real data sets from `../shared/data` for integration tests; each test skips when they are absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (expected the shared data folder next to the repository)")
    return path


def _read_beauty(path: Path) -> Interactions:
    try:
        from dynint.data.readers import read_s3rec
    except ImportError:  # the readers are written in parallel; parse the simple format here until then
        users, items, positions = [], [], []
        for line in path.read_text().splitlines():
            user, *sequence = line.split()
            users += [user] * len(sequence)
            items += sequence
            positions += range(len(sequence))
        return Interactions.from_raw_ids(users, items, np.array(positions), has_timestamps=False, source=str(path))
    return read_s3rec(path)


def _read_ml100k(directory: Path) -> Interactions:
    try:
        from dynint.data.readers import read_recbole_atomic
    except ImportError:
        rows = [line.split("\t") for line in (directory / "ml-100k.inter").read_text().splitlines()[1:]]
        user, item, rating, timestamp = zip(*rows, strict=True)
        return Interactions.from_raw_ids(
            user, item, np.array(timestamp, dtype=np.float64), np.array(rating, dtype=np.float32), source=str(directory)
        )
    return read_recbole_atomic(directory, "ml-100k")


@pytest.fixture(scope="session")
def beauty() -> Interactions:
    """Amazon Beauty, S3-Rec release: 22,363 users in order only (no timestamps)."""
    return _read_beauty(_require(SHARED_DATA / "amazon-beauty" / "Beauty.txt"))


@pytest.fixture(scope="session")
def ml100k() -> Interactions:
    """MovieLens 100K, RecBole atomic files: ratings with Unix timestamps."""
    return _read_ml100k(_require(SHARED_DATA / "ml-100k"))
