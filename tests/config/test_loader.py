from pathlib import Path

import pytest
import yaml

from dynint.config import load_config, parse_config
from dynint.config.loader import apply_overrides, dump_config
from dynint.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_experiment_config_loads_and_round_trips():
    # spaces/ holds `dynint tune` search spaces (tests/tune/test_space.py loads those).
    paths = sorted(p for p in (REPO_ROOT / "experiments").rglob("*.yaml") if "spaces" not in p.parts)
    assert paths, "experiments/ holds no configs"
    for path in paths:
        config = load_config(path)
        assert parse_config(yaml.safe_load(dump_config(config))) == config


def test_dotted_overrides_set_nested_typed_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ndata:\n  name: ml-100k\n")
    config = load_config(path, ["data.min_user_interactions=5", "eval.ks=[1, 3]", "seed=7", "data.rating_threshold=4"])
    assert config.data.min_user_interactions == 5
    assert config.eval.ks == (1, 3)
    assert config.seed == 7
    assert config.data.rating_threshold == 4.0


def test_unknown_key_names_the_nearest_valid_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  nmae: ml-100k\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'data.nmae'; did you mean 'data.name'\?"):
        load_config(path)


def test_unknown_override_key_names_the_nearest_valid_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    with pytest.raises(ConfigError, match="did you mean 'eval.exclude_seen'"):
        load_config(path, ["eval.exclude_sen=false"])


def test_wrong_type_names_the_key_and_expected_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: three\n")
    with pytest.raises(ConfigError, match="seed: expected an integer, got 'three'"):
        load_config(path)


def test_literal_choices_are_enforced():
    with pytest.raises(ConfigError, match="split.kind: 'random' is not one of"):
        parse_config({"split": {"kind": "random"}})


def test_unknown_model_name_suggests_a_registered_one():
    with pytest.raises(ConfigError, match="model.name: unknown model 'poprek'; did you mean 'poprec'"):
        parse_config({"model": {"name": "poprek"}})


def test_unknown_model_option_is_reported_under_model():
    with pytest.raises(ConfigError, match="unknown config key 'model.topk'"):
        parse_config({"model": {"name": "poprec", "topk": 3}})


def test_override_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["seed"])
