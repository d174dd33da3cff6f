"""The `content-pretrained` baseline: cosine between embedded item documents and the user's history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines.base import FitData
from baselines.content_pretrained import PretrainedContent, PretrainedContentConfig
from baselines.recency import RecencyConfig
from dynint.config import parse_config
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.pretrained.defaults import DEFAULT_CHECKPOINTS, DEFAULT_TEXT_MODEL, CheckpointNotInstalledError
from dynint.runner import run_experiment

WORDS = ("space", "robot", "love", "paris", "war")


class BagOfWordsEmbedder:
    """A `TextEmbedder` whose vector is the word counts of the text over `WORDS` (unknown words
    are dropped), so cosines can be computed by hand."""

    name = "bag-of-words"
    fingerprint = "bag-of-words-v1"
    pooling = "sum"
    max_length = 16
    dimension = len(WORDS)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        ids = [[WORDS.index(word) for word in text.lower().split() if word in WORDS] for text in texts]
        return [row or [0] for row in ids]  # at least one token; an all-unknown text would be "space"

    def embed_tokens(self, token_ids: jax.Array, valid: jax.Array) -> jax.Array:
        return jnp.sum(jax.nn.one_hot(token_ids, self.dimension) * valid[..., None], axis=1)


@pytest.fixture
def default_encoder_installed() -> None:
    try:
        DEFAULT_CHECKPOINTS[DEFAULT_TEXT_MODEL].path()
    except CheckpointNotInstalledError as error:
        pytest.skip(str(error))


# Items 1..4: titles of words; item 4 has no text at all.
FEATURES = ItemFeatures(text={"title": ["", "space robot", "space war", "love paris", ""]})


def _fit(sequences: list[list[int]], tmp_path: Path, **config) -> PretrainedContent:
    data = FitData(Ragged.from_rows(sequences), len(sequences), 4, item_features=FEATURES)
    config = PretrainedContentConfig(cache_dir=str(tmp_path / "cache"), **config)
    return PretrainedContent(config, embedder=BagOfWordsEmbedder()).fit(data)


def test_score_is_the_cosine_between_the_weighted_history_and_each_item(tmp_path):
    model = _fit([[1, 3]], tmp_path, recency=RecencyConfig("none"))
    scores = model.score(np.array([0]), Ragged.from_rows([[1, 3]]), np.array([1, 2, 3, 4]))
    # Unit item vectors over (space, robot, love, paris, war): 1 = (1, 1, 0, 0, 0) / sqrt 2,
    # 2 = (1, 0, 0, 0, 1) / sqrt 2, 3 = (0, 0, 1, 1, 0) / sqrt 2. The user is their mean, (1, 1, 1, 1, 0) / 2.
    np.testing.assert_allclose(scores, [[1 / np.sqrt(2), 1 / (2 * np.sqrt(2)), 1 / np.sqrt(2), 0.0]], rtol=1e-6)
    pairs = model.score_pairs(np.array([0, 0]), Ragged.from_rows([[1, 3], [1, 3]]), np.array([2, 4]))
    np.testing.assert_allclose(pairs, [1 / (2 * np.sqrt(2)), 0.0], atol=1e-7)


def test_recency_weights_favour_the_latest_history_item(tmp_path):
    model = _fit([[3, 1]], tmp_path, recency=RecencyConfig("position", half_life=0.5))
    scores = model.score(np.array([0]), Ragged.from_rows([[3, 1]]), np.array([2, 3]))[0]
    assert scores[0] > scores[1]  # item 2 shares "space" with the latest item 1


def test_items_never_seen_in_training_are_ranked_by_their_text(tmp_path):
    # Item 2 occurs in no fitted sequence (a cold item), yet it outranks item 3 for a "space" fan.
    model = _fit([[1]], tmp_path)
    scores = model.score(np.array([0]), Ragged.from_rows([[1]]), np.array([2, 3]))[0]
    assert scores[0] > 0 and scores[1] == 0


def test_attribute_ids_without_text_fail_naming_the_alternative(tmp_path):
    attributes = ItemFeatures(
        tokens={"attributes": Ragged.from_rows([[], [1], [2]])},
        vocabularies={"attributes": np.array(["[PAD]", "7", "9"])},
    )
    data = FitData(Ragged.from_rows([[1]]), 1, 2, item_features=attributes)
    model = PretrainedContent(PretrainedContentConfig(cache_dir=str(tmp_path)), embedder=BagOfWordsEmbedder())
    with pytest.raises(ConfigError, match=r"no item text.*\['attributes'\].*baseline `content` uses them"):
        model.fit(data)


def test_config_checks_the_batch_size():
    with pytest.raises(ConfigError, match="batch_size"):
        PretrainedContentConfig(batch_size=0)


def test_the_default_encoder_puts_similar_movies_closer(default_encoder_installed, tmp_path):
    movies = ItemFeatures(
        text={
            "title": [
                "",
                "Toy Story (1995). Genres: Animation, Children's, Comedy",
                "Aladdin (1992). Genres: Animation, Children's, Musical",
                "Scream (1996). Genres: Horror, Thriller",
            ]
        }
    )
    data = FitData(Ragged.from_rows([[1]]), 1, 3, item_features=movies)
    model = PretrainedContent(PretrainedContentConfig(cache_dir=str(tmp_path))).fit(data)
    scores = model.score(np.array([0]), Ragged.from_rows([[1]]), np.array([1, 2, 3]))[0]
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and scores[1] > scores[2]


def test_the_default_encoder_finds_cold_items_through_informative_text(default_encoder_installed, tmp_path):
    hit_rates = {}
    for informativeness in (0.0, 1.0):
        synthetic = {"num_users": 300, "num_items": 100, "num_clusters": 5, "text_informativeness": informativeness}
        config = parse_config(
            {
                "data": {"name": "synthetic", "synthetic": synthetic},
                "split": {"kind": "cold-items", "cold_item_fraction": 0.2},
                "model": {"name": "content-pretrained", "cache_dir": str(tmp_path / "cache")},
                "output_dir": str(tmp_path / "runs"),
            }
        )
        hit_rates[informativeness] = run_experiment(config, progress=False).metrics["test"]["HR@10"]
    # 20 cold test items among 100: chance puts the target in the top 10 about 10% of the time.
    assert hit_rates[0.0] < 0.2 and hit_rates[1.0] > 0.25
