"""A run's item content: the arrays its `model.items` asks for, built once from the run's data.

Text kinds encode each item's document (`data.item_content.item_documents`) with the pretrained
encoder `model.items.encoder` (`pretrained.encoding` caches the vectors on disk, under
`cache_dir` or its default);
`id+attributes` takes the item's attribute bags (`data.item_content.attribute_bags`). The
`id` kind needs nothing. Every item gets content, cold items (in no training event) included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynint.data.ctr_samples import token_table
from dynint.data.interactions import Interactions
from dynint.data.item_content import attribute_bags, item_documents
from dynint.errors import ConfigError
from dynint.models.item_representation import ItemContent, ItemRepresentationConfig


def model_items(model_config: Any) -> tuple[str, ItemRepresentationConfig]:
    """The dotted key and config of a model's item representation: `model.items`, or for a
    multitask model its encoder's, `model.encoder.items`."""
    if hasattr(model_config, "items"):
        return "model.items", model_config.items
    return "model.encoder.items", model_config.encoder.items


def build_item_content(
    model_config: Any,
    interactions: Interactions,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> ItemContent | None:
    """The `ItemContent` a model of `model_config` needs for the items of `interactions` (None
    for id items). A text kind on a data set without item text fails naming the key."""
    key, items = model_items(model_config)
    if items.kind == "id":
        return None
    text = item_text_vectors(key, items, interactions, progress=progress, cache_dir=cache_dir)
    attributes, vocab_size = None, 0
    if items.uses_attributes:
        try:
            bags = attribute_bags(interactions)
        except ConfigError as error:
            raise ConfigError(f"{key}.kind={items.kind!r} needs item attributes: {error}") from error
        attributes, vocab_size = token_table(bags.tokens), bags.vocab_size
    return ItemContent(text=text, attributes=attributes, attribute_vocab_size=vocab_size)


def item_text_vectors(
    key: str,
    items: ItemRepresentationConfig,
    interactions: Interactions,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> np.ndarray | None:
    """`(num_items + 1, d)` float32 vectors of the item documents under `items.encoder` (None
    unless `items.kind` uses text)."""
    if not items.uses_text:
        return None
    try:
        documents = item_documents(interactions)
    except ConfigError as error:
        raise ConfigError(f"{key}.kind={items.kind!r} needs item text: {error}") from error
    from dynint.pretrained.encoding import encode_texts, load_text_embedder  # loads JAX models: only when asked

    try:
        embedder = load_text_embedder(items.encoder, pooling=items.encoder_pooling)
    except ConfigError as error:
        raise ConfigError(f"{key}.encoder={items.encoder!r}: {error}") from error
    vectors = encode_texts(embedder, documents, cache_dir=cache_dir, progress=progress)
    return np.asarray(vectors, dtype=np.float32)
