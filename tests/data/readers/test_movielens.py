"""The MovieLens readers on the real ml-100k rows rewritten in each GroupLens layout, and on bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.readers import read_movielens_1m, read_movielens_100k, read_movielens_csv, read_recbole_atomic
from dynint.errors import DataFormatError

GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding=encoding)
    return path


def write_100k(directory: Path, source, genre_names: list[str] = GENRES) -> Path:
    write(directory / "u.data", ["\t".join(row) for row in source.ratings])
    movies = []
    for item, title, year, genres in source.movies:
        flags = "|".join("1" if genre in genres else "0" for genre in GENRES)
        movies.append(f"{item}|{title} ({year})|01-Jan-{year}||http://us.imdb.com/M/title-exact?{item}|{flags}")
    write(directory / "u.item", movies, encoding="latin-1")
    write(directory / "u.genre", [f"{name}|{i}" for i, name in enumerate(genre_names)] + [""])
    return directory


def write_1m(directory: Path, source) -> Path:
    write(directory / "ratings.dat", ["::".join(row) for row in source.ratings], encoding="latin-1")
    movies = [f"{item}::{title} ({year})::{'|'.join(genres)}" for item, title, year, genres in source.movies]
    write(directory / "movies.dat", movies, encoding="latin-1")
    return directory


def write_csv(directory: Path, source) -> Path:
    ratings = [f"{user},{item},{float(rating) - 0.5},{timestamp}" for user, item, rating, timestamp in source.ratings]
    write(directory / "ratings.csv", ["userId,movieId,rating,timestamp", *ratings])
    with open(directory / "movies.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["movieId", "title", "genres"])
        for item, title, year, genres in source.movies:
            writer.writerow([item, f"{title} ({year})", "|".join(genres) or "(no genres listed)"])
    return directory


def genres_of(interactions: Interactions, raw_item: str) -> list[str]:
    features = interactions.item_features
    item = list(interactions.item_ids).index(raw_item)
    return features.vocabularies["genres"][features.tokens["genres"][item]].tolist()


def title_of(interactions: Interactions, raw_item: str) -> str:
    return interactions.item_features.text["title"][list(interactions.item_ids).index(raw_item)]


@pytest.fixture(scope="module")
def recbole(ml100k_dir) -> Interactions:
    return read_recbole_atomic(ml100k_dir, "ml-100k")


@pytest.fixture(
    scope="module",
    params=[(write_100k, read_movielens_100k), (write_1m, read_movielens_1m), (write_csv, read_movielens_csv)],
    ids=["100k u.data", "1m ratings.dat", "csv ratings.csv"],
)
def layout(request, ml100k_source, tmp_path_factory) -> Interactions:
    writer, reader = request.param
    return reader(writer(tmp_path_factory.mktemp("movielens"), ml100k_source))


def test_every_layout_reads_the_same_events_as_the_recbole_files(layout, recbole):
    assert (layout.num_users, layout.num_items, len(layout)) == (943, 1682, 100_000)
    assert layout.has_timestamps
    for name in ("user", "item", "timestamp", "user_ids", "item_ids"):
        assert np.array_equal(getattr(layout, name), getattr(recbole, name)), name
    half_star_shift = 0.5 if "ratings.csv" in layout.source else 0.0  # write_csv stores rating - 0.5
    assert np.array_equal(layout.rating + half_star_shift, recbole.rating)


def test_every_layout_keeps_the_known_first_event(layout):
    assert (layout.user_ids[layout.user[0]], layout.item_ids[layout.item[0]]) == ("196", "242")
    assert layout.timestamp[0] == 881250949
    assert layout.rating[0] in (3, 2.5)


def test_every_layout_gives_genres_and_latin1_titles(layout):
    assert genres_of(layout, "1") == ["Animation", "Children's", "Comedy"]
    assert title_of(layout, "1") == "Toy Story (1995)"
    assert title_of(layout, "543") == "Misérables, Les (1995)"
    assert layout.item_features.text["title"][0] == "" and len(layout.item_features.tokens["genres"][0]) == 0


def test_100k_genre_names_come_from_u_genre(tmp_path, ml100k_source):
    renamed = [name.replace("Children's", "Childrens") for name in GENRES]
    interactions = read_movielens_100k(write_100k(tmp_path, ml100k_source, renamed))
    assert genres_of(interactions, "1") == ["Animation", "Childrens", "Comedy"]


def test_100k_without_u_genre_uses_the_standard_names(tmp_path):
    write(tmp_path / "u.data", ["1\t1\t5\t100"])
    write(tmp_path / "u.item", ["1|Toy Story (1995)|01-Jan-1995||url|" + "|".join(["0"] * 18 + ["1"])])
    assert genres_of(read_movielens_100k(tmp_path), "1") == ["Western"]


def test_csv_no_genres_placeholder_gives_no_genres(tmp_path):
    write(tmp_path / "ratings.csv", ["userId,movieId,rating,timestamp", "1,7,4.5,100"])
    write(tmp_path / "movies.csv", ["movieId,title,genres", '7,"Sorrow, The (2001)",(no genres listed)'])
    interactions = read_movielens_csv(tmp_path)
    assert genres_of(interactions, "7") == [] and title_of(interactions, "7") == "Sorrow, The (2001)"


def test_movie_file_is_optional(tmp_path):
    write(tmp_path / "ratings.dat", ["1::7::4::100"])
    assert read_movielens_1m(tmp_path).item_features is None


@pytest.mark.parametrize(
    ("reader", "name", "lines", "line", "message"),
    [
        (read_movielens_100k, "u.data", ["1\t2\t3\t4", "1\t2\t3"], 2, "expected 4 columns"),
        (read_movielens_100k, "u.data", ["1\t2\t3\t4", "", "1\tx7\t3\t4"], 3, "expected an integer for item, got 'x7'"),
        (read_movielens_1m, "ratings.dat", ["1::2::3::4", "1::2::five::4"], 2, "expected a finite number for rating"),
        (read_movielens_1m, "ratings.dat", ["1::2::3::4", "1::2::3::4::5"], 2, "expected 4 columns"),
        (read_movielens_csv, "ratings.csv", ["userId,movieId,rating", "1,2,3"], 1, "expected the header"),
        (
            read_movielens_csv,
            "ratings.csv",
            ["userId,movieId,rating,timestamp", "1,2,3,4", "1,2,3,soon"],
            3,
            "timestamp",
        ),
    ],
    ids=[
        "u.data short line",
        "u.data non-integer id",
        "ratings.dat rating",
        "ratings.dat extra column",
        "ratings.csv header",
        "ratings.csv timestamp",
    ],
)
def test_malformed_ratings_line_names_file_and_line(tmp_path, reader, name, lines, line, message):
    write(tmp_path / name, lines)
    with pytest.raises(DataFormatError, match=rf"{name}, line {line}: .*{message}"):
        reader(tmp_path)


@pytest.mark.parametrize(
    ("reader", "ratings", "name", "lines", "line", "message"),
    [
        (
            read_movielens_100k,
            "u.data",
            "u.item",
            ["1|A|d||url|" + "|".join("0" * 18 + "x")],
            1,
            "for Western, got 'x'",
        ),
        (read_movielens_100k, "u.data", "u.item", ["1|A|d||url|0|1"], 1, "expected 24 columns"),
        (
            read_movielens_1m,
            "ratings.dat",
            "movies.dat",
            ["1::A (1990)::Drama", "2::B (1991)"],
            2,
            "expected 3 columns",
        ),
        (
            read_movielens_csv,
            "ratings.csv",
            "movies.csv",
            ["movieId,title,genres", '1,"A, The",Drama,x'],
            2,
            "3 columns",
        ),
        (read_movielens_csv, "ratings.csv", "movies.csv", ["movieId,title,genres", "one,A,Drama"], 2, "for movieId"),
    ],
    ids=[
        "u.item genre flag",
        "u.item short line",
        "movies.dat short line",
        "movies.csv extra column",
        "movies.csv non-integer id",
    ],
)
def test_malformed_movie_line_names_file_and_line(tmp_path, reader, ratings, name, lines, line, message):
    rows = {
        "u.data": ["1\t1\t5\t100"],
        "ratings.dat": ["1::1::5::100"],
        "ratings.csv": ["userId,movieId,rating,timestamp", "1,1,5,100"],
    }
    write(tmp_path / ratings, rows[ratings])
    write(tmp_path / name, lines, encoding="latin-1")
    with pytest.raises(DataFormatError, match=rf"{name}, line {line}: .*{message}"):
        reader(tmp_path)


def test_missing_ratings_file_names_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ratings\.dat"):
        read_movielens_1m(tmp_path)
