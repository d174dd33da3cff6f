"""Data directory precedence: --data-dir, then $DYNINT_DATA_DIR, then ../shared/data, then the cache."""

from pathlib import Path

import pytest

from dynint.data import paths


@pytest.fixture
def repo_with_shared(tmp_path, monkeypatch):
    """A fake checkout at tmp_path/repo with tmp_path/shared/data beside it."""
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "repo")
    shared = tmp_path / "shared" / "data"
    shared.mkdir(parents=True)
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    return shared


def test_cli_value_wins_over_environment(repo_with_shared, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "env"))
    assert paths.resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"


def test_environment_wins_over_shared_dir(repo_with_shared, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "env"))
    assert paths.resolve_data_dir() == tmp_path / "env"


def test_shared_dir_beside_repo_is_used_when_present(repo_with_shared):
    assert paths.resolve_data_dir() == repo_with_shared


def test_cache_dir_is_the_fallback(repo_with_shared, monkeypatch, tmp_path):
    repo_with_shared.rmdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.resolve_data_dir() == tmp_path / "xdg" / "dynint" / "data"


def test_cache_dir_defaults_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.default_cache_dir() == tmp_path / ".cache" / "dynint" / "data"


def test_empty_values_are_ignored(repo_with_shared, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, "")
    assert paths.resolve_data_dir("") == repo_with_shared


def test_repo_root_is_the_folder_holding_the_package():
    assert (paths.REPO_ROOT / "dynint" / "data" / "paths.py").is_file()
    assert paths.shared_data_dir() == Path(paths.REPO_ROOT).parent / "shared" / "data"
