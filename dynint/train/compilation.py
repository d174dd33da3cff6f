"""JAX's persistent compilation cache, on by default for training runs.

XLA's CPU compiler takes seconds per train step shape, which dominates short runs (tests,
quickstarts, seeds of one experiment). Compiled programs are therefore kept on disk and reused
by every later run with the same shapes. `JAX_COMPILATION_CACHE_DIR` (JAX's own setting) wins;
otherwise `DYNINT_COMPILATION_CACHE` names the folder, `0` turns the cache off, and the default
is `$XDG_CACHE_HOME/dynint/jax` (`~/.cache/dynint/jax`).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "DYNINT_COMPILATION_CACHE"


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at the configured folder; returns it (None if off)."""
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    setting = os.environ.get(CACHE_ENV, "")
    if setting == "0":
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(setting) if setting else base / "dynint" / "jax"
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return folder
