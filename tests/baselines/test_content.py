import numpy as np
import pytest

from baselines.base import FitData
from baselines.content import ContentBased, ContentConfig, tfidf_item_profiles
from baselines.recency import RecencyConfig
from dynint.config import parse_config
from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.runner import run_experiment

# Items 1..3 (row 0 is padding). Token feature "tags" (vocabulary [PAD], a, b, c):
# item 1 {a, b}, item 2 {a}, item 3 {c}. Text "title": "Day, dawn", "Dawn", "Night night day".
FEATURES = ItemFeatures(
    tokens={"tags": Ragged.from_rows([[], [1, 2], [1], [3]])},
    vocabularies={"tags": np.array(["[PAD]", "a", "b", "c"])},
    text={"title": ["", "Day, dawn", "Dawn", "Night night day"]},
)


def test_tfidf_profile_equals_the_hand_computed_toy_case():
    # N = 3 items with terms; df(a) = 2, df(b) = 1, df(c) = 1: idf = ln(3/2), ln 3, ln 3.
    # Item 1 = (ln 1.5, ln 3) / norm over (a, b); item 2 = a alone -> (1, 0, 0).
    profiles = tfidf_item_profiles(FEATURES, 3, ("tags",)).toarray()
    a, b = np.log(1.5), np.log(3)
    np.testing.assert_allclose(profiles[1, 1:3], np.array([a, b]) / np.hypot(a, b))
    np.testing.assert_allclose(profiles[2, 1:], [1, 0, 0])
    assert not profiles[0].any()


def test_text_fields_are_split_into_counted_lower_case_words():
    # Words (sorted): dawn (df 2), day (df 2), night (df 1); N = 3, so idf ln 1.5, ln 1.5, ln 3.
    # Item 3: night twice, day once -> (0, ln 1.5, 2 ln 3) / norm.
    profiles = tfidf_item_profiles(FEATURES, 3, ("title",)).toarray()
    assert profiles.shape == (4, 3)
    item3 = np.array([0, np.log(1.5), 2 * np.log(3)])
    np.testing.assert_allclose(profiles[3], item3 / np.linalg.norm(item3))
    both = tfidf_item_profiles(FEATURES, 3).toarray()
    assert both.shape == (4, 7)  # 4 tag columns (with [PAD]) + 3 words
    with pytest.raises(ValueError, match="genre"):
        tfidf_item_profiles(FEATURES, 3, ("genre",))


def test_score_is_the_cosine_between_the_user_profile_and_each_item():
    data = FitData(Ragged.from_rows([[2], [1, 3]]), 2, 3, item_features=FEATURES)
    model = ContentBased(ContentConfig(fields=("tags",), recency=RecencyConfig("none"))).fit(data)
    scores = model.score(np.array([0]), Ragged.from_rows([[2]]), np.array([1, 2, 3]))
    a, b = np.log(1.5), np.log(3)
    np.testing.assert_allclose(scores, [[a / np.hypot(a, b), 1, 0]])
    pairs = model.score_pairs(np.array([0, 0]), Ragged.from_rows([[2], [2]]), np.array([1, 3]))
    np.testing.assert_allclose(pairs, [a / np.hypot(a, b), 0])


def test_fit_without_item_features_fails_clearly():
    with pytest.raises(ValueError, match="side features"):
        ContentBased(ContentConfig()).fit(FitData(Ragged.from_rows([[1]]), 1, 1))


def test_items_absent_from_the_fitted_events_are_scored_by_their_features():
    # Only item 3 is ever fitted; item 1 shares tag "a" with the history item 2 and wins.
    data = FitData(Ragged.from_rows([[3]]), 1, 3, item_features=FEATURES)
    model = ContentBased(ContentConfig(fields=("tags",))).fit(data)
    scores = model.score(np.array([0]), Ragged.from_rows([[2]]), np.array([1, 2, 3]))[0]
    assert scores[0] > 0 and scores[2] == 0


def _cold_item_test_hit_rate(model: dict, informativeness: float, output_dir) -> float:
    synthetic = {"num_users": 300, "num_items": 100, "num_clusters": 5, "text_informativeness": informativeness}
    config = parse_config(
        {
            "data": {"name": "synthetic", "synthetic": {**synthetic, "genre_accuracy": 0.0}},
            "split": {"kind": "cold-items", "cold_item_fraction": 0.2},
            "model": model,
            "output_dir": str(output_dir),
        }
    )
    return run_experiment(config, progress=False).metrics["test"]["HR@10"]


def test_on_cold_items_text_lifts_content_above_chance_where_popularity_finds_nothing(tmp_path):
    # 20 cold test items among 100, so ranking at random puts the target in the top 10 about 10% of the time.
    content = {"name": "content", "fields": ["description"]}
    assert _cold_item_test_hit_rate({"name": "poprec"}, 1.0, tmp_path) == 0.0
    assert _cold_item_test_hit_rate(content, 0.0, tmp_path) < 0.2
    assert _cold_item_test_hit_rate(content, 1.0, tmp_path) > 0.3
