"""matplotlib for the figures of tables and benchmarks: an optional dependency (the `bench` extra)."""

from __future__ import annotations

from types import ModuleType


def pyplot_or_none() -> ModuleType | None:
    """`matplotlib.pyplot` on the non-interactive Agg backend, or None (saying how to install it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing, so no figure: python3 -m pip install -e '.[bench]'")
        return None
    return plt
