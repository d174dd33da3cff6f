"""Click-through-rate models over a behaviour sequence and a target item (DIN, DIEN, BST).

Each is built as `Model(config, num_items, max_length, feature_sizes, rngs=...)` and called as
`model(batch: CTRBatch, dropout=keys | None) -> (logits (B,), auxiliary loss ())`; the auxiliary
loss (DIEN's, already weighted; 0 for the others) is added to the binary log loss of the logits.
`CTR_MODELS` maps a config `model.name` to (config dataclass, module class).
"""

from dynint.models.ctr.base_model import BaseModel
from dynint.models.ctr.bst import BST
from dynint.models.ctr.config import BaseModelConfig, BSTConfig, DIENConfig, DINConfig
from dynint.models.ctr.dien import DIEN
from dynint.models.ctr.din import DIN

CTR_MODELS: dict[str, tuple[type, type]] = {
    "ctr-base": (BaseModelConfig, BaseModel),
    "din": (DINConfig, DIN),
    "dien": (DIENConfig, DIEN),
    "bst": (BSTConfig, BST),
}
