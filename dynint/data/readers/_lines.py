"""Shared parsing for the readers: gz-aware opening, delimited tables and JSON lines.

Malformed lines raise `DataFormatError(path, what was expected, line=N)` (1-based) for the first
of them, with the count of all of them. Within `malformed_lines_skipped()` (the config option
`data.skip_malformed_lines`) the checks readers make through `reject_lines` drop those lines
instead, with a `DynintWarning` that gives their count and the first.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np

from dynint.errors import DataFormatError, DynintWarning

_SKIPPING = ContextVar("skip_malformed_lines", default=False)


@contextmanager
def malformed_lines_skipped(skip: bool = True) -> Iterator[None]:
    """Within this block (with `skip`), readers drop malformed lines and warn, instead of failing."""
    token = _SKIPPING.set(skip)
    try:
        yield
    finally:
        _SKIPPING.reset(token)


def reject_lines(path: Path | str, lines: Sequence[int] | np.ndarray, problem: str) -> None:
    """Report the malformed `lines` (1-based, increasing) of `path`, `problem` saying what is wrong
    with the first: a `DataFormatError` naming it and their count, or, where malformed lines are
    skipped, a `DynintWarning` (the caller then drops them)."""
    if len(lines) == 0:
        return
    if not _SKIPPING.get():
        raise _malformed(path, lines, problem)
    count = "1 malformed line" if len(lines) == 1 else f"{len(lines)} malformed lines"
    warnings.warn(f"{path}: skipped {count} (the first, line {lines[0]}: {problem})", DynintWarning, stacklevel=2)


def _malformed(path: Path | str, lines: Sequence[int] | np.ndarray, problem: str) -> DataFormatError:
    count = "the only malformed line" if len(lines) == 1 else f"{len(lines)} malformed lines in all"
    note = f" ({count}; data.skip_malformed_lines=true skips malformed lines)"
    return DataFormatError(path, problem + note, line=int(lines[0]))


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
    """Strings (or JSON numbers) as integers or finite floats; names the line of the first bad
    value and counts the bad ones (check them first with `number_problems` to skip them)."""
    numbers = _converted(values, dtype)
    if numbers is not None:
        return numbers
    bad, problem = number_problems(values, dtype, what)
    if len(bad):
        raise _malformed(path, np.asarray(line_numbers)[bad], problem)
    raise DataFormatError(path, f"expected {what} to fit in {np.dtype(dtype).name}")


def number_problems(values: Sequence[Any], dtype: type, what: str) -> tuple[np.ndarray, str]:
    """The positions of the `values` that are not integers (or finite numbers, for a float
    `dtype`), and what is wrong with the first of them."""
    if _converted(values, dtype) is not None:
        return np.zeros(0, dtype=np.int64), ""
    convert = int if np.issubdtype(dtype, np.integer) else float
    bad = np.flatnonzero([not _is_number(value, convert) for value in values])
    kind = "an integer" if convert is int else "a finite number"
    return bad, (f"expected {kind} for {what}, got {values[bad[0]]!r}" if len(bad) else "")


def _converted(values: Sequence[Any], dtype: type) -> np.ndarray | None:
    """`values` as an array of `dtype` (floats finite), or None if one of them is not such a number."""
    convert = int if np.issubdtype(dtype, np.integer) else float
    try:
        numbers = np.fromiter(map(convert, values), dtype=dtype, count=len(values))
    except (TypeError, ValueError, OverflowError):
        return None
    return numbers if convert is int or np.isfinite(numbers).all() else None


def _is_number(value: Any, convert: type) -> bool:
    try:
        return math.isfinite(convert(value))
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass(frozen=True)
class Table:
    """The string columns of a delimited file and the 1-based file line of each row; `parsed`
    holds the columns already checked to be numbers (see `split_table`)."""

    path: Path
    columns: dict[str, list[str]]
    line_numbers: np.ndarray
    parsed: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.line_numbers)

    def numbers(self, name: str, dtype: type = np.float64) -> np.ndarray:
        parsed = self.parsed.get(name)
        if parsed is not None and parsed.dtype == np.dtype(dtype):
            return parsed
        return parse_numbers(self.path, self.columns[name], self.line_numbers, dtype, name)


def check_header(path: Path | str, header: str, names: Sequence[str], sep: str) -> None:
    """The first line must list exactly `names`."""
    if header.split(sep) != list(names):
        raise DataFormatError(path, f"expected the header {sep.join(names)!r}, got {header!r}", line=1)


def split_table(
    path: Path | str,
    lines: list[str],
    sep: str,
    names: Sequence[str],
    first_line: int = 1,
    numeric: Mapping[str, type] | None = None,
) -> Table:
    """Split `lines` (file lines from `first_line` on) into exactly `len(names)` columns each; skips
    empty lines. The `numeric` columns must hold numbers of their dtype (they are parsed here). A
    line with another number of columns or a bad number is malformed (see `reject_lines`)."""
    numeric = dict(numeric or {})
    if "" in lines:
        kept = [i for i, line in enumerate(lines) if line]
        lines = [lines[i] for i in kept]
        line_numbers = np.asarray(kept, dtype=np.int64) + first_line
    else:
        line_numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    counts = np.fromiter((line.count(sep) for line in lines), dtype=np.int64, count=len(lines))
    bad = counts != len(names) - 1
    problems = {}  # row -> what is wrong with it, for the first row of each kind of problem
    if bad.any():
        first = int(np.argmax(bad))
        found = counts[first] + 1
        problems[first] = f"expected {len(names)} columns ({' '.join(names)}) separated by {sep!r}, found {found}"
        lines = [line for line, wrong in zip(lines, bad, strict=True) if not wrong]
    split = np.flatnonzero(~bad)  # the rows of `lines` now
    # One split of the joined text instead of a list per line: several times faster on big files.
    fields = sep.join(lines).split(sep) if lines else []
    columns = {name: fields[k :: len(names)] for k, name in enumerate(names)}
    parsed = {}
    for name, dtype in numeric.items():
        numbers = _converted(columns[name], dtype)
        if numbers is not None:
            parsed[name] = numbers
            continue
        wrong, problem = number_problems(columns[name], dtype, name)
        if len(wrong):
            bad[split[wrong]] = True
            problems.setdefault(int(split[wrong[0]]), problem)
    if not problems:
        return Table(Path(path), columns, line_numbers, parsed)
    reject_lines(path, line_numbers[bad], problems[min(problems)])
    keep = ~bad[split]
    columns = {name: [value for value, k in zip(values, keep, strict=True) if k] for name, values in columns.items()}
    line_numbers = line_numbers[~bad]
    parsed = {name: parse_numbers(path, columns[name], line_numbers, dtype, name) for name, dtype in numeric.items()}
    return Table(Path(path), columns, line_numbers, parsed)


def read_table(
    path: Path | str,
    sep: str,
    names: Sequence[str],
    *,
    header: bool = False,
    encoding: str = "utf-8",
    numeric: Mapping[str, type] | None = None,
) -> Table:
    """A delimited file with columns `names` (the `numeric` ones checked and parsed: see
    `split_table`); with `header=True` its first line must list exactly `names`."""
    lines = read_lines(path, encoding)
    if header:
        if not lines:
            raise DataFormatError(path, f"expected the header {sep.join(names)!r}, found an empty file", line=1)
        check_header(path, lines[0], names, sep)
        return split_table(path, lines[1:], sep, names, first_line=2, numeric=numeric)
    return split_table(path, lines, sep, names, numeric=numeric)


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
    table = read_table(path, sep, names, header=header, encoding=encoding, numeric=columns)
    return {name: table.numbers(name, dtype) for name, dtype in columns.items()}


def read_json_lines(
    path: Path | str, *, python_literals: bool = False, check: Callable[[dict], str | None] | None = None
) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-empty line holding one JSON object for which `check`
    (if given) finds no problem; other lines are malformed (see `reject_lines`; when they fail
    the read, the whole file is still scanned to count them).

    `python_literals=True` also accepts Python dict literals (the 2014 Amazon metadata is written that way).
    """
    expected = "a JSON object or a Python dict literal" if python_literals else "a JSON object"
    malformed: list[int] = []
    problem = ""
    with _open_binary(path) as file:
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                malformed.append(number)
                problem = problem or f"expected utf-8 text ({error.reason})"
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = _python_literal(line) if python_literals else None
            wrong = f"expected {expected}, got {line.strip()[:80]!r}" if not isinstance(record, dict) else None
            wrong = wrong or (check(record) if check is not None else None)
            if wrong:
                malformed.append(number)
                problem = problem or wrong
            elif not malformed or _SKIPPING.get():  # once the read is to fail, only count the malformed lines
                yield number, record
    reject_lines(path, malformed, problem)


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
