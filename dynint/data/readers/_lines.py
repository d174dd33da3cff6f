"""Shared parsing for the readers: gz-aware opening, delimited tables and JSON lines.

Every malformed line raises `DataFormatError(path, what was expected, line=N)` (1-based).
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np

from dynint.errors import DataFormatError


def open_text(path: Path | str, encoding: str = "utf-8") -> TextIO:
    """Open a text file for reading, decompressing it when its name ends in `.gz`."""
    return io.TextIOWrapper(_open_binary(path), encoding=encoding)


def _open_binary(path: Path | str) -> BinaryIO:
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # type: ignore[return-value]


def read_lines(path: Path | str, encoding: str = "utf-8") -> list[str]:
    """All lines of a file without their line ends (`\r\n` counts as `\n`)."""
    with _open_binary(path) as file:
        data = file.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise _decoding_error(path, encoding, error, data.count(b"\n", 0, error.start) + 1) from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_numbers(
    path: Path | str, values: Sequence[Any], line_numbers: np.ndarray, dtype: type, what: str
) -> np.ndarray:
    """Strings (or JSON numbers) as integers or finite floats; names the line of the first bad value."""
    convert = int if np.issubdtype(dtype, np.integer) else float
    try:
        numbers = np.fromiter(map(convert, values), dtype=dtype, count=len(values))
        if convert is int or np.isfinite(numbers).all():
            return numbers
    except (TypeError, ValueError, OverflowError):
        pass
    for value, line in zip(values, line_numbers, strict=True):
        if not _is_number(value, convert):
            kind = "an integer" if convert is int else "a finite number"
            raise DataFormatError(path, f"expected {kind} for {what}, got {value!r}", line=int(line))
    raise DataFormatError(path, f"expected {what} to fit in {np.dtype(dtype).name}")


def _is_number(value: Any, convert: type) -> bool:
    try:
        return math.isfinite(convert(value))
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class Table:
    """The string columns of a delimited file and the 1-based file line of each row."""

    path: Path
    columns: dict[str, list[str]]
    line_numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.line_numbers)

    def numbers(self, name: str, dtype: type = np.float64) -> np.ndarray:
        return parse_numbers(self.path, self.columns[name], self.line_numbers, dtype, name)


def check_header(path: Path | str, header: str, names: Sequence[str], sep: str) -> None:
    """The first line must list exactly `names`."""
    if header.split(sep) != list(names):
        raise DataFormatError(path, f"expected the header {sep.join(names)!r}, got {header!r}", line=1)


def split_table(path: Path | str, lines: list[str], sep: str, names: Sequence[str], first_line: int = 1) -> Table:
    """Split `lines` (file lines from `first_line` on) into exactly `len(names)` columns each; skips empty lines."""
    if "" in lines:
        kept = [i for i, line in enumerate(lines) if line]
        lines = [lines[i] for i in kept]
        line_numbers = np.asarray(kept, dtype=np.int64) + first_line
    else:
        line_numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    counts = np.fromiter((line.count(sep) for line in lines), dtype=np.int64, count=len(lines))
    bad = np.flatnonzero(counts != len(names) - 1)
    if len(bad):
        found = counts[bad[0]] + 1
        raise DataFormatError(
            path,
            f"expected {len(names)} columns ({' '.join(names)}) separated by {sep!r}, found {found}",
            line=int(line_numbers[bad[0]]),
        )
    # One split of the joined text instead of a list per line: several times faster on big files.
    fields = sep.join(lines).split(sep) if lines else []
    columns = {name: fields[k :: len(names)] for k, name in enumerate(names)}
    return Table(Path(path), columns, line_numbers)


def read_table(
    path: Path | str, sep: str, names: Sequence[str], *, header: bool = False, encoding: str = "utf-8"
) -> Table:
    """A delimited file with columns `names`; with `header=True` its first line must list exactly `names`."""
    lines = read_lines(path, encoding)
    if header:
        if not lines:
            raise DataFormatError(path, f"expected the header {sep.join(names)!r}, found an empty file", line=1)
        check_header(path, lines[0], names, sep)
        return split_table(path, lines[1:], sep, names, first_line=2)
    return split_table(path, lines, sep, names)


def read_numeric_table(
    path: Path | str, sep: str, columns: dict[str, type], *, header: bool = False, encoding: str = "utf-8"
) -> dict[str, np.ndarray]:
    """A delimited file of numbers only, parsed by numpy's C reader (fast and lean on 25M-line files).

    On any problem the file is parsed again in Python to report the first bad line.
    """
    names = list(columns)
    delimiter = sep if len(sep) == 1 else "\t"
    try:
        with open_text(path, encoding) as file, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is reported by the caller
            if header:
                check_header(path, file.readline().rstrip("\n"), names, sep)
            lines = file if len(sep) == 1 else (line.replace(sep, delimiter) for line in file)
            data = np.loadtxt(lines, delimiter=delimiter, dtype=list(columns.items()), comments=None, ndmin=1)
        result = {name: np.ascontiguousarray(data[name]) for name in names}
        if all(np.isfinite(values).all() for values in result.values()):
            return result
    except DataFormatError:
        raise
    except ValueError:  # includes UnicodeDecodeError
        pass
    table = read_table(path, sep, names, header=header, encoding=encoding)
    return {name: table.numbers(name, dtype) for name, dtype in columns.items()}


def read_json_lines(path: Path | str, *, python_literals: bool = False) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line holding one JSON object.

    `python_literals=True` also accepts Python dict literals (the 2014 Amazon metadata is written that way).
    """
    expected = "a JSON object or a Python dict literal" if python_literals else "a JSON object"
    with _open_binary(path) as file:
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _decoding_error(path, "utf-8", error, number) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = _python_literal(line) if python_literals else None
            if not isinstance(record, dict):
                raise DataFormatError(path, f"expected {expected}, got {line.strip()[:80]!r}", line=number)
            yield number, record


def _decoding_error(path: Path | str, encoding: str, error: UnicodeDecodeError, line: int) -> DataFormatError:
    return DataFormatError(path, f"expected {encoding} text ({error.reason})", line=line)


def _python_literal(line: str) -> Any:
    try:
        return ast.literal_eval(line.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def require_key(path: Path | str, line: int, record: dict, key: str) -> Any:
    if key not in record:
        raise DataFormatError(path, f"expected the key {key!r}, found keys {sorted(record)}", line=line)
    return record[key]
