"""Read any TensorFlow Datasets data set that has user, item and time features, without TensorFlow.

Records come through TFDS's random-access data source: ArrayRecord files whose `tf.train.Example`
protos TFDS parses with its own protobuf copy and numpy, so `tensorflow-datasets` and
`array-record` suffice (`pip install 'dynint[tfds]'`).
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from dynint.data.interactions import Interactions
from dynint.errors import ConfigError, DataFormatError, DatasetNotFoundError

# Feature names tried, in order, when a key is not given.
USER_KEYS = ("user_id", "user")
ITEM_KEYS = ("movie_id", "item_id", "item")
TIME_KEYS = ("timestamp", "time")
RATING_KEYS = ("user_rating", "rating")

# TFDS registers its built-in builders by importing these packages, but stops at the first one that
# fails to import (`nearest_neighbors` needs h5py), leaving later ones such as `structured` (home of
# `movielens`) unregistered. Importing each on its own makes every importable builder findable.
_BUILDER_PACKAGES = (
    "audio",
    "graphs",
    "image",
    "image_classification",
    "object_detection",
    "nearest_neighbors",
    "question_answering",
    "d4rl",
    "ranking",
    "recommendation",
    "rl_unplugged",
    "rlds.datasets",
    "robotics",
    "robomimic",
    "structured",
    "summarization",
    "text",
    "text_simplification",
    "time_series",
    "translate",
    "video",
    "vision_language",
)
_READ_BATCH = 10_000


def load_tfds(
    name: str,
    data_dir: Path | None = None,
    *,
    split: str = "train",
    user_key: str | None = None,
    item_key: str | None = None,
    time_key: str | None = None,
    rating_key: str | None = None,
    download: bool = False,
) -> Interactions:
    """Read split `split` of the TFDS data set `name` (e.g. `movielens/1m-ratings`) as `Interactions`.

    `data_dir` is the TFDS data directory (default: TFDS's own, `$TFDS_DATA_DIR` or
    `~/tensorflow_datasets`). Keys left as None are found among common feature names; the rating
    is optional. With `download`, a data set not yet prepared is built in the array_record format.
    """
    tfds = _import_tfds()
    builder = _builder(tfds, name, data_dir)
    if not builder.is_prepared():
        if not download:
            raise DatasetNotFoundError(
                f"TFDS data set {name!r} is not prepared in {builder.data_dir}; pass download=True, or run "
                f"`tfds build {name} --file_format=array_record` with the same data directory"
            )
        builder.download_and_prepare(file_format="array_record")
    try:
        # Raw records, parsed below for the few features needed: 5-10x faster than TFDS decoding every feature.
        source = builder.as_data_source(split=split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    except NotImplementedError as err:
        raise DataFormatError(
            builder.data_dir, f"TFDS data set {name!r} is not stored as array_record, needed for reading: {err}"
        ) from err
    where = f"tfds:{name}[{split}]"
    keys = sorted(builder.info.features.keys())
    user = _required_key(name, keys, "user", user_key, USER_KEYS)
    item = _required_key(name, keys, "item", item_key, ITEM_KEYS)
    time = _required_key(name, keys, "time", time_key, TIME_KEYS)
    rating_key = _feature_key(name, keys, "rating", rating_key, RATING_KEYS)
    columns = _read_columns(source, [user, item, time] + ([rating_key] if rating_key else []), where)
    return Interactions.from_raw_ids(
        _as_strings(columns[user]),
        _as_strings(columns[item]),
        _as_numbers(columns[time], np.float64, where, time),
        None if rating_key is None else _as_numbers(columns[rating_key], np.float32, where, rating_key),
        source=where,
    )


def _import_tfds() -> ModuleType:
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise ImportError(
            "reading TFDS data sets needs tensorflow-datasets and array-record: pip install 'dynint[tfds]'"
        ) from err
    return tfds


def _builder(tfds: ModuleType, name: str, data_dir: Path | None) -> Any:
    """The TFDS builder for `name`: from its prepared files in `data_dir`, else from its code."""
    kwargs = {} if data_dir is None else {"data_dir": str(data_dir)}
    try:
        return tfds.builder(name, **kwargs)
    except tfds.core.DatasetNotFoundError:
        pass
    for package in _BUILDER_PACKAGES:
        with contextlib.suppress(ImportError):
            importlib.import_module(f"tensorflow_datasets.{package}")
    try:
        return tfds.builder(name, **kwargs)
    except tfds.core.DatasetNotFoundError:
        where = f" or prepared in {data_dir}" if data_dir is not None else ""
        raise ConfigError(f"TFDS has no data set {name!r} (none registered{where})") from None


def _feature_key(name: str, keys: list[str], role: str, key: str | None, candidates: tuple[str, ...]) -> str | None:
    """The feature holding `role` (user, item, ...): `key` when given, else the first of `candidates` present."""
    if key is not None and key not in keys:
        raise ConfigError(f"TFDS data set {name!r} has no feature {key!r} ({role}_key); its features are {keys}")
    return key if key is not None else next((c for c in candidates if c in keys), None)


def _required_key(name: str, keys: list[str], role: str, key: str | None, candidates: tuple[str, ...]) -> str:
    found = _feature_key(name, keys, role, key, candidates)
    if found is None:
        raise ConfigError(
            f"TFDS data set {name!r}: no {role} feature among {keys} (looked for {list(candidates)}); pass {role}_key"
        )
    return found


def _read_columns(source: Any, keys: list[str], where: str) -> dict[str, list]:
    """Every record's value of each of `keys`, from raw `tf.train.Example` records read in batches."""
    from google.protobuf.message import DecodeError
    from tensorflow_datasets.proto import tf_example_pb2  # TFDS's own copy of the proto: no TensorFlow

    columns: dict[str, list] = {k: [] for k in keys}
    value_lists: dict[str, str] = {}  # feature -> which of bytes_list / int64_list / float_list holds it
    for start in range(0, len(source), _READ_BATCH):
        batch = source.__getitems__(list(range(start, min(start + _READ_BATCH, len(source)))))
        for index, record in enumerate(batch, start):
            try:
                features = tf_example_pb2.Example.FromString(record).features.feature
            except (DecodeError, TypeError) as err:
                raise DataFormatError(where, f"record {index} is not a tf.train.Example: {err}") from err
            if not value_lists:
                value_lists = {k: features[k].WhichOneof("kind") or "bytes_list" for k in keys}
            for k in keys:
                values = getattr(features[k], value_lists[k]).value  # a missing feature reads as empty
                if len(values) != 1:
                    raise DataFormatError(where, f"record {index}: feature {k!r} has {len(values)} values; expected 1")
                columns[k].append(values[0])
    return columns


def _as_strings(values: list) -> np.ndarray:
    """Raw ids as strings: TFDS text features come back as UTF-8 bytes, integer ids as numbers."""
    return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values])


def _as_numbers(values: list, dtype: type, where: str, key: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise DataFormatError(where, f"feature {key!r} is not numeric: {err}") from err
