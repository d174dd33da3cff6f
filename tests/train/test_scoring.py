import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.data.ragged import Ragged
from dynint.data.splits import EvalSet
from dynint.eval.protocols import RankingProtocol
from dynint.eval.ranking import evaluate_ranking, full_ranking_ranks
from dynint.eval.top_k import top_k_lists
from dynint.models.base import ClozeObjective, NextItemObjective
from dynint.models.sasrec import SASRec
from dynint.train.scoring import SCORE_BLOCK, SequenceScorer, query_windows
from dynint.train.state import split_model
from tests.models.tiny_models import MAX_LENGTH, NUM_ITEMS, forward, tiny_model
from tests.simulated_devices import simulated_devices_environment

BUCKETS = (4, MAX_LENGTH)


def _eval_set(seed=0, rows=40):
    rng = np.random.default_rng(seed)
    histories = Ragged.from_rows([rng.integers(1, NUM_ITEMS + 1, size=n) for n in rng.integers(1, 12, size=rows)])
    return EvalSet(np.arange(rows), rng.integers(1, NUM_ITEMS + 1, size=rows), histories, np.zeros(rows))


def _scorer(rows_per_call=16, name="sasrec"):
    graphdef, params = tiny_model(name)
    objective = NextItemObjective() if name != "bert4rec" else ClozeObjective(0.2, NUM_ITEMS + 1)
    return SequenceScorer(
        graphdef, params, objective, max_length=MAX_LENGTH, buckets=BUCKETS, rows_per_call=rows_per_call
    )


def test_scores_are_the_last_history_position_against_the_item_table():
    eval_set = _eval_set()
    scorer = _scorer()
    items = np.array([3, 1, 30])
    scores = scorer.score(eval_set.users, eval_set.histories, items)
    windows = query_windows(eval_set.histories, NextItemObjective(), MAX_LENGTH)
    inputs = np.zeros((len(windows), MAX_LENGTH), dtype=np.int32)
    for row, window in enumerate(windows):
        inputs[row, : len(window)] = window
    hidden = np.asarray(forward(scorer.graphdef, scorer.params, inputs))[np.arange(len(windows)), windows.lengths - 1]
    np.testing.assert_allclose(scores, hidden @ np.asarray(scorer.table)[items].T, atol=1e-5)


def test_metrics_do_not_depend_on_evaluation_batch_size_or_rows_per_call():
    eval_set = _eval_set()
    results = [
        evaluate_ranking(_scorer(rows), eval_set, NUM_ITEMS, RankingProtocol(batch_size=size), progress=False)
        for size, rows in ((7, 8), (40, 64))
    ]
    assert results[0] == pytest.approx(results[1], abs=1e-12)


def test_precomputed_rows_are_reused_and_changed_histories_are_encoded_afresh():
    eval_set = _eval_set()
    scorer = _scorer()
    expected = scorer.score(eval_set.users, eval_set.histories, np.arange(1, NUM_ITEMS + 1))
    scorer.precompute(eval_set.users, eval_set.histories)
    np.testing.assert_allclose(
        scorer.score(eval_set.users, eval_set.histories, np.arange(1, NUM_ITEMS + 1)), expected, atol=1e-5
    )
    other = _eval_set(seed=1, rows=10)  # same user ids, different histories
    fresh = _scorer().score(other.users, other.histories, np.arange(1, NUM_ITEMS + 1))
    np.testing.assert_allclose(
        scorer.score(other.users, other.histories, np.arange(1, NUM_ITEMS + 1)), fresh, atol=1e-5
    )


def test_cloze_queries_end_with_the_mask_token_after_the_most_recent_items():
    histories = Ragged.from_rows([np.arange(1, 12), [5]])
    windows = query_windows(histories, ClozeObjective(0.2, mask_token=99), max_length=4)
    assert [list(w) for w in windows] == [[9, 10, 11, 99], [5, 99]]


def test_empty_histories_are_scored():
    scorer = _scorer()
    scores = scorer.score(np.array([0, 1]), Ragged.from_rows([[], [3]]), np.array([1, 2]))
    assert scores.shape == (2, 2) and np.isfinite(scores).all()


