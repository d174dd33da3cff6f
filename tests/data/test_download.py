"""Downloads verify their SHA-256 and leave nothing behind on failure; archives unpack atomically."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest

from dynint.data.download import ChecksumError, DownloadError, download, extract_archive, sha256_of
from dynint.errors import DataFormatError


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_writes_the_verified_file(local_server, ml100k_grouplens_zip, tmp_path):
    body = ml100k_grouplens_zip.zip_bytes
    local_server.routes["/ml-100k.zip"] = (body, "ok")
    target = tmp_path / "downloads" / "ml-100k.zip"
    assert download(local_server.url("/ml-100k.zip"), target, digest(body), progress=False) == target
    assert target.read_bytes() == body
    assert sorted(p.name for p in target.parent.iterdir()) == ["ml-100k.zip"]


def test_download_without_content_length_shows_progress_and_succeeds(local_server, tmp_path):
    local_server.routes["/blob"] = (b"x" * 5000, "no-length")
    target = download(local_server.url("/blob"), tmp_path / "blob", digest(b"x" * 5000), progress=True)
    assert target.read_bytes() == b"x" * 5000


def test_download_skips_the_transfer_when_the_file_is_already_verified(local_server, tmp_path):
    target = tmp_path / "blob"
    target.write_bytes(b"payload")
    download(local_server.url("/blob"), target, digest(b"payload"), progress=False)
    assert local_server.requests == 0


def test_checksum_mismatch_raises_and_leaves_no_file(local_server, tmp_path):
    local_server.routes["/blob"] = (b"tampered", "ok")
    url, expected = local_server.url("/blob"), digest(b"original")
    with pytest.raises(ChecksumError) as raised:
        download(url, tmp_path / "dl" / "blob", expected, progress=False)
    message = str(raised.value)
    assert url in message and expected in message and digest(b"tampered") in message
    assert list((tmp_path / "dl").iterdir()) == []


def test_wrong_file_already_present_is_replaced_after_verification(local_server, tmp_path):
    local_server.routes["/blob"] = (b"good", "ok")
    target = tmp_path / "blob"
    target.write_bytes(b"stale")
    download(local_server.url("/blob"), target, digest(b"good"), progress=False)
    assert target.read_bytes() == b"good"


def test_connection_closed_mid_transfer_leaves_no_file(local_server, tmp_path):
    body = b"y" * 100_000
    local_server.routes["/blob"] = (body, "truncate")
    with pytest.raises(DownloadError, match="connection closed after 100000 of 200000 bytes"):
        download(local_server.url("/blob"), tmp_path / "dl" / "blob", digest(body), progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_http_error_names_the_url_and_leaves_no_file(local_server, tmp_path):
    url = local_server.url("/missing.zip")
    with pytest.raises(DownloadError, match="404") as raised:
        download(url, tmp_path / "dl" / "missing.zip", digest(b""), progress=False)
    assert url in str(raised.value)
    assert list((tmp_path / "dl").iterdir()) == []


def test_extract_archive_moves_the_archive_root_into_place(ml100k_grouplens_zip, tmp_path):
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(ml100k_grouplens_zip.zip_bytes)
    folder = extract_archive(archive, tmp_path / "data" / "ml-100k", root="ml-100k")
    assert sorted(p.name for p in folder.iterdir()) == ["u.data", "u.item"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k"]  # no staging folder left
    lines = (folder / "u.data").read_text().splitlines()
    assert [tuple(line.split("\t")) for line in lines] == ml100k_grouplens_zip.rows


def test_extract_tar_gz_without_root(tmp_path):
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("inner/file.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    folder = extract_archive(archive, tmp_path / "out")
    assert (folder / "inner" / "file.txt").read_bytes() == b"hello"


@pytest.mark.parametrize("member", ["../escape.txt", "/abs/escape.txt", "a/../../escape.txt"])
def test_extract_refuses_members_outside_the_destination(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(member, "bad")
    with pytest.raises(DataFormatError, match="outside the destination"):
        extract_archive(archive, tmp_path / "out" / "evil")
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_extract_refuses_tar_links(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(DataFormatError, match="link"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_missing_root_names_the_entries(ml100k_grouplens_zip, tmp_path):
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(ml100k_grouplens_zip.zip_bytes)
    with pytest.raises(DataFormatError, match=r"no folder 'ml-1m'.*\['ml-100k'\]"):
        extract_archive(archive, tmp_path / "out", root="ml-1m")
    assert [p.name for p in tmp_path.iterdir()] == ["ml-100k.zip"]


def test_extract_refuses_a_non_empty_destination(ml100k_grouplens_zip, tmp_path):
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(ml100k_grouplens_zip.zip_bytes)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(DownloadError, match="not empty"):
        extract_archive(archive, tmp_path / "out", root="ml-100k")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_extract_rejects_a_corrupt_archive(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a readable archive"):
        extract_archive(archive, tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["broken.zip"]


def test_sha256_of_matches_hashlib(tmp_path):
    (tmp_path / "f").write_bytes(b"abc" * 1000)
    assert sha256_of(tmp_path / "f") == digest(b"abc" * 1000)
