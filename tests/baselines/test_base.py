import numpy as np
import pytest

from baselines.base import Baseline, FitData
from dynint.data.interactions import Interactions
from dynint.data.ragged import Ragged
from dynint.data.splits import leave_one_out_split


class LengthTimesItem(Baseline):
    """Score = history length x item id: depends on the row and the item, nothing else."""

    def fit(self, data: FitData) -> "LengthTimesItem":
        return self

    def score(self, users: np.ndarray, histories: Ragged, items: np.ndarray) -> np.ndarray:
        return histories.lengths[:, None] * np.asarray(items, dtype=np.float64)[None, :]


def test_default_score_pairs_scores_each_row_against_its_own_item():
    histories = Ragged.from_rows([[1], [1, 2, 3], [], [4, 4]] * 300)  # more rows than one block
    items = np.tile([5, 2, 7, 2], 300)
    pairs = LengthTimesItem(None).score_pairs(np.arange(1200), histories, items)
    np.testing.assert_array_equal(pairs, histories.lengths * items)
    with pytest.raises(ValueError, match="one user, history and item per pair"):
        LengthTimesItem(None).score_pairs(np.arange(3), histories.take([0, 1, 2]), np.array([1, 2]))


def test_fit_data_for_a_stage_holds_what_is_visible_before_it():
    log = Interactions(
        user=np.array([0, 0, 0, 0]),
        item=np.array([1, 2, 3, 4]),
        timestamp=np.array([10.0, 20.0, 30.0, 40.0]),
        rating=None,
        user_ids=np.array(["u"]),
        item_ids=np.array(["[PAD]", "a", "b", "c", "d"]),
    )
    split = leave_one_out_split(log)
    valid, test = FitData.for_stage(split, "valid"), FitData.for_stage(split, "test")
    assert valid.sequences[0].tolist() == [1, 2] and valid.timestamps[0].tolist() == [10.0, 20.0]
    assert test.sequences[0].tolist() == [1, 2, 3] and test.timestamps[0].tolist() == [10.0, 20.0, 30.0]
    leaky = FitData.for_stage(split, "valid", leaky=True)
    assert leaky.sequences[0].tolist() == [1, 2, 3, 4] and leaky.timestamps[0].tolist()[-1] == 40.0
