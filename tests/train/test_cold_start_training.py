"""Under item cold start nothing of a held-out item reaches training: trained on the cold-items
split, an id model's vectors of the cold items are exactly their initial values."""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from dynint.config import parse_config
from dynint.data.prepared import prepare_data
from dynint.models.sasrec import SASRec, SASRecConfig
from dynint.train.batching import SequenceBatcher
from dynint.train.state import split_model
from dynint.train.step import sequence_loss_fn


def _config(loss: str):
    return parse_config(
        {
            "data": {"name": "synthetic", "synthetic": {"num_users": 200, "num_items": 120, "num_clusters": 6}},
            "split": {"kind": "cold-items", "cold_item_fraction": 0.1},
            "model": {
                "name": "sasrec",
                "hidden_size": 8,
                "num_layers": 1,
                "num_heads": 1,
                "inner_size": 16,
                "loss": loss,
            },
            "train": {"max_length": 16, "batch_size": 32, "bucket_lengths": [16]},
        }
    )


def _table_gradient(loss_name: str, catalogue_stage: str | None) -> tuple[np.ndarray, object]:
    config = _config(loss_name)
    split = prepare_data(config).split
    model = SASRec(
        SASRecConfig(hidden_size=8, num_layers=1, num_heads=1, inner_size=16, loss=loss_name),
        split.num_items,
        16,
        rngs=nnx.Rngs(params=0),
    )
    graphdef, params = split_model(model)
    candidates = None if catalogue_stage is None else split.training_catalogue(catalogue_stage)
    loss = sequence_loss_fn(graphdef, config.model, candidates)
    batcher = SequenceBatcher(split.train, model.objective, max_length=16, buckets=(16,), batch_size=32, max_tokens=512)
    total = None
    for batch in batcher.epoch(0, 1):
        gradient = jax.grad(loss)(params, batch, jax.random.key(1))
        rows = np.abs(np.asarray(gradient["embed"]["items"]["embedding"])).sum(axis=1)
        total = rows if total is None else total + rows
    return total, split


def test_no_gradient_reaches_a_cold_item_under_any_loss():
    for loss_name in ("ce", "sampled-softmax"):
        per_item, split = _table_gradient(loss_name, "valid")
        cold = np.union1d(split.cold_items["valid"], split.cold_items["test"])
        assert per_item[cold].max() == 0.0, loss_name
        assert (per_item[split.training_catalogue("valid")] > 0).mean() > 0.9, loss_name


def test_without_the_catalogue_the_softmax_would_push_cold_items_down():
    per_item, split = _table_gradient("ce", None)
    assert per_item[split.cold_items["test"]].min() > 0.0


def test_ctr_models_refuse_item_cold_start_since_their_negatives_cover_every_item(tmp_path):
    import pytest

    from dynint.errors import ConfigError
    from dynint.runner import run_experiment

    config = parse_config(
        {
            "output_dir": str(tmp_path),
            "data": {"name": "synthetic", "synthetic": {"num_users": 200, "num_items": 120, "num_clusters": 6}},
            "split": {"kind": "cold-items"},
            "model": {"name": "din", "embedding_size": 4, "mlp_sizes": [8], "attention_sizes": [8]},
            "train": {"max_length": 8, "early_stopping_metric": "AUC"},
        }
    )
    with pytest.raises(ConfigError, match="split.kind='cold-items'"):
        run_experiment(config, progress=False)
    assert not any(tmp_path.iterdir())
