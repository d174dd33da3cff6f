"""Hugging Face checkpoint folders: `config.json`, `model.safetensors` (or a sharded index), and
the SHA-256 fingerprint of the weights. Read through the `safetensors` numpy API (no torch)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open

from dynint.errors import DataFormatError

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"


def read_json(path: Path) -> Any:
    """A JSON file's content, or an error naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except json.JSONDecodeError as error:
        raise DataFormatError(path, f"not valid JSON: {error.msg}", error.lineno) from None


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """The folder's `config.json` as a dict (its `model_type` says which architecture reads it)."""
    path = Path(folder) / "config.json"
    config = read_json(path)
    if not isinstance(config, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(config).__name__}")
    return config


def sha256_of_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# Files beside the weights that change what a checkpoint computes (tokenizer, architecture, pooling).
COMPANION_FILES = (
    "config.json",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


def companion_digest(folder: Path) -> str:
    """SHA-256 over the `COMPANION_FILES` present in `folder` (names and contents): with the
    weights' fingerprint it identifies what a checkpoint folder computes, e.g. for caches."""
    digest = hashlib.sha256()
    for name in COMPANION_FILES:
        path = folder / name
        if path.is_file():
            digest.update(f"{name}:{sha256_of_file(path)};".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class SafetensorsWeights:
    """Where each tensor of a checkpoint lives. `fingerprint` is the SHA-256 of `model.safetensors`
    or, for a sharded checkpoint, of the shards' SHA-256 digests in file-name order."""

    files: tuple[Path, ...]
    locations: Mapping[str, Path]
    shapes: Mapping[str, tuple[int, ...]]
    fingerprint: str

    def take(
        self,
        expected: Mapping[str, tuple[int, ...]],
        *,
        rename: Mapping[str, str] | None = None,
        ignore: Iterable[str] = (),
    ) -> dict[str, np.ndarray]:
        """The tensors named by `expected` (its keys) as float32 arrays of the given shapes.

        `rename` maps a file's tensor name to the expected name (key prefixes differ between
        checkpoints); tensors whose file name starts with one of `ignore` (heads the model does not
        use) are skipped. A missing, unexpected or mis-shaped tensor raises `DataFormatError`
        naming the file and the tensor.
        """
        rename = rename or {}
        ignore = tuple(ignore)
        found: dict[str, str] = {}
        for stored in self.locations:
            if stored.startswith(ignore):
                continue
            name = rename.get(stored, stored)
            if name not in expected:
                raise DataFormatError(self.locations[stored], f"unexpected tensor {stored!r}")
            found[name] = stored
        missing = [name for name in expected if name not in found]
        if missing:
            raise DataFormatError(
                self.files[0] if len(self.files) == 1 else self.files[0].parent,
                f"missing tensor {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            )
        for name, stored in found.items():
            if self.shapes[stored] != tuple(expected[name]):
                raise DataFormatError(
                    self.locations[stored],
                    f"tensor {stored!r} has shape {self.shapes[stored]}, expected {tuple(expected[name])}",
                )
        arrays: dict[str, np.ndarray] = {}
        for path in self.files:
            wanted = {stored: name for name, stored in found.items() if self.locations[stored] == path}
            with safe_open(path, framework="np") as reader:
                for stored, name in wanted.items():
                    arrays[name] = np.asarray(reader.get_tensor(stored), dtype=np.float32)
        return arrays


def read_safetensors_weights(folder: str | Path) -> SafetensorsWeights:
    """Index the folder's `model.safetensors`, or the shards listed in `model.safetensors.index.json`."""
    folder = Path(folder)
    single = folder / WEIGHTS_FILE
    index_path = folder / WEIGHTS_INDEX_FILE
    if single.is_file():
        files = (single,)
    elif index_path.is_file():
        index = read_json(index_path)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise DataFormatError(index_path, "expected an object with a non-empty 'weight_map'")
        files = tuple(folder / name for name in sorted(set(weight_map.values())))
    else:
        raise DataFormatError(folder, f"no {WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE} in the checkpoint folder")
    locations: dict[str, Path] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        if not path.is_file():
            raise DataFormatError(path, "weight file not found")
        try:
            with safe_open(path, framework="np") as reader:
                for name in reader.keys():
                    locations[name] = path
                    shapes[name] = tuple(reader.get_slice(name).get_shape())
        except (OSError, SafetensorError) as error:
            raise DataFormatError(path, f"not a readable safetensors file ({error})") from None
    digests = [sha256_of_file(path) for path in files]
    fingerprint = digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()
    return SafetensorsWeights(files, locations, shapes, fingerprint)
