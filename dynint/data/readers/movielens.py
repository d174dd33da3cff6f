"""GroupLens MovieLens releases: 100K (`u.data`), 1M (`ratings.dat`) and the CSV ones (20M, 25M, latest).

Each reader takes the unpacked release folder; the movie file, when present, gives token feature `genres`
and text `title`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.readers._build import build_interactions, with_item_features
from dynint.data.readers._lines import check_header, open_text, parse_numbers, read_numeric_table, read_table
from dynint.errors import DataFormatError

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
NO_GENRES = "(no genres listed)"  # the CSV releases' placeholder for a movie without genres
RATING_COLUMNS = {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}


def read_movielens_100k(directory: Path | str) -> Interactions:
    """`u.data` (tab-separated `user item rating timestamp`) and `u.item` (pipe-separated, Latin-1:
    id|title|release date|video release date|IMDb URL|one 0/1 flag per genre of `u.genre`)."""
    directory = Path(directory)
    ratings_path = directory / "u.data"
    interactions = _from_ratings(ratings_path, read_numeric_table(ratings_path, "\t", RATING_COLUMNS))
    movies_path = directory / "u.item"
    if not movies_path.exists():
        return interactions
    genres = _read_100k_genres(directory / "u.genre")
    names = ["movie_id", "title", "release_date", "video_release_date", "url", *genres]
    movies = read_table(movies_path, "|", names, encoding="latin-1")
    flags = np.stack([movies.numbers(genre, np.int64) for genre in genres], axis=1) != 0
    movie_genres = [[genre for genre, flag in zip(genres, row, strict=True) if flag] for row in flags]
    ids = movies.numbers("movie_id", np.int64)
    return _with_movies(interactions, movies_path, ids, movies.columns["title"], movie_genres)


def _read_100k_genres(path: Path) -> Sequence[str]:
    """Genre names by flag column from `u.genre` lines `name|index`, else the standard 19."""
    if not path.exists():
        return GENRES_100K
    table = read_table(path, "|", ["genre", "index"], encoding="latin-1")
    index = table.numbers("index", np.int64)
    if sorted(index) != list(range(len(index))):
        raise DataFormatError(path, f"expected genre indices 0..{len(index) - 1}, got {sorted(index)}")
    return [table.columns["genre"][i] for i in np.argsort(index)]


def read_movielens_1m(directory: Path | str) -> Interactions:
    """`ratings.dat` (`UserID::MovieID::Rating::Timestamp`) and `movies.dat` (`MovieID::Title::Genres`,
    genres separated by `|`), both Latin-1."""
    directory = Path(directory)
    ratings_path = directory / "ratings.dat"
    ratings = read_numeric_table(ratings_path, "::", RATING_COLUMNS, encoding="latin-1")
    interactions = _from_ratings(ratings_path, ratings)
    movies_path = directory / "movies.dat"
    if not movies_path.exists():
        return interactions
    movies = read_table(movies_path, "::", ["movie_id", "title", "genres"], encoding="latin-1")
    ids = movies.numbers("movie_id", np.int64)
    genres = [_split_genres(text) for text in movies.columns["genres"]]
    return _with_movies(interactions, movies_path, ids, movies.columns["title"], genres)


def read_movielens_csv(directory: Path | str) -> Interactions:
    """`ratings.csv` (header `userId,movieId,rating,timestamp`) and `movies.csv` (`movieId,title,genres`,
    titles quoted when they contain commas), as in ML-20M, ML-25M and ml-latest."""
    directory = Path(directory)
    ratings_path = directory / "ratings.csv"
    columns = dict(zip(["userId", "movieId", "rating", "timestamp"], RATING_COLUMNS.values(), strict=True))
    ratings = read_numeric_table(ratings_path, ",", columns, header=True)
    interactions = _from_ratings(ratings_path, dict(zip(RATING_COLUMNS, ratings.values(), strict=True)))
    movies_path = directory / "movies.csv"
    if not movies_path.exists():
        return interactions
    ids, titles, genres, line_numbers = [], [], [], []
    with open_text(movies_path) as file:
        reader = csv.reader(file)
        check_header(movies_path, ",".join(next(reader, [])), ["movieId", "title", "genres"], ",")
        for row in reader:
            if not row:
                continue
            if len(row) != 3:
                raise DataFormatError(
                    movies_path, f"expected 3 columns (movieId title genres), found {len(row)}", reader.line_num
                )
            ids.append(row[0])
            titles.append(row[1])
            genres.append(_split_genres(row[2]))
            line_numbers.append(reader.line_num)
    ids = parse_numbers(movies_path, ids, np.array(line_numbers), np.int64, "movieId")
    return _with_movies(interactions, movies_path, ids, titles, genres)


def _from_ratings(path: Path, ratings: dict[str, np.ndarray]) -> Interactions:
    return build_interactions(path, ratings["user"], ratings["item"], ratings["timestamp"], ratings["rating"])


def _split_genres(text: str) -> list[str]:
    return [] if text in ("", NO_GENRES) else text.split("|")


def _with_movies(
    interactions: Interactions, path: Path, ids: np.ndarray, titles: Sequence[str], genres: Sequence[list[str]]
) -> Interactions:
    raw_ids = ids.astype(str)
    return with_item_features(
        interactions,
        path,
        {"genres": dict(zip(raw_ids, genres, strict=True))},
        {"title": dict(zip(raw_ids, titles, strict=True))},
    )
