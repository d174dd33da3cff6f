"""Non-neural baselines, evaluated by the same protocol code as dynint's models.

To add one: write `baselines/NAME.py` with a config dataclass (first field `name`) and a
`Baseline` subclass, then add one line to `BASELINES` below.
"""

from baselines.base import Baseline, FitData
from baselines.pop import PopRec, PopRecConfig

BASELINES: dict[str, tuple[type, type[Baseline]]] = {
    "poprec": (PopRecConfig, PopRec),
}

__all__ = ["BASELINES", "Baseline", "FitData"]
