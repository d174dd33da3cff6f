"""Click-through-rate models over a behaviour sequence and a target item (DIN, DIEN, BST).

Each is built as `Model(config, num_items, max_length, feature_sizes, rngs=...)` and called as
`model(batch: CTRBatch, dropout=keys | None) -> (logits (B,), auxiliary loss ())`; the auxiliary
loss (DIEN's, already weighted; 0 for the others) is added to the binary log loss of the logits.
`CTR_MODELS` maps a config `model.name` to (config dataclass, module class). Each model is its
behaviour encoder plus a click tower; `CTR_ENCODERS` maps the same names to (config dataclass,
encoder class), whose `encode(batch, dropout) -> (features (B, output_size), auxiliary loss ())`
other model families (the multitask models) build on.
"""

from dynint.models.ctr.base_model import BaseModel, PoolingEncoder
from dynint.models.ctr.bst import BST, BSTEncoder
from dynint.models.ctr.config import BaseModelConfig, BSTConfig, DIENConfig, DINConfig
from dynint.models.ctr.dien import DIEN, DIENEncoder
from dynint.models.ctr.din import DIN, DINEncoder
from dynint.models.ctr.sparse_bst import SparseBST, SparseBSTConfig, SparseBSTEncoder

CTR_MODELS: dict[str, tuple[type, type]] = {
    "ctr-base": (BaseModelConfig, BaseModel),
    "din": (DINConfig, DIN),
    "dien": (DIENConfig, DIEN),
    "bst": (BSTConfig, BST),
    "sparse-bst": (SparseBSTConfig, SparseBST),
}
CTR_ENCODERS: dict[str, tuple[type, type]] = {
    "ctr-base": (BaseModelConfig, PoolingEncoder),
    "din": (DINConfig, DINEncoder),
    "dien": (DIENConfig, DIENEncoder),
    "bst": (BSTConfig, BSTEncoder),
    "sparse-bst": (SparseBSTConfig, SparseBSTEncoder),
}
