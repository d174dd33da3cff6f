import numpy as np
import pytest

from baselines.base import FitData
from baselines.recency import HistoryWeights, RecencyConfig
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

SEQUENCES = Ragged.from_rows([[4, 5, 6], [7, 8]])
TIMES = Ragged.from_rows([[0.0, 10.0, 30.0], [5.0, 6.0]], dtype=np.float64)


def weights(config, histories, users=(0, 1)):
    data = FitData(SEQUENCES, 2, 9, timestamps=TIMES)
    return HistoryWeights(config, data).matrix(np.array(users), histories, 10).toarray()


def test_position_decay_halves_the_weight_every_half_life_events_then_normalises():
    # Ages 2, 1, 0 with half-life 1: 1/4, 1/2, 1, divided by their sum 7/4.
    w = weights(RecencyConfig("position", 1.0), SEQUENCES)
    np.testing.assert_allclose(w[0, [4, 5, 6]], np.array([1 / 4, 1 / 2, 1]) / (7 / 4))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


def test_time_decay_uses_the_fitted_timestamps_of_the_history_prefix():
    # User 0, history [4, 5] (a prefix): times 0 and 10, ages 10 and 0; half-life 10: 1/2 and 1.
    w = weights(RecencyConfig("time", 10.0), Ragged.from_rows([[4, 5], [7, 8]]))
    np.testing.assert_allclose(w[0, [4, 5]], np.array([1 / 2, 1]) / (3 / 2))
    # User 1: times 5 and 6, ages 1 and 0.
    np.testing.assert_allclose(w[1, [7, 8]], np.array([2**-0.1, 1]) / (1 + 2**-0.1))


def test_time_decay_refuses_a_history_that_is_not_a_prefix_of_the_fitted_sequence():
    with pytest.raises(ValueError, match="history row 1 is not a prefix"):
        weights(RecencyConfig("time", 10.0), Ragged.from_rows([[4], [8]]))
    with pytest.raises(ValueError, match="needs event timestamps"):
        HistoryWeights(RecencyConfig("time", 1.0), FitData(SEQUENCES, 2, 9))


def test_no_decay_weighs_events_equally_and_repeats_add_up():
    w = weights(RecencyConfig("none"), Ragged.from_rows([[4, 5, 4], []]))
    np.testing.assert_allclose(w[0, [4, 5]], [2 / 3, 1 / 3])
    assert not w[1].any()  # an empty history has no weights


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="half_life"):
        RecencyConfig("position", 0.0)
    with pytest.raises(ConfigError, match="kind"):
        RecencyConfig("exponential")
