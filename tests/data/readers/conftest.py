"""Fixtures for the reader tests: the real ml-100k rows, parsed here without the readers, to rewrite in
other public formats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Movielens100k:
    """Rows of the shared RecBole ml-100k files: ratings `(user, item, rating, timestamp)` and movies
    `(item, title, year, genres)`."""

    ratings: list[tuple[str, str, str, str]]
    movies: list[tuple[str, str, str, list[str]]]


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]


@pytest.fixture(scope="session")
def ml100k_dir(shared_data: Path) -> Path:
    return shared_data / "ml-100k"


@pytest.fixture(scope="session")
def ml100k_source(ml100k_dir: Path) -> Movielens100k:
    ratings = [(user, item, rating, timestamp) for user, item, rating, timestamp in _rows(ml100k_dir / "ml-100k.inter")]
    movies = [(item, title, year, genres.split()) for item, title, year, genres in _rows(ml100k_dir / "ml-100k.item")]
    return Movielens100k(ratings, movies)
