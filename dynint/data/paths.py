"""Where data sets live on disk: one data directory, chosen by a fixed order of precedence."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "DYNINT_DATA_DIR"

# The folder holding the `dynint` package (dynint/data/paths.py -> parents[2]).
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_cache_dir() -> Path:
    """The per-user data directory: `$XDG_CACHE_HOME/dynint/data`, else `~/.cache/dynint/data`."""
    cache_home = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache_home) if cache_home else Path.home() / ".cache"
    return base / "dynint" / "data"


def shared_data_dir() -> Path:
    """`<repo root>/../shared/data`: the data sets kept beside a checkout (as in CI)."""
    return REPO_ROOT.parent / "shared" / "data"


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: `cli_value` (`--data-dir`), else `$DYNINT_DATA_DIR`, else the shared
    directory beside the repository when it exists, else `default_cache_dir()`."""
    if cli_value:
        return Path(cli_value).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    shared = shared_data_dir()
    if shared.is_dir():
        return shared
    return default_cache_dir()
