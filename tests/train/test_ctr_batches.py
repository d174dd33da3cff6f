"""Length-bucketed CTR batches: each batch one bucket's static shape, nothing truncated, every
sample at most once per epoch, epochs a pure function of (seed, epoch); bucketed predictions
equal padded ones."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from dynint.config import parse_config
from dynint.data.ctr_samples import CTRData, CTRSamples, build_ctr_data
from dynint.data.prepared import prepare_data
from dynint.train.ctr_batches import CTRBatcher, length_buckets, predict_logits
from dynint.train.state import split_model
from tests.models.ctr.tiny_ctr import tiny_model

BUCKETS = (4, 8, 16, 30)


@pytest.fixture(scope="module")
def ml100k(shared_data) -> CTRData:
    config = parse_config(
        {"name": "ctr", "data": {"name": "ml-100k", "data_dir": str(shared_data)}, "model": {"name": "din"}}
    )
    prepared = prepare_data(config)
    return build_ctr_data(prepared.split, prepared.interactions.item_features, max_length=30, seed=0)


def _history_lengths(histories: np.ndarray) -> np.ndarray:
    return np.count_nonzero(histories, axis=1)


def test_each_batch_is_one_bucket_padded_to_its_length_with_whole_histories(ml100k):
    batcher = CTRBatcher(ml100k, 64, BUCKETS)
    lengths = _history_lengths(ml100k.train.histories)
    lower = dict(zip(BUCKETS, (0, *BUCKETS[:-1]), strict=True))
    seen_lengths = set()
    for (length, rows), batch in zip(batcher.epoch(0, 1).plan, batcher.epoch(0, 1), strict=True):
        assert batch.histories.shape == batch.history_negatives.shape == (64, length)
        assert all(tokens.shape[:2] == (64, length) for tokens in batch.history_tokens.values())
        np.testing.assert_array_equal(_history_lengths(batch.histories), lengths[rows])  # nothing cut off
        assert np.all(lengths[rows] <= length) and np.all(lengths[rows] > lower[length])
        np.testing.assert_array_equal(batch.histories, ml100k.train.histories[rows, :length])
        np.testing.assert_array_equal(batch.targets, ml100k.train.targets[rows])
        seen_lengths.add(length)
    assert seen_lengths == set(BUCKETS)


def test_an_epoch_uses_each_sample_at_most_once_and_leaves_out_less_than_a_batch_per_bucket(ml100k):
    batcher = CTRBatcher(ml100k, 64, BUCKETS)
    epoch = batcher.epoch(3, 2)
    rows = np.concatenate([rows for _, rows in epoch.plan])
    assert len(rows) == len(np.unique(rows)) and len(epoch) == batcher.num_batches(3, 2)
    per_bucket = np.bincount(length_buckets(ml100k.train, BUCKETS), minlength=len(BUCKETS))
    used = np.bincount(length_buckets(ml100k.train, BUCKETS)[rows], minlength=len(BUCKETS))
    assert np.all(per_bucket - used < 64) and np.all(used % 64 == 0)


def test_epochs_are_a_pure_function_of_seed_and_epoch_and_differ_between_epochs(ml100k):
    first, again = CTRBatcher(ml100k, 64, BUCKETS).epoch(5, 1), CTRBatcher(ml100k, 64, BUCKETS).epoch(5, 1)
    for (length, rows), (length_again, rows_again) in zip(first.plan, again.plan, strict=True):
        assert length == length_again and np.array_equal(rows, rows_again)
    second = CTRBatcher(ml100k, 64, BUCKETS).epoch(5, 2)
    assert [length for length, _ in first.plan] != [length for length, _ in second.plan]


def test_without_buckets_every_batch_is_padded_to_max_length(ml100k):
    batcher = CTRBatcher(ml100k, 128)
    assert batcher.buckets == (30,) and batcher.num_batches(0, 1) == len(ml100k.train) // 128
    assert batcher.epoch(0, 1)[0].histories.shape == (128, 30)


@pytest.mark.parametrize("buckets", [(4, 8), (8, 4, 30), (0, 30)])
def test_buckets_must_increase_and_end_at_max_length(ml100k, buckets):
    with pytest.raises(ValueError, match="max_length=30"):
        CTRBatcher(ml100k, 64, buckets)


def test_bucketed_predictions_equal_padded_ones_in_sample_order_at_every_batch_size(ml100k):
    small = _small_vocabulary(ml100k)
    assert set(length_buckets(small.valid, BUCKETS)) == {0, 1, 2, 3}  # every bucket is predicted
    graphdef, params = split_model(tiny_model("dien", dropout=0.0))
    params = jax.device_get(params)
    padded = predict_logits(graphdef, params, small, "valid", 512)
    bucketed = {size: predict_logits(graphdef, params, small, "valid", size, BUCKETS) for size in (100, 512, 4096)}
    np.testing.assert_allclose(bucketed[512], padded, rtol=1e-5, atol=1e-5)
    # Rows are predicted independently; only float rounding of other batch shapes may differ.
    np.testing.assert_allclose(bucketed[100], bucketed[512], rtol=0, atol=1e-7)
    np.testing.assert_allclose(bucketed[4096], bucketed[512], rtol=0, atol=1e-7)


def test_a_row_gets_the_same_logit_alone_as_in_its_bucketed_batch(ml100k):
    small = _small_vocabulary(ml100k)
    rows = np.flatnonzero(length_buckets(small.valid, BUCKETS) == 1)[:32]  # histories of 5 to 8 items
    model = nnx.merge(*split_model(tiny_model("din")))
    together = np.asarray(model(small.batch("valid", rows, 8))[0])
    alone = np.concatenate([np.asarray(model(small.batch("valid", rows[i : i + 1], 8))[0]) for i in range(4)])
    np.testing.assert_allclose(together[:4], alone, rtol=1e-6, atol=1e-6)


def _small_vocabulary(data: CTRData) -> CTRData:
    """Every 50th training sample of `data` as the validation stage, its items folded onto the
    tiny models' 12 items with one 5-token feature."""

    def fold(items: np.ndarray) -> np.ndarray:
        return np.where(items != 0, (items - 1) % 12 + 1, 0).astype(np.int32)

    chosen = data.train.take(np.arange(0, len(data.train), 50))
    valid = CTRSamples(
        chosen.users, fold(chosen.histories), fold(chosen.targets), chosen.labels, fold(chosen.history_negatives)
    )
    genres = np.array([[0, 0], *[[i % 4 + 1, (i + 1) % 4 + 1] for i in range(12)]], np.int32)
    return CTRData(valid, valid, valid, {"genre": genres}, {"genre": 5}, num_items=12, max_length=30)
