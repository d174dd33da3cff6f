"""Non-neural baselines, evaluated by the same protocol code as dynint's models.

To add one: write `baselines/NAME.py` with a config dataclass (first field `name`) and a
`Baseline` subclass, then add one line to `BASELINES` below (see baselines/README.md).
"""

from baselines.base import Baseline, FitData
from baselines.content import ContentBased, ContentConfig
from baselines.content_pretrained import PretrainedContent, PretrainedContentConfig
from baselines.hybrid import Hybrid, HybridConfig
from baselines.itemknn import ItemKNN, ItemKNNConfig
from baselines.pop import PopRec, PopRecConfig
from baselines.unseen_random import UnseenRandom, UnseenRandomConfig

BASELINES: dict[str, tuple[type, type[Baseline]]] = {
    "poprec": (PopRecConfig, PopRec),
    "itemknn": (ItemKNNConfig, ItemKNN),
    "content": (ContentConfig, ContentBased),
    "content-pretrained": (PretrainedContentConfig, PretrainedContent),
    "hybrid": (HybridConfig, Hybrid),
    "unseen-random": (UnseenRandomConfig, UnseenRandom),
}

__all__ = ["BASELINES", "Baseline", "FitData"]
