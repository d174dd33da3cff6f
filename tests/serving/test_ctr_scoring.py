"""A trained CTR model recommends from the whole catalogue, scoring pairs as its protocol does."""

import numpy as np
import pytest
from flax import nnx

import dynint
from dynint.config import parse_config
from dynint.data.ragged import Ragged
from dynint.runner import run_experiment
from dynint.serving.ctr_scoring import CTRCatalogueScorer
from dynint.serving.explain import explain_user
from dynint.train.ctr_batches import predict_logits
from dynint.train.ctr_experiment import build_ctr_run_data
from tests.models.ctr.tiny_ctr import GENRES, MAX_LENGTH, MODEL_NAMES, NUM_ITEMS, tiny_batch, tiny_model


@pytest.fixture(scope="module")
def din_run(shared_data, tmp_path_factory):
    config = parse_config(
        {
            "name": "serve-din",
            "output_dir": str(tmp_path_factory.mktemp("runs")),
            # ml-100k's heaviest raters only, so that training takes seconds.
            "data": {"name": "ml-100k", "data_dir": str(shared_data), "min_user_interactions": 400},
            "model": {"name": "din", "embedding_size": 8, "mlp_sizes": [32, 16], "attention_sizes": [16]},
            "train": {"batch_size": 128, "max_length": 10, "max_epochs": 2, "early_stopping_metric": "AUC"},
        }
    )
    return run_experiment(config, progress=False).run_dir


def test_the_catalogue_scorer_gives_the_ctr_protocols_logits(din_run):
    run = dynint.load(din_run)
    ctr_data = build_ctr_run_data(run.config, run.data)
    scorer = run.scorer
    expected = predict_logits(scorer.graphdef, scorer.params, ctr_data, "test", 64)
    samples = ctr_data.test
    rows = np.arange(0, len(samples), max(1, len(samples) // 25))
    for row in rows:
        history = samples.histories[row][samples.histories[row] != 0]
        [[logit]] = scorer.score(
            samples.users[row : row + 1], Ragged.from_rows([history]), samples.targets[row : row + 1]
        )
        assert abs(logit - expected[row]) < 1e-5


def test_a_ctr_run_recommends_unseen_items_best_first_and_explains_them(din_run):
    run = dynint.load(din_run)
    user = str(run.data.interactions.user_ids[run.data.split.all_events.row_ids()[0]])
    recommendations = run.recommend_user(user, 5)
    seen = {str(run.data.interactions.item_ids[i]) for i in run.history_of(user)}
    assert len(recommendations) == 5 and not seen & {r.item for r in recommendations}
    scores = [r.score for r in recommendations]
    assert scores == sorted(scores, reverse=True)
    explanation = explain_user(run, user, k=3, window=5)  # DIN: its own target attention
    assert explanation.method == "target-attention" and explanation.weights.shape == (3, 5)
    assert not np.allclose(explanation.weights[0], explanation.weights[1])  # each recommendation its own reasons
    occluded = explain_user(run, user, k=3, window=5, method="occlusion")
    assert occluded.weights.shape == (3, 5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_ctr_model_scores_a_pair_as_its_own_forward_pass_does(name):
    model = tiny_model(name)
    graphdef, params = nnx.split(model)
    scorer = CTRCatalogueScorer(graphdef, params, {"genre": GENRES}, MAX_LENGTH)
    batch = tiny_batch()  # row 0: history 3, 7, 1 (with sampled negatives) and target 4; row 2: six items, target 12
    logits = np.asarray(model(batch)[0])
    histories = Ragged.from_rows([np.array([3, 7, 1]), np.array([1, 2, 3, 4, 5, 6])])
    scores = scorer.score(np.array([0, 2]), histories, np.arange(1, NUM_ITEMS + 1))
    np.testing.assert_allclose(scores[:, [3, 11]].diagonal(), logits[[0, 2]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["din", "dien"])
def test_target_attention_is_the_models_own_weight_for_each_target(name):
    model = tiny_model(name)
    graphdef, params = nnx.split(model)
    scorer = CTRCatalogueScorer(graphdef, params, {"genre": GENRES}, MAX_LENGTH)
    assert scorer.has_target_attention()
    batch = tiny_batch()  # row 2: history 1..6, target 12
    expected = np.asarray(model.attention_weights(batch))[2]
    np.testing.assert_allclose(scorer.target_attention(np.arange(1, 7), np.array([12]))[0], expected, rtol=1e-5)


def test_bst_has_no_target_attention_to_read():
    model = tiny_model("bst")
    graphdef, params = nnx.split(model)
    assert not CTRCatalogueScorer(graphdef, params, {"genre": GENRES}, MAX_LENGTH).has_target_attention()


def test_the_commands_method_choices_are_the_explainers():
    from dynint.cli.explain_command import METHODS as CLI_METHODS
    from dynint.serving.explain import METHODS

    assert CLI_METHODS == METHODS
