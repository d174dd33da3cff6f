import json
from dataclasses import replace

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.config.loader import read_raw_config
from dynint.data.prepared import prepare_data
from dynint.data.splits import EvalSet
from dynint.errors import ConfigError
from dynint.tune.search import ValidationStage, search_points, tune, write_best_config
from dynint.tune.space import SearchSpace

SPACE = SearchSpace.from_raw(
    {"model.similarity": ["cosine", "jaccard"], "model.shrink": [0.0, 20.0], "model.recency.half_life": [1.0, 4.0]}
)


def raw_config(**data):
    synthetic = {"num_users": 300, "num_items": 120, "num_clusters": 6, "seed": 1}
    return {
        "name": "itemknn",
        "data": {"name": "synthetic", "synthetic": synthetic, **data},
        "model": {"name": "itemknn", "neighbors": 20},
    }


@pytest.fixture(scope="module")
def prepared():
    return prepare_data(parse_config(raw_config()))


class Forbidden:
    """Stands in for test-stage data: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"tuning read test-stage data (attribute {name!r})")

    def __len__(self):
        raise AssertionError("tuning read test-stage data (len)")

    def __iter__(self):
        raise AssertionError("tuning read test-stage data (iteration)")

    def __getitem__(self, index):
        raise AssertionError("tuning read test-stage data (indexing)")


def without_test_stage(split):
    test_parts = ("test", "test_visible", "test_visible_timestamps", "all_events", "all_timestamps")
    return replace(split, **{name: Forbidden() for name in test_parts})


def run_trials(split, item_features, tmp_path, name):
    stage = ValidationStage.from_split(split, item_features)
    return tune(raw_config(), SPACE.grid(), stage, trials_path=tmp_path / f"{name}.jsonl", progress=False)


def test_tuning_never_reads_test_interactions(prepared, tmp_path):
    features = prepared.interactions.item_features
    honest = run_trials(prepared.split, features, tmp_path, "honest")
    blinded = run_trials(without_test_stage(prepared.split), features, tmp_path, "blinded")
    test = prepared.split.test
    garbage = EvalSet(
        test.users, np.roll(test.targets, 7), test.histories.take(np.arange(len(test))[::-1]), test.timestamps
    )
    scrambled = run_trials(replace(prepared.split, test=garbage), features, tmp_path, "scrambled")
    assert (
        [t.metrics for t in honest.trials]
        == [t.metrics for t in blinded.trials]
        == [t.metrics for t in scrambled.trials]
    )
    assert honest.best.params == blinded.best.params


def test_every_trial_is_recorded_and_the_best_is_the_highest_validation_metric(prepared, tmp_path):
    result = run_trials(prepared.split, prepared.interactions.item_features, tmp_path, "trials")
    records = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    assert [r["trial"] for r in records] == list(range(8))
    assert [r["params"] for r in records] == SPACE.grid()
    best = max(records, key=lambda r: r["valid"]["NDCG@10"])
    assert result.best.params == best["params"] and result.best.metrics == best["valid"]


def test_best_config_file_says_how_it_was_chosen_and_loads_as_the_best_trial(prepared, tmp_path):
    result = run_trials(prepared.split, prepared.interactions.item_features, tmp_path, "trials")
    path = write_best_config(
        tmp_path / "best.yaml",
        result,
        command="dynint tune x.yaml --space s.yaml",
        base_config="x.yaml",
        trials_path=tmp_path / "trials.jsonl",
    )
    text = path.read_text()
    assert text.startswith("# itemknn on synthetic: hyper-parameters chosen on the validation split only")
    assert "dynint tune x.yaml --space s.yaml" in text
    model = parse_config(read_raw_config(path)).model
    assert (model.similarity, model.shrink, model.recency.half_life) == tuple(result.best.params.values())


def test_tuning_refuses_leaky_configs_non_model_keys_and_unknown_metrics(prepared):
    stage = ValidationStage.from_split(prepared.split, prepared.interactions.item_features)
    with pytest.raises(ConfigError, match="leaks test answers"):
        tune({**raw_config(), "split": {"fit_on_all_interactions": True}}, SPACE.grid(), stage, progress=False)
    with pytest.raises(ConfigError, match="only model"):
        tune(raw_config(), [{"eval.ks": [10]}], stage, progress=False)
    with pytest.raises(ConfigError, match="NDCG@50"):
        tune(raw_config(), SPACE.grid(), stage, metric="NDCG@50", progress=False)


def test_search_points_grid_or_seeded_random():
    assert len(search_points(SPACE, "grid", None, 0)) == 8
    with pytest.raises(ConfigError, match="the grid has 8 points"):
        search_points(SPACE, "grid", 3, 0)
    assert search_points(SPACE, "random", 5, 1) == search_points(SPACE, "random", 5, 1)
    with pytest.raises(ConfigError, match="--trials"):
        search_points(SPACE, "random", None, 0)
