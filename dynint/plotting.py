"""matplotlib for the figures of runs, tables and benchmarks, and writing a figure whole."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any


def pyplot_or_none() -> ModuleType | None:
    """`matplotlib.pyplot` on the non-interactive Agg backend, or None (saying how to install it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing, so no figure: python3 -m pip install matplotlib")
        return None
    return plt


def save_figure(figure: Any, path: str | Path, dpi: int = 120) -> Path:
    """Write `figure` to `path` (its folder created) through a temporary file renamed into place, so
    a reader never sees half a PNG, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(figure)
    temporary.replace(path)
    return path
