import numpy as np
import pytest

from dynint.errors import ConfigError
from dynint.tune.space import Range, SearchSpace


def test_grid_is_every_combination_with_the_last_key_fastest():
    space = SearchSpace.from_raw({"model.a": [1, 2], "model.b": ["x", "y", "z"]})
    points = space.grid()
    assert len(points) == 6
    assert points[:2] == [{"model.a": 1, "model.b": "x"}, {"model.a": 1, "model.b": "y"}]


def test_a_list_of_mappings_is_a_union_of_subspaces():
    space = SearchSpace.from_raw([{"model.a": [1, 2]}, {"model.b": [3], "model.c": [[4, 5]]}])
    assert space.grid() == [{"model.a": 1}, {"model.a": 2}, {"model.b": 3, "model.c": [4, 5]}]
    drawn = space.sample(50, seed=0)
    assert {tuple(point) for point in drawn} == {("model.a",), ("model.b", "model.c")}


def test_random_draws_are_reproducible_from_the_seed_and_stay_in_range():
    space = SearchSpace.from_raw(
        {
            "model.shrink": {"low": 1, "high": 1000, "log": True},
            "model.neighbors": {"low": 5, "high": 50, "int": True},
            "model.similarity": ["cosine", "jaccard"],
        }
    )
    first, again, other = space.sample(30, seed=3), space.sample(30, seed=3), space.sample(30, seed=4)
    assert first == again and first != other
    assert all(1 <= p["model.shrink"] <= 1000 and isinstance(p["model.neighbors"], int) for p in first)
    assert all(5 <= p["model.neighbors"] <= 50 for p in first)
    assert {p["model.similarity"] for p in first} == {"cosine", "jaccard"}


def test_log_range_spreads_draws_over_orders_of_magnitude():
    rng = np.random.default_rng(0)
    draws = [Range(1, 10_000, log=True).sample(rng) for _ in range(200)]
    assert sum(d < 100 for d in draws) == pytest.approx(100, abs=30)  # half the log-range lies below 100


def test_bad_spaces_fail_naming_the_key():
    with pytest.raises(ConfigError, match="ranges are for random search"):
        SearchSpace.from_raw({"model.shrink": {"low": 0, "high": 1}}).grid()
    with pytest.raises(ConfigError, match="model.shrink"):
        SearchSpace.from_raw({"model.shrink": {"low": 2, "high": 1}})
    with pytest.raises(ConfigError, match="did you mean 'model.shrink.high'"):
        SearchSpace.from_raw({"model.shrink": {"low": 0, "hihg": 1}})
    with pytest.raises(ConfigError, match="at least one value"):
        SearchSpace.from_raw({"model.shrink": []})
    with pytest.raises(ConfigError, match="non-empty mapping"):
        SearchSpace.from_raw({})


def test_every_search_space_in_experiments_sets_valid_keys_of_its_base_config(repo_root):
    from dynint.config.loader import load_config, parse_config, read_raw_config
    from dynint.tune.search import with_params

    paths = sorted((repo_root / "experiments").rglob("spaces/*.yaml"))
    assert paths
    for path in paths:
        base = path.parent.parent / f"{path.stem.split('-')[0]}.yaml"  # spaces/itemknn-time.yaml -> itemknn.yaml
        load_config(base)
        for point in SearchSpace.from_yaml(path).sample(10, seed=0):
            parse_config(with_params(read_raw_config(base), point))
