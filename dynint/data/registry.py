"""Named data sets: where each one's files live, how to read them, and where to download them.

`load_dataset("ml-1m")` is the one entry point configs use. A name `tfds:<tfds name>` (for example
`tfds:movielens/1m-ratings`) reads any TensorFlow Datasets data set through `tfds_source`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dynint.data.interactions import Interactions
from dynint.data.paths import DATA_DIR_ENV, resolve_data_dir
from dynint.errors import ConfigError, DatasetNotFoundError

TFDS_PREFIX = "tfds:"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set. `files` (relative to `<data dir>/<folder>`) must all exist for it to be
    available; `alternative_files` lists other accepted layouts, any one of which will do.
    `load` reads the data-set folder. `url` + `sha256` point at an archive whose folder
    `archive_root` becomes the data-set folder."""

    name: str
    description: str
    folder: str
    files: tuple[str, ...]
    load: Callable[[Path], Interactions]
    url: str | None = None
    sha256: str | None = None
    archive_root: str | None = None
    citation: str = ""
    homepage: str = ""
    alternative_files: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.files:
            raise ConfigError(f"data set {self.name!r}: `files` must name at least one file")
        if (self.url is None) != (self.sha256 is None):
            raise ConfigError(f"data set {self.name!r}: `url` and `sha256` must be given together")
        if self.name.startswith(TFDS_PREFIX):
            raise ConfigError(f"data set {self.name!r}: names starting with {TFDS_PREFIX!r} are reserved for TFDS")

    @property
    def layouts(self) -> tuple[tuple[str, ...], ...]:
        return (self.files, *self.alternative_files)


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec` under `spec.name`; a name may be registered once."""
    if spec.name in DATASETS:
        raise ConfigError(f"data set {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The spec registered as `name`; an unknown name fails naming the closest registered one."""
    try:
        return DATASETS[name]
    except KeyError:
        closest = difflib.get_close_matches(name, DATASETS, n=1, cutoff=0.0)
        hint = f"; did you mean {closest[0]!r}?" if closest else ""
        raise ConfigError(
            f"unknown data set {name!r}{hint} Registered: {', '.join(sorted(DATASETS))}; "
            f"or use '{TFDS_PREFIX}<name>' for a TensorFlow Datasets data set"
        ) from None


def dataset_path(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder the data set `name` is read from (it need not exist)."""
    return resolve_data_dir(data_dir) / get_spec(name).folder


def is_available(name: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether every file of one of the data set's layouts is present."""
    spec = get_spec(name)
    folder = resolve_data_dir(data_dir) / spec.folder
    return any(all((folder / f).is_file() for f in layout) for layout in spec.layouts)


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = False) -> Interactions:
    """Read the data set `name` from the data directory (see `paths.resolve_data_dir`).

    Missing files are downloaded, verified and unpacked when `download` is set and the data set
    has a URL; otherwise `DatasetNotFoundError` says where the files are expected and how to get them.
    """
    if name.startswith(TFDS_PREFIX):
        from dynint.data.tfds_source import load_tfds

        return load_tfds(
            name.removeprefix(TFDS_PREFIX), None if data_dir is None else Path(data_dir), download=download
        )
    spec = get_spec(name)
    root = resolve_data_dir(data_dir)
    folder = root / spec.folder
    if not is_available(name, root):
        if not (download and spec.url and spec.sha256):
            raise DatasetNotFoundError(_missing_message(spec, folder))
        _fetch(spec.url, spec.sha256, folder, spec.archive_root)
        if not is_available(name, root):
            raise DatasetNotFoundError(f"{spec.url} was unpacked into {folder} but lacks {', '.join(spec.files)}")
    return spec.load(folder)


def _fetch(url: str, sha256: str, folder: Path, archive_root: str | None) -> None:
    """Download the archive beside `folder` (kept, so a rerun skips the transfer) and unpack it as `folder`."""
    from dynint.data.download import download, extract_archive

    archive = download(url, folder.parent / Path(urlparse(url).path).name, sha256)
    extract_archive(archive, folder, root=archive_root)


def _missing_message(spec: DatasetSpec, folder: Path) -> str:
    expected = " or ".join(f"[{', '.join(layout)}]" for layout in spec.layouts)
    lines = [f"data set {spec.name!r} not found: expected {expected} in {folder}."]
    if spec.url:
        lines.append(f"Pass download=True to fetch {spec.url} and unpack it there.")
    else:
        lines.append(f"It has no official download URL; get the files from {spec.homepage} and put them in {folder}.")
    lines.append(f"(Choose the data directory with --data-dir or ${DATA_DIR_ENV}.)")
    return " ".join(lines)


# --- MovieLens (GroupLens). URLs and SHA-256 digests are those TensorFlow Datasets 4.9.10 records
# for the same archives, in tensorflow_datasets/url_checksums/movielens.txt.

_MOVIELENS_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. The MovieLens Datasets: History and Context. "
    "ACM Transactions on Interactive Intelligent Systems 5(4), 2015."
)
_GROUPLENS = "https://files.grouplens.org/datasets/movielens"


def _load_ml_100k(folder: Path) -> Interactions:
    """The GroupLens layout (u.data/u.item, as the official zip unpacks) or RecBole's atomic files."""
    from dynint.data.readers import read_movielens_100k, read_recbole_atomic

    if (folder / "u.data").is_file():
        return read_movielens_100k(folder)
    return read_recbole_atomic(folder, "ml-100k")


def _load_ml_1m(folder: Path) -> Interactions:
    from dynint.data.readers import read_movielens_1m

    return read_movielens_1m(folder)


def _load_movielens_csv(folder: Path) -> Interactions:
    from dynint.data.readers import read_movielens_csv

    return read_movielens_csv(folder)


def _movielens(
    name: str,
    description: str,
    files: tuple[str, ...],
    load: Callable[[Path], Interactions],
    sha256: str,
    alternative_files: tuple[tuple[str, ...], ...] = (),
) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        description=description,
        folder=name,
        files=files,
        load=load,
        url=f"{_GROUPLENS}/{name}.zip",
        sha256=sha256,
        archive_root=name,
        citation=_MOVIELENS_CITATION,
        homepage="https://grouplens.org/datasets/movielens/",
        alternative_files=alternative_files,
    )


register(
    _movielens(
        "ml-100k",
        "MovieLens 100K: 100,000 ratings (1-5) of 1,682 movies by 943 users, with Unix timestamps.",
        ("u.data", "u.item"),
        _load_ml_100k,
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        alternative_files=(("ml-100k.inter",),),
    )
)
register(
    _movielens(
        "ml-1m",
        "MovieLens 1M: 1,000,209 ratings of 3,706 movies by 6,040 users, with Unix timestamps.",
        ("ratings.dat", "movies.dat"),
        _load_ml_1m,
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    )
)
register(
    _movielens(
        "ml-20m",
        "MovieLens 20M: 20,000,263 ratings (0.5-5) by 138,493 users, with Unix timestamps.",
        ("ratings.csv", "movies.csv"),
        _load_movielens_csv,
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    )
)
register(
    _movielens(
        "ml-25m",
        "MovieLens 25M: 25,000,095 ratings (0.5-5) by 162,541 users, with Unix timestamps.",
        ("ratings.csv", "movies.csv"),
        _load_movielens_csv,
        "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    )
)
register(
    _movielens(
        "ml-latest-small",
        "MovieLens latest, small: about 100,000 ratings (0.5-5) by 610 users; the release changes over time.",
        ("ratings.csv", "movies.csv"),
        _load_movielens_csv,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    )
)


# --- The S3-Rec release (Zhou et al., CIKM 2020): one line per user, `user item item ...` in time
# order, plus `{item: [attribute ids]}`. No stable official download, so no URL.

_S3REC_CITATION = (
    "Kun Zhou et al. S3-Rec: Self-Supervised Learning for Sequential Recommendation with Mutual "
    "Information Maximization. CIKM 2020."
)
_S3REC_HOMEPAGE = "https://github.com/aHuiWang/CIKM2020-S3Rec (folder data/)"
_AMAZON_CITATION = (
    "J. McAuley, C. Targett, Q. Shi and A. van den Hengel. Image-based Recommendations on Styles and "
    "Substitutes. SIGIR 2015. R. He and J. McAuley. Ups and Downs. WWW 2016. "
)


def _s3rec(name: str, stem: str, description: str, citation: str) -> DatasetSpec:
    sequences, attributes = f"{stem}.txt", f"{stem}_item2attributes.json"

    def load(folder: Path) -> Interactions:
        from dynint.data.readers import read_s3rec

        return read_s3rec(folder / sequences, folder / attributes)

    return DatasetSpec(
        name=name,
        description=description,
        folder=name,
        files=(sequences, attributes),
        load=load,
        citation=citation + _S3REC_CITATION,
        homepage=_S3REC_HOMEPAGE,
    )


register(
    _s3rec(
        "amazon-beauty",
        "Beauty",
        "Amazon reviews, category Beauty, 5-core, as sequences: 22,363 users, 12,101 items, 198,502 events.",
        _AMAZON_CITATION,
    )
)
register(
    _s3rec(
        "amazon-sports",
        "Sports_and_Outdoors",
        "Amazon reviews, category Sports and Outdoors, 5-core: 35,598 users, 18,357 items, 296,337 events.",
        _AMAZON_CITATION,
    )
)
register(
    _s3rec(
        "amazon-toys",
        "Toys_and_Games",
        "Amazon reviews, category Toys and Games, 5-core, as sequences.",
        _AMAZON_CITATION,
    )
)
register(_s3rec("yelp", "Yelp", "Yelp business reviews as per-user sequences.", "Yelp Open Dataset. "))
register(
    _s3rec(
        "lastfm",
        "LastFM",
        "Last.fm artist listening (HetRec 2011) as per-user sequences.",
        "I. Cantador, P. Brusilovsky and T. Kuflik. HetRec 2011 workshop, RecSys 2011. ",
    )
)


# --- Amazon Review Data 2014 as released (McAuley et al.): 5-core reviews with the category's item
# metadata, so items carry text (title, brand, categories, description). No stable download, so no URL.


def _amazon_2014(name: str, category: str, description: str) -> DatasetSpec:
    reviews, meta = f"reviews_{category}_5.json.gz", f"meta_{category}.json.gz"

    def load(folder: Path) -> Interactions:
        from dynint.data.readers import read_amazon_5core

        return read_amazon_5core(folder / reviews, folder / meta)

    return DatasetSpec(
        name=name,
        description=description,
        folder=name,
        files=(reviews, meta),
        load=load,
        citation=_AMAZON_CITATION,
        homepage="https://cseweb.ucsd.edu/~jmcauley/datasets/amazon/links.html (5-core reviews and metadata)",
    )


for _name, _category, _label in (
    ("amazon2014-beauty", "Beauty", "Beauty"),
    ("amazon2014-sports", "Sports_and_Outdoors", "Sports and Outdoors"),
    ("amazon2014-toys", "Toys_and_Games", "Toys and Games"),
):
    register(
        _amazon_2014(
            _name,
            _category,
            f"Amazon reviews 2014, category {_label}, 5-core, with item metadata (title, brand, text).",
        )
    )
