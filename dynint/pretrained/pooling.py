"""How hidden states become one vector per text: the sentence-transformers pooling config of a
checkpoint folder (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`) and the
pooling itself as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp

from dynint.errors import ConfigError, DataFormatError
from dynint.pretrained.safetensors_checkpoint import read_json

POOLING_MODES = ("mean", "cls", "last")
NORMALIZE_SUFFIX = "+normalize"
# sentence-transformers' Pooling config keys for the modes implemented here.
_MODE_KEYS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_lasttoken": "last"}
_UNSUPPORTED_MODE_KEYS = (
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
)
_MODULE_PREFIX = "sentence_transformers.models."


@dataclass(frozen=True)
class Pooling:
    """`mode` is "mean" (over real tokens), "cls" (the first real token) or "last" (the last real
    token); `normalize` L2-normalises the pooled vector. Written as "mean", "cls+normalize", ..."""

    mode: str = "mean"
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.mode not in POOLING_MODES:
            raise ConfigError(f"pooling={self.mode!r}: expected one of {', '.join(POOLING_MODES)}")

    @classmethod
    def parse(cls, text: str) -> Pooling:
        """`"mean"`, `"cls+normalize"`, ... -> a `Pooling`."""
        mode, normalize = (text[: -len(NORMALIZE_SUFFIX)], True) if text.endswith(NORMALIZE_SUFFIX) else (text, False)
        if mode not in POOLING_MODES:
            choices = ", ".join(f"{m}, {m}{NORMALIZE_SUFFIX}" for m in POOLING_MODES)
            raise ConfigError(f"pooling={text!r}: expected one of {choices}")
        return cls(mode, normalize)

    def __str__(self) -> str:
        return self.mode + (NORMALIZE_SUFFIX if self.normalize else "")


def read_pooling(folder: str | Path) -> Pooling:
    """The pooling a sentence-transformers folder declares; mean pooling without normalisation when
    the folder has no `modules.json` (what sentence-transformers does for a plain encoder)."""
    folder = Path(folder)
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        return Pooling("mean")
    modules = read_json(modules_path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) and "type" in m for m in modules):
        raise DataFormatError(modules_path, "expected a list of objects with a 'type' key")
    mode, normalize = None, False
    for module in modules:
        kind = str(module["type"]).removeprefix(_MODULE_PREFIX)
        if kind == "Pooling":
            mode = _read_pooling_mode(folder / str(module.get("path", "")) / "config.json")
        elif kind == "Normalize":
            normalize = True
        elif kind != "Transformer":
            supported = "Transformer, Pooling, Normalize"
            raise DataFormatError(modules_path, f"module type {module['type']!r} is not supported ({supported} are)")
    if mode is None:
        raise DataFormatError(modules_path, "no sentence_transformers.models.Pooling module")
    return Pooling(mode, normalize)


def _read_pooling_mode(path: Path) -> str:
    config = read_json(path)
    if not isinstance(config, dict):
        raise DataFormatError(path, "expected a JSON object")
    unsupported = [key for key in _UNSUPPORTED_MODE_KEYS if config.get(key)]
    if unsupported:
        raise DataFormatError(path, f"{unsupported[0]} is not supported (expected one of {', '.join(_MODE_KEYS)})")
    modes = [mode for key, mode in _MODE_KEYS.items() if config.get(key)]
    if len(modes) != 1:
        raise DataFormatError(path, f"expected exactly one of {', '.join(_MODE_KEYS)} to be true, got {len(modes)}")
    return modes[0]


def read_max_seq_length(folder: str | Path) -> int | None:
    """`max_seq_length` from the folder's `sentence_bert_config.json`, None when the file is absent."""
    path = Path(folder) / "sentence_bert_config.json"
    if not path.is_file():
        return None
    config = read_json(path)
    value = config.get("max_seq_length") if isinstance(config, dict) else None
    if value is None:
        return None
    if not isinstance(value, int) or value < 1:
        raise DataFormatError(path, f"max_seq_length={value!r}: expected a positive integer")
    return value


def pool_hidden_states(hidden: jax.Array, valid: jax.Array, pooling: Pooling) -> jax.Array:
    """`(B, L, d)` hidden states and `(B, L)` real-token flags -> `(B, d)` float32 vectors.
    A row without real tokens pools to zeros."""
    hidden = hidden.astype(jnp.float32)
    weights = valid.astype(jnp.float32)
    if pooling.mode == "mean":
        # sentence-transformers clamps the token count at 1e-9.
        counts = jnp.maximum(jnp.sum(weights, axis=1, keepdims=True), 1e-9)
        pooled = jnp.einsum("bl,bld->bd", weights, hidden) / counts
    else:
        if pooling.mode == "cls":
            position = jnp.argmax(valid, axis=1)
        else:
            position = valid.shape[1] - 1 - jnp.argmax(valid[:, ::-1], axis=1)
        pooled = jnp.take_along_axis(hidden, position[:, None, None], axis=1)[:, 0] * weights.max(axis=1)[:, None]
    if pooling.normalize:
        # torch.nn.functional.normalize's epsilon, as sentence-transformers' Normalize uses.
        pooled = pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
    return pooled
