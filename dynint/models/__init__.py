"""Flax NNX models. `MODELS` maps a config `model.name` to (config dataclass, module class).

Each module is built as `Module(config, num_items, max_length, rngs=...)`; see `models/base.py`.
"""

from dynint.models.bert4rec import BERT4Rec, BERT4RecConfig
from dynint.models.gru4rec import GRU4Rec, GRU4RecConfig
from dynint.models.hstu import HSTU, HSTUConfig
from dynint.models.sasrec import SASRec, SASRecConfig
from dynint.models.sparse_sasrec import SparseSASRec, SparseSASRecConfig

MODELS: dict[str, tuple[type, type]] = {
    "sasrec": (SASRecConfig, SASRec),
    "gru4rec": (GRU4RecConfig, GRU4Rec),
    "bert4rec": (BERT4RecConfig, BERT4Rec),
    "sparse-sasrec": (SparseSASRecConfig, SparseSASRec),
    "hstu": (HSTUConfig, HSTU),
}
