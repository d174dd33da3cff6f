"""File-format readers: each parses one public release format into `Interactions` (no filtering or splitting)."""

from dynint.data.readers._lines import malformed_lines_skipped
from dynint.data.readers.amazon import read_amazon_5core, read_amazon_2023_jsonl, read_amazon_ratings_csv
from dynint.data.readers.movielens import read_movielens_1m, read_movielens_100k, read_movielens_csv
from dynint.data.readers.recbole import read_recbole_atomic
from dynint.data.readers.s3rec import read_s3rec
from dynint.data.readers.sasrec import read_sasrec

__all__ = [
    "malformed_lines_skipped",
    "read_amazon_2023_jsonl",
    "read_amazon_5core",
    "read_amazon_ratings_csv",
    "read_movielens_100k",
    "read_movielens_1m",
    "read_movielens_csv",
    "read_recbole_atomic",
    "read_s3rec",
    "read_sasrec",
]
