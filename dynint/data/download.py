"""Fetch files with a verified SHA-256 and unpack archives, never leaving a partial file or folder.

Both functions write into a hidden temporary beside the final path and rename it into place only
once it is complete, so an interrupted run leaves either nothing or the finished result.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

from dynint.errors import DataFormatError, DynintError

_CHUNK_BYTES = 1 << 20
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class DownloadError(DynintError):
    """A download, or the unpacking of what was downloaded, failed; the message names the URL or path."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected SHA-256."""

    def __init__(self, url: str, expected: str, actual: str):
        self.url, self.expected, self.actual = url, expected, actual
        super().__init__(f"{url}: SHA-256 mismatch: expected {expected}, got {actual}; the file was discarded")


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, destination: Path, sha256: str, *, progress: bool = True, timeout: float = 60) -> Path:
    """Download `url` to `destination` and check its SHA-256; returns `destination`.

    A file already at `destination` with the right digest is kept as is (no transfer). On any
    failure (network error, truncated transfer, wrong digest) nothing is left at `destination`.
    """
    destination = Path(destination)
    expected = sha256.lower()
    if destination.is_file() and sha256_of(destination) == expected:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream(url, out, timeout=timeout, progress=progress, label=destination.name)
        if actual != expected:
            raise ChecksumError(url, expected, actual)
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return destination


def _stream(url: str, out: BinaryIO, *, timeout: float, progress: bool, label: str) -> str:
    """Copy the response body of `url` into `out`; returns its SHA-256."""
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=not progress
            ) as bar:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as err:  # URLError and socket timeouts are OSErrors
        raise DownloadError(f"{url}: download failed: {err}") from err
    # http.client ends a short body silently on read(n), so a truncated transfer is caught here.
    if total is not None and received != total:
        raise DownloadError(f"{url}: connection closed after {received} of {total} bytes")
    return digest.hexdigest()


def extract_archive(archive: Path, destination_dir: Path, *, root: str | None = None) -> Path:
    """Unpack a .zip or tar archive so that `destination_dir` holds its contents; returns it.

    `root` names a folder inside the archive whose contents become `destination_dir` (e.g. the
    `ml-100k/` folder of `ml-100k.zip`). Members that would land outside the destination
    (absolute paths, `..`, links) are refused. `destination_dir` must be absent or empty.
    """
    archive, destination = Path(archive), Path(destination_dir)
    if destination.exists():
        try:
            destination.rmdir()
        except OSError:
            raise DownloadError(
                f"{destination}: already exists and is not empty; remove it to unpack {archive}"
            ) from None
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".extracting"))
    try:
        _unpack(archive, staging)
        source = staging / root if root else staging
        if not source.is_dir():
            entries = sorted(p.name for p in staging.iterdir())
            raise DataFormatError(archive, f"has no folder {root!r}; its top-level entries are {entries}")
        os.replace(source, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def _unpack(archive: Path, target: Path) -> None:
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _check_member_name(archive, member)
                zf.extractall(target)
        elif name.endswith(_TAR_SUFFIXES):
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _check_member_name(archive, member.name)
                    if not (member.isfile() or member.isdir()):
                        raise DataFormatError(archive, f"member {member.name!r} is a link or special file")
                # The "data" filter (Python >= 3.11.4) also drops setuid bits; the checks above already hold without it.
                tf.extractall(target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        else:
            raise DataFormatError(archive, f"unsupported archive type; expected .zip or one of {_TAR_SUFFIXES}")
    except (zipfile.BadZipFile, tarfile.TarError) as err:
        raise DataFormatError(archive, f"not a readable archive: {err}") from err


def _check_member_name(archive: Path, member: str) -> None:
    """Refuse member names that could escape the extraction folder."""
    path = PurePosixPath(member.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataFormatError(archive, f"member {member!r} would be extracted outside the destination")
