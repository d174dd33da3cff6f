"""Provenance of a run: code version, library versions, machine and date."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import dynint

LIBRARIES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "scipy", "pyyaml", "tensorflow-datasets")
REPO_ROOT = Path(dynint.__file__).resolve().parent.parent


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The checked-out commit, suffixed `-dirty` when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "dynint": dynint.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_description() -> str:
    """e.g. 'Linux x86_64, 2 CPU cores, 23.4 GiB RAM, AMD EPYC ...'."""
    memory = ""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * page_size / 2**30:.1f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    cpu = _cpu_model()
    accelerators = _accelerators()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores{memory}"
        + (f", {cpu}" if cpu else "")
        + (f", {accelerators}" if accelerators else "")
    )


def provenance() -> dict[str, Any]:
    return {
        "commit": git_commit(),
        "versions": library_versions(),
        "machine": machine_description(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _accelerators() -> str | None:
    """Accelerators JAX sees, if JAX is already imported (importing it here would be slow)."""
    import sys

    if "jax" not in sys.modules:
        return None
    devices = sys.modules["jax"].devices()
    if devices and devices[0].platform != "cpu":
        return f"{len(devices)} x {devices[0].device_kind}"
    return None
