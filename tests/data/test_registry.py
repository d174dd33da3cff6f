"""The data-set registry: specs are complete, shared data sets load with their published sizes,
missing data fails with directions, downloads land verified and unpacked."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from dynint.data import registry
from dynint.data.download import ChecksumError
from dynint.data.paths import shared_data_dir
from dynint.data.registry import DATASETS, DatasetSpec, get_spec, is_available, load_dataset, register
from dynint.errors import ConfigError, DatasetNotFoundError

S3REC = ("amazon-beauty", "amazon-sports", "amazon-toys", "yelp", "lastfm")
MOVIELENS = ("ml-100k", "ml-1m", "ml-20m", "ml-25m", "ml-latest-small")
SHARED_DATA = shared_data_dir()


def test_every_registered_spec_has_a_loader_and_files():
    assert set(MOVIELENS + S3REC) <= set(DATASETS)
    for name, spec in DATASETS.items():
        assert spec.name == name and callable(spec.load) and spec.files and spec.citation
        assert all(f and not f.startswith("/") for layout in spec.layouts for f in layout)


def test_movielens_specs_point_at_grouplens_with_checksums():
    for name in MOVIELENS:
        spec = get_spec(name)
        assert spec.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        assert spec.sha256 is not None and len(spec.sha256) == 64 and spec.archive_root == name


def test_s3rec_specs_have_no_url_but_a_homepage():
    for name in S3REC:
        assert get_spec(name).url is None and "S3Rec" in get_spec(name).homepage


@pytest.mark.parametrize(
    ("name", "users", "items", "events"),
    [
        ("ml-100k", 943, 1682, 100_000),
        ("amazon-beauty", 22_363, 12_101, 198_502),
        ("amazon-sports", 35_598, 18_357, 296_337),
    ],
)
def test_shared_data_sets_load_with_published_sizes(name, users, items, events):
    if not is_available(name, SHARED_DATA):
        pytest.skip(f"{name} is not in {SHARED_DATA}")
    data = load_dataset(name, SHARED_DATA)
    assert (data.num_users, data.num_items, len(data)) == (users, items, events)


def test_unknown_name_suggests_the_nearest_registered_one():
    with pytest.raises(ConfigError, match="did you mean 'ml-100k'"):
        get_spec("ml100k")
    with pytest.raises(ConfigError, match="did you mean 'amazon-beauty'"):
        load_dataset("amazon-beuty")


def test_missing_data_set_names_the_expected_path_and_the_url(tmp_path):
    with pytest.raises(DatasetNotFoundError) as raised:
        load_dataset("ml-1m", tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "ml-1m") in message and "ratings.dat" in message
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message and "download=True" in message


def test_missing_data_set_without_url_says_where_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no official download URL.*CIKM2020-S3Rec") as raised:
        load_dataset("yelp", tmp_path, download=True)
    assert str(tmp_path / "yelp") in str(raised.value) and "Yelp.txt" in str(raised.value)


def test_ml_100k_is_available_in_either_layout(tmp_path):
    assert not is_available("ml-100k", tmp_path)
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "ml-100k.inter").write_text("user_id:token\titem_id:token\n")
    assert is_available("ml-100k", tmp_path)
    assert registry.dataset_path("ml-100k", tmp_path) == tmp_path / "ml-100k"


def test_register_refuses_a_duplicate_name():
    with pytest.raises(ConfigError, match="already registered"):
        register(get_spec("ml-100k"))


def test_spec_requires_files_and_a_checksum_with_a_url():
    with pytest.raises(ConfigError, match="files"):
        DatasetSpec("x", "", "x", (), lambda folder: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigError, match="sha256"):
        DatasetSpec("x", "", "x", ("a",), lambda folder: None, url="http://example.invalid/x.zip")  # type: ignore


@pytest.fixture
def local_ml_100k(local_server, ml100k_grouplens_zip):
    """`ml-100k` as registered, but downloaded from the local server."""
    local_server.routes["/ml-100k.zip"] = (ml100k_grouplens_zip.zip_bytes, "ok")
    spec = DatasetSpec(
        name="test-local-ml-100k",
        description="the first rows of ml-100k, zipped in the GroupLens layout",
        folder="ml-100k",
        files=get_spec("ml-100k").files,
        load=get_spec("ml-100k").load,
        url=local_server.url("/ml-100k.zip"),
        sha256=hashlib.sha256(ml100k_grouplens_zip.zip_bytes).hexdigest(),
        archive_root="ml-100k",
        citation="test",
    )
    register(spec)
    yield spec
    del DATASETS[spec.name]


def test_download_fetches_verifies_unpacks_and_loads(local_ml_100k, ml100k_grouplens_zip, tmp_path):
    with pytest.raises(DatasetNotFoundError):
        load_dataset(local_ml_100k.name, tmp_path)
    data = load_dataset(local_ml_100k.name, tmp_path, download=True)
    assert len(data) == len(ml100k_grouplens_zip.rows)
    assert (data.num_users, data.num_items) == (ml100k_grouplens_zip.num_users, ml100k_grouplens_zip.num_items)
    expected = sorted((u, i, float(r), float(t)) for u, i, r, t in ml100k_grouplens_zip.rows)
    read = zip(data.user_ids[data.user], data.item_ids[data.item], data.rating, data.timestamp, strict=True)
    assert sorted(read) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k", "ml-100k.zip"]
    assert sorted(p.name for p in (tmp_path / "ml-100k").iterdir()) == ["u.data", "u.item"]
    assert "genres" in data.item_features.tokens


def test_download_with_a_wrong_checksum_leaves_the_data_dir_empty(local_ml_100k, tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, local_ml_100k.name, replace(local_ml_100k, sha256="0" * 64))
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        load_dataset(local_ml_100k.name, tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []


def test_an_amazon_2014_folder_with_metadata_gives_items_their_text(tmp_path):
    import gzip
    import json

    from dynint.data.item_content import item_documents

    folder = tmp_path / "amazon2014-beauty"
    folder.mkdir()
    reviews = [
        {"reviewerID": "U1", "asin": "A1", "overall": 5.0, "unixReviewTime": 1390000000},
        {"reviewerID": "U1", "asin": "B2", "overall": 4.0, "unixReviewTime": 1390086400},
        {"reviewerID": "U2", "asin": "A1", "overall": 3.0, "unixReviewTime": 1390172800},
    ]
    meta = [
        "{'asin': 'A1', 'title': 'Mineral Powder', 'brand': 'Bare', 'categories': [['Beauty', 'Makeup']]}",
        "{'asin': 'B2', 'title': 'Rose Shampoo', 'description': 'Gentle on hair.'}",
    ]
    with gzip.open(folder / "reviews_Beauty_5.json.gz", "wt") as file:
        file.writelines(json.dumps(r) + "\n" for r in reviews)
    with gzip.open(folder / "meta_Beauty.json.gz", "wt") as file:
        file.writelines(line + "\n" for line in meta)

    assert is_available("amazon2014-beauty", tmp_path) and not is_available("amazon2014-sports", tmp_path)
    interactions = load_dataset("amazon2014-beauty", tmp_path)
    documents = dict(zip(interactions.item_ids, item_documents(interactions), strict=True))
    assert "Mineral Powder" in documents["A1"] and "Bare" in documents["A1"]
    assert "Rose Shampoo" in documents["B2"] and "Gentle on hair." in documents["B2"]
