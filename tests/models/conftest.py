from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def sequences() -> np.ndarray:
    """Three left-aligned sequences of lengths 5, 2 and 8 (0 = padding)."""
    return np.array(
        [[3, 7, 1, 9, 4, 0, 0, 0], [12, 5, 0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]],
        dtype=np.int32,
    )