class _ScoresOnly:
    """A scorer's `score` without its `full_ranks`: ranks then come from the generic numpy path."""

    def __init__(self, scorer):
        self.scorer = scorer

    def score(self, users, histories, items):
        return self.scorer.score(users, histories, items)


def _tied_beauty_scorer(shared_data, every: int):
    """(split, scorer, every `every`-th test row) of a small random SASRec on amazon-beauty whose items
    1..300 share one embedding, so many targets tie with many other items."""
    config = parse_config(
        {
            "name": "tied",
            "data": {"name": "amazon-beauty", "data_dir": str(shared_data)},
            "model": {"name": "sasrec", "hidden_size": 16, "num_heads": 2, "inner_size": 32},
        }
    )
    split = prepare_data(config).split
    graphdef, params = split_model(SASRec(config.model, split.num_items, 20, rngs=nnx.Rngs(params=3)))
    items = params["embed"]["items"]
    items["embedding"] = items["embedding"].at[1:301].set(items["embedding"][1])
    scorer = SequenceScorer(graphdef, params, NextItemObjective(), max_length=20, buckets=(8, 20), rows_per_call=256)
    eval_set = split.eval_set("test")
    return split, scorer, eval_set.take(np.arange(0, len(eval_set), every))


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_fused_full_ranks_equal_the_generic_path_on_real_data_with_ties(shared_data, exclude_seen):
    split, scorer, eval_set = _tied_beauty_scorer(shared_data, every=11)
    tied = np.isin(eval_set.targets, np.arange(1, 301))
    assert tied.sum() > 10
    fused = full_ranking_ranks(scorer, eval_set, split.num_items, exclude_seen=exclude_seen, progress=False)
    generic = full_ranking_ranks(
        _ScoresOnly(scorer), eval_set, split.num_items, exclude_seen=exclude_seen, progress=False
    )
    chunked = full_ranking_ranks(
        scorer, eval_set, split.num_items, exclude_seen=exclude_seen, item_chunk_size=1000, progress=False
    )
    np.testing.assert_array_equal(fused, generic)
    np.testing.assert_array_equal(fused, chunked)
    assert fused[tied].min() < fused[tied].max()  # ties broken by item id, not all ranked alike


def test_a_scorer_limited_to_a_catalogue_prefix_ranks_as_the_table_of_that_prefix():
    # Items past num_items are reserved rows of a growing table: never candidates, never ahead of a target.
    prefix = NUM_ITEMS - 10
    rng = np.random.default_rng(3)
    histories = Ragged.from_rows([rng.integers(1, prefix + 1, size=n) for n in rng.integers(1, 12, size=30)])
    rows = EvalSet(np.arange(30), rng.integers(1, prefix + 1, size=30), histories, np.zeros(30))
    graphdef, params = tiny_model("sasrec")
    limited = SequenceScorer(
        graphdef, params, NextItemObjective(), max_length=MAX_LENGTH, buckets=BUCKETS, num_items=prefix
    )
    assert limited.table.shape[0] == prefix + 1
    ranks = full_ranking_ranks(limited, rows, prefix, exclude_seen=False, progress=False)
    full_scores = _scorer().score(rows.users, rows.histories, np.arange(1, prefix + 1))
    target_scores = full_scores[np.arange(len(rows)), rows.targets - 1]
    ahead = (full_scores > target_scores[:, None]) | (
        (full_scores == target_scores[:, None]) & (np.arange(1, prefix + 1)[None, :] < rows.targets[:, None])
    )
    np.testing.assert_array_equal(ranks, ahead.sum(axis=1))
    with pytest.raises(ValueError, match="num_items=0"):
        SequenceScorer(graphdef, params, NextItemObjective(), max_length=MAX_LENGTH, buckets=BUCKETS, num_items=0)


