"""`load_tfds` reads a TFDS data set (array_record, random access) into `Interactions`, without TensorFlow.

The data sets are built here, from real ml-100k rows, by `GeneratorBasedBuilder`s defined in this
module; TFDS writes array_record files and serializes examples with its own protobuf copy, so
neither building nor reading needs TensorFlow.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("array_record")
pytest.importorskip("importlib_resources", reason="tensorflow-datasets needs it to build a data set")

from dynint.data.registry import load_dataset  # noqa: E402
from dynint.data.tfds_source import load_tfds  # noqa: E402
from dynint.errors import ConfigError, DatasetNotFoundError  # noqa: E402


class DynintMl100kSample(tfds.core.GeneratorBasedBuilder):
    """The first rows of ml-100k with MovieLens's TFDS feature names."""

    VERSION = tfds.core.Version("1.0.0")
    rows: list[tuple[str, ...]] = []  # set by the `tfds_dir` fixture

    def _info(self):
        features = {"user_id": tfds.features.Text(), "movie_id": tfds.features.Text()}
        features |= {"timestamp": np.int64, "user_rating": np.float32}
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, (user, item, rating, timestamp) in enumerate(self.rows):
            yield i, {"user_id": user, "movie_id": item, "timestamp": int(timestamp), "user_rating": float(rating)}


class DynintRenamedSample(tfds.core.GeneratorBasedBuilder):
    """Integer ids under names `load_tfds` does not guess, and no rating."""

    VERSION = tfds.core.Version("1.0.0")
    rows: list[tuple[str, ...]] = []

    def _info(self):
        features = tfds.features.FeaturesDict({"uid": np.int64, "iid": np.int64, "when": np.int64})
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, (user, item, _, timestamp) in enumerate(self.rows):
            yield i, {"uid": int(user), "iid": int(item), "when": int(timestamp)}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory, ml100k_rows):
    data_dir = tmp_path_factory.mktemp("tfds")
    DynintMl100kSample.rows, DynintRenamedSample.rows = ml100k_rows, ml100k_rows[:100]
    for builder_cls in (DynintMl100kSample, DynintRenamedSample):
        builder_cls(data_dir=str(data_dir)).download_and_prepare(file_format="array_record")
    return data_dir


def test_load_tfds_reads_the_same_events_as_the_source_rows(tfds_dir, ml100k_rows):
    data = load_tfds("dynint_ml100k_sample", data_dir=tfds_dir)
    assert len(data) == len(ml100k_rows)
    assert data.num_users == len({r[0] for r in ml100k_rows})
    assert data.num_items == len({r[1] for r in ml100k_rows})
    read = sorted(
        zip(data.user_ids[data.user], data.item_ids[data.item], data.timestamp.astype(int), data.rating, strict=True)
    )
    expected = sorted((u, i, int(t), float(r)) for u, i, r, t in ml100k_rows)
    assert read == expected
    assert data.has_timestamps and data.source == "tfds:dynint_ml100k_sample[train]"


def test_load_tfds_needs_no_tensorflow(tfds_dir):
    load_tfds("dynint_ml100k_sample", data_dir=tfds_dir)
    assert "tensorflow" not in sys.modules


def test_explicit_keys_read_integer_ids_and_no_rating(tfds_dir, ml100k_rows):
    data = load_tfds("dynint_renamed_sample", data_dir=tfds_dir, user_key="uid", item_key="iid", time_key="when")
    assert data.rating is None
    assert sorted(zip(data.user_ids[data.user], data.item_ids[data.item], strict=True)) == sorted(
        (u, i) for u, i, _, _ in ml100k_rows[:100]
    )


def test_undetectable_field_names_the_data_set_and_its_features(tfds_dir):
    with pytest.raises(ConfigError, match=r"'dynint_renamed_sample': no user feature among \['iid', 'uid', 'when'\]"):
        load_tfds("dynint_renamed_sample", data_dir=tfds_dir)
    with pytest.raises(ConfigError, match="no feature 'item' .*'movie_id'"):
        load_tfds("dynint_ml100k_sample", data_dir=tfds_dir, item_key="item")


def test_unprepared_data_set_is_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not prepared"):
        load_tfds("dynint_ml100k_sample", data_dir=tmp_path)


def test_unknown_tfds_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no data set 'no_such_dynint_data'"):
        load_tfds("no_such_dynint_data", data_dir=tmp_path)


def test_registry_routes_tfds_names(tfds_dir, ml100k_rows):
    assert len(load_dataset("tfds:dynint_ml100k_sample", tfds_dir)) == len(ml100k_rows)
