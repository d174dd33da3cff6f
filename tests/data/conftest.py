"""Fixtures for the data-layer tests: a local HTTP server and real MovieLens 100K rows."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from dynint.data.interactions import Interactions
from dynint.data.paths import shared_data_dir

SHARED_DATA = shared_data_dir()
ML_100K_INTER = SHARED_DATA / "ml-100k" / "ml-100k.inter"
ML_100K_ITEM = SHARED_DATA / "ml-100k" / "ml-100k.item"
GROUPLENS_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


def require_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data sets live in ../shared/data)")
    return path


def ml_100k_rows(count: int) -> list[tuple[str, ...]]:
    """The first `count` (user, item, rating, timestamp) rows of the real RecBole ml-100k.inter."""
    with open(require_shared(ML_100K_INTER), encoding="utf-8") as f:
        next(f)
        return [tuple(line.rstrip("\n").split("\t")) for _, line in zip(range(count), f, strict=False)]


@pytest.fixture(scope="session")
def ml100k_rows() -> list[tuple[str, ...]]:
    """The first 2000 rows of ml-100k.inter."""
    return ml_100k_rows(2000)


@dataclass
class MovieLensSample:
    """Real ml-100k rows in the GroupLens layout, zipped as the official `ml-100k.zip` is."""

    rows: list[tuple[str, ...]]
    zip_bytes: bytes

    @property
    def num_users(self) -> int:
        return len({r[0] for r in self.rows})

    @property
    def num_items(self) -> int:
        return len({r[1] for r in self.rows})


@pytest.fixture(scope="session")
def ml100k_grouplens_zip(ml100k_rows) -> MovieLensSample:
    rows = ml100k_rows
    rated = {r[1] for r in rows}
    u_item = []
    with open(require_shared(ML_100K_ITEM), encoding="utf-8") as f:
        next(f)
        for line in f:
            item, title, year, genres = line.rstrip("\n").split("\t")
            if item in rated:
                flags = "|".join("1" if g in genres.split() else "0" for g in GROUPLENS_GENRES)
                u_item.append(f"{item}|{title} ({year})|01-Jan-{year}||http://us.imdb.com/|{flags}\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/u.data", "".join("\t".join(r) + "\n" for r in rows))
        zf.writestr("ml-100k/u.item", "".join(u_item).encode("latin-1"))  # GroupLens ships Latin-1
    return MovieLensSample(rows, buffer.getvalue())


@dataclass
class LocalServer:
    """Serves `routes[path] = (body, mode)`; mode "ok", "truncate" (promises twice the bytes it sends,
    then closes) or "no-length" (no Content-Length). `requests` counts GETs."""

    base_url: str
    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: int = 0

    def url(self, path: str) -> str:
        return self.base_url + path


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        state: LocalServer = self.server.state  # type: ignore[attr-defined]
        state.requests += 1
        if self.path not in state.routes:
            self.send_error(404)
            return
        body, mode = state.routes[self.path]
        self.send_response(200)
        if mode == "truncate":
            self.send_header("Content-Length", str(2 * len(body)))
        elif mode == "ok":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.state = LocalServer(f"http://{host}:{port}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.state  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _read_beauty(path: Path) -> Interactions:
    try:
        from dynint.data.readers import read_s3rec
    except ImportError:  # the readers are written in parallel; parse the simple format here until they land
        users, items, positions = [], [], []
        for line in path.read_text().splitlines():
            user, *sequence = line.split()
            users += [user] * len(sequence)
            items += sequence
            positions += range(len(sequence))
        return Interactions.from_raw_ids(users, items, np.array(positions), has_timestamps=False, source=str(path))
    return read_s3rec(path)


def _read_ml100k(directory: Path) -> Interactions:
    try:
        from dynint.data.readers import read_recbole_atomic
    except ImportError:
        user, item, rating, timestamp = zip(*ml_100k_rows(100_000), strict=True)
        return Interactions.from_raw_ids(
            user, item, np.array(timestamp, dtype=np.float64), np.array(rating, dtype=np.float32), source=str(directory)
        )
    return read_recbole_atomic(directory, "ml-100k")


@pytest.fixture(scope="session")
def beauty() -> Interactions:
    """Amazon Beauty, S3-Rec release: 22,363 users, event order only (no timestamps)."""
    return _read_beauty(require_shared(SHARED_DATA / "amazon-beauty" / "Beauty.txt"))


@pytest.fixture(scope="session")
def ml100k() -> Interactions:
    """MovieLens 100K, RecBole atomic files: 100,000 ratings with Unix timestamps."""
    return _read_ml100k(require_shared(SHARED_DATA / "ml-100k"))