_SHARDED_RANKS = textwrap.dedent(
    """
    import json, sys
    import jax
    import numpy as np
    from flax import nnx
    from dynint.config import parse_config
    from dynint.data.prepared import prepare_data
    from dynint.eval.ranking import full_ranking_ranks
    from dynint.eval.top_k import top_k_lists
    from dynint.models.base import NextItemObjective
    from dynint.models.sasrec import SASRec
    from dynint.train import sharding
    from dynint.train.scoring import SequenceScorer
    from dynint.train.state import split_model

    assert jax.device_count() == 8, jax.devices()
    config = parse_config(
        {
            "name": "sharded-ranks",
            "data": {"name": "amazon-beauty", "data_dir": sys.argv[1]},
            "model": {"name": "sasrec", "hidden_size": 16, "num_heads": 2, "inner_size": 32},
        }
    )
    split = prepare_data(config).split
    graphdef, params = split_model(SASRec(config.model, split.num_items, 20, rngs=nnx.Rngs(params=3)))
    items = params["embed"]["items"]
    items["embedding"] = items["embedding"].at[1:301].set(items["embedding"][1])  # ties among items 1..300
    eval_set = split.eval_set("test")
    eval_set = eval_set.take(np.arange(0, len(eval_set), 11))
    results = {"num_items": split.num_items, "tied": np.isin(eval_set.targets, np.arange(1, 301)).tolist()}
    for devices, model_parallelism in ((1, 1), (8, 4), (8, 8)):
        mesh = sharding.make_mesh(devices, model_parallelism)
        scorer = SequenceScorer(
            graphdef, params, NextItemObjective(), max_length=20, buckets=(8, 20), rows_per_call=256, mesh=mesh
        )
        blocks = {shard.data.shape[0] for shard in scorer._table_blocks.addressable_shards}
        for exclude_seen in (True, False):
            ranks = full_ranking_ranks(scorer, eval_set, split.num_items, exclude_seen=exclude_seen, progress=False)
            results[f"{devices}x{model_parallelism} {exclude_seen}"] = ranks.tolist()
            lists = top_k_lists(scorer, eval_set, split.num_items, 20, exclude_seen=exclude_seen, progress=False)
            results[f"{devices}x{model_parallelism} {exclude_seen} top"] = lists.tolist()
        results[f"{devices}x{model_parallelism} block"] = sorted(blocks)
    print(json.dumps(results))
    """
)


def test_full_ranking_and_top_k_over_an_item_table_split_across_devices_equal_one_device(shared_data):
    done = subprocess.run(
        [sys.executable, "-c", _SHARDED_RANKS, str(shared_data)],
        env=simulated_devices_environment(8),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    # 12,102 columns on amazon-beauty: 24 blocks of 512, each device of a model group holding its share.
    blocks = -(-(results["num_items"] + 1) // SCORE_BLOCK)
    assert results["1x1 block"] == [blocks]
    assert results["8x4 block"] == [-(-blocks // 4)] and results["8x8 block"] == [-(-blocks // 8)]
    tied = np.asarray(results["tied"])
    for exclude_seen in (True, False):
        one = np.asarray(results[f"1x1 {exclude_seen}"])
        assert one[tied].min() < one[tied].max()  # ties broken by item id
        for mesh in ("8x4", "8x8"):
            np.testing.assert_array_equal(results[f"{mesh} {exclude_seen}"], one, err_msg=f"{mesh} {exclude_seen}")
            top = results[f"1x1 {exclude_seen} top"]
            np.testing.assert_array_equal(results[f"{mesh} {exclude_seen} top"], top, err_msg=f"{mesh} top-k")


def test_top_k_lists_on_the_device_equal_sorting_every_score_on_real_data_with_ties(shared_data):
    split, scorer, eval_set = _tied_beauty_scorer(shared_data, every=23)
    for exclude_seen, k in ((True, 20), (False, 20), (True, 2000)):
        on_device = top_k_lists(scorer, eval_set, split.num_items, k, exclude_seen=exclude_seen, progress=False)
        generic = top_k_lists(
            _ScoresOnly(scorer), eval_set, split.num_items, k, exclude_seen=exclude_seen, progress=False
        )
        np.testing.assert_array_equal(on_device, generic)
    # Some long lists hold many of the tied items, so their order was decided by the tie rule.
    assert (np.isin(on_device, np.arange(1, 301)).sum(axis=1) >= 2).any()
