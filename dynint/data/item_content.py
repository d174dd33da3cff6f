"""What each item is, apart from its interactions: a text document and a bag of attribute ids.

Both are built from `ItemFeatures` as the readers fill them, so they exist before any event is
seen and can represent items that have none in training (the item cold-start protocol):

- `item_documents`: one string per item for a text encoder, e.g. ml-100k's
  "Toy Story (1995). Genres: Animation, Children's, Comedy". Text fields and token fields whose
  values are words go in; token fields whose values are identifiers (the S3-Rec attribute ids of
  the shared Amazon Beauty and Sports sets, the synthetic `genre_07`) carry no words and stay out.
- `attribute_bags`: every token field's ids in one id space, e.g. for an embedding bag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dynint.data.interactions import Interactions, ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

# A year goes into the title ("Toy Story (1995)") rather than a sentence of its own.
YEAR_FIELDS = ("release_year", "year")
TITLE_FIELD = "title"
# Labels of the sentences a document is made of; other fields are labelled by their name.
FIELD_LABELS = {"class": "Genres", "genres": "Genres", "categories": "Categories", "brand": "Brand"}
_IDENTIFIER = re.compile(r"(?:[A-Za-z]+_)?\d+")


@dataclass(frozen=True)
class AttributeBags:
    """Per item (row 0, the padding item, empty) the ids of its attribute tokens.

    The token fields share one id space: field `f`'s token `t` (1-based in its own vocabulary)
    is id `field_offsets[f] + t`, so ids run `1..vocab_size - 1` and 0 stays padding.
    """

    tokens: Ragged
    vocab_size: int
    field_offsets: dict[str, int]


def item_documents(interactions: Interactions, fields: Sequence[str] | None = None) -> list[str]:
    """One document per item, `num_items + 1` of them (row 0, padding, is ""); see `documents_from_features`."""
    return documents_from_features(interactions.item_features, interactions.num_items, fields, interactions.source)


def documents_from_features(
    features: ItemFeatures | None, num_items: int, fields: Sequence[str] | None = None, source: str = ""
) -> list[str]:
    """The title (with the year, where there is one) followed by one "Label: values" sentence per other field.

    `fields=None` takes every text field and every token field of words (`text_fields` says which);
    naming fields takes exactly those. An item with none of them gets "". A data set without any
    text fails with a `ConfigError` naming what it does have.
    """
    chosen = _check_fields(features, list(fields) if fields is not None else text_fields(features), source)
    if not chosen:
        raise ConfigError(f"{_name(source)}: no item text to build documents from ({_describe(features)})")
    title = _values(features, TITLE_FIELD, num_items) if TITLE_FIELD in chosen else None
    year_field = next((f for f in YEAR_FIELDS if f in chosen and f in features.tokens), None)
    years = _token_strings(features, year_field, num_items) if year_field else None
    columns = []
    for name in chosen:
        if name in (TITLE_FIELD, year_field):
            continue
        label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
        columns.append((label, _values(features, name, num_items)))
    documents = [""]
    for item in range(1, num_items + 1):
        head = title[item].strip() if title is not None else ""
        year = " ".join(years[item]) if years is not None else ""
        if year and f"({year})" not in head:
            head = f"{head} ({year})" if head else f"Year: {year}"
        parts = [head] if head else []
        for label, values in columns:
            value = ", ".join(values[item]) if isinstance(values[item], list) else values[item].strip()
            if value:
                parts.append(f"{label}: {value}")
        documents.append(_sentences(parts))
    return documents


def has_item_text(interactions: Interactions) -> bool:
    """Whether some item has a non-empty document (titles, descriptions, genre names, ...)."""
    features = interactions.item_features
    fields = text_fields(features)
    if not fields:
        return False
    return any(item_documents(interactions, fields)[1:])


def text_fields(features: ItemFeatures | None) -> list[str]:
    """The fields a document is built from by default: every text field, and each token field whose
    vocabulary holds words rather than identifiers (all numbers, or a name and a number as in
    `genre_07`); a year field counts as words."""
    if features is None:
        return []
    words = [
        name
        for name, vocabulary in features.vocabularies.items()
        if name in YEAR_FIELDS or not all(_IDENTIFIER.fullmatch(str(token)) for token in vocabulary[1:])
    ]
    return [*features.text, *(name for name in features.tokens if name in words)]


def attribute_bags(interactions: Interactions, fields: Sequence[str] | None = None) -> AttributeBags:
    """Every token field (or those named in `fields`) of every item in one id space; see `AttributeBags`."""
    return attribute_bags_from_features(interactions.item_features, interactions.num_items, fields, interactions.source)


def attribute_bags_from_features(
    features: ItemFeatures | None, num_items: int, fields: Sequence[str] | None = None, source: str = ""
) -> AttributeBags:
    """`attribute_bags` from the features alone; a data set without token fields fails with a `ConfigError`."""
    available = list(features.tokens) if features is not None else []
    chosen = list(fields) if fields is not None else available
    if not chosen:
        raise ConfigError(
            f"{_name(source)}: no item attributes (token fields) to build bags from ({_describe(features)})"
        )
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ConfigError(f"{_name(source)}: attribute fields {unknown} are not among the token fields {available}")
    offsets, blocks, lengths, total = {}, [], np.zeros(num_items + 1, dtype=np.int64), 0
    for name in chosen:
        rows = _rows_of(features, name, num_items)
        offsets[name] = total
        blocks.append(rows)
        lengths += rows.lengths
        total += len(features.vocabularies[name]) - 1
    # Interleave the fields item by item: each item's tokens, field after field.
    item_of = np.concatenate([rows.row_ids() for rows in blocks])
    ids = np.concatenate([rows.values + offsets[name] for name, rows in zip(chosen, blocks, strict=True)])
    order = np.argsort(item_of, kind="stable")
    return AttributeBags(Ragged.from_lengths(ids[order].astype(np.int64), lengths), total + 1, offsets)


def _check_fields(features: ItemFeatures | None, fields: list[str], source: str) -> list[str]:
    available = [] if features is None else [*features.text, *features.tokens]
    unknown = [name for name in fields if name not in available]
    if unknown:
        raise ConfigError(f"{_name(source)}: document fields {unknown} are not among the item features {available}")
    return fields


def _rows_of(features: ItemFeatures, name: str, num_items: int) -> Ragged:
    rows = features.tokens[name]
    if len(rows) != num_items + 1:
        raise ValueError(f"item feature {name!r} has {len(rows)} rows; expected num_items + 1 = {num_items + 1}")
    return rows


def _token_strings(features: ItemFeatures, name: str, num_items: int) -> list[list[str]]:
    vocabulary = features.vocabularies[name]
    return [vocabulary[row].tolist() for row in _rows_of(features, name, num_items)]


def _values(features: ItemFeatures, name: str, num_items: int) -> list[str] | list[list[str]]:
    """Per item, a text field's string or a token field's token strings."""
    if name in features.tokens:
        return _token_strings(features, name, num_items)
    text = features.text[name]
    if len(text) != num_items + 1:
        raise ValueError(f"item feature {name!r} has {len(text)} rows; expected num_items + 1 = {num_items + 1}")
    return text


def _sentences(parts: list[str]) -> str:
    """Parts joined as sentences: ". " between them unless a part already ends a sentence."""
    text = ""
    for part in parts:
        text += part if not text else (" " if text.endswith((".", "!", "?")) else ". ") + part
    return text


def _describe(features: ItemFeatures | None) -> str:
    if features is None or not (features.tokens or features.text):
        return "it has no item features at all"
    identifiers = [name for name in features.tokens if name not in text_fields(features)]
    return f"it has token fields {list(features.tokens)}" + (
        f", of which {identifiers} hold identifiers only, not words" if identifiers else ""
    )


def _name(source: str) -> str:
    return source or "this data set"
