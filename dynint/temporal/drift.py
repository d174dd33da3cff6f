"""Interest drift measured from item categories, and metrics bucketed by it.

A row's drift compares the category distribution of the user's recent history (its last
`recent` events) with that of everything before it: the Jensen-Shannon divergence (base 2, so
0 means the same mix of categories and 1 disjoint ones). An item's categories come from a token
feature (genres on MovieLens, `class` in RecBole's files, the attribute bag on Amazon, the noisy cluster genres of the
synthetic data), an item with several sharing its unit weight among them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dynint.data.interactions import Interactions
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError
from dynint.eval.ranking_metrics import ranking_metrics
from dynint.train.windows import positions_in_rows

CATEGORY_FEATURES = ("genres", "class", "categories", "attributes")


def item_category_weights(interactions: Interactions, feature: str | None = None) -> np.ndarray:
    """`(num_items + 1, C)` weights: row `i` spreads item `i`'s unit weight over its categories
    of token feature `feature` (the first of `CATEGORY_FEATURES` the data set has, by default);
    an item without any has a zero row, and the padding row is zero."""
    tokens = interactions.item_features.tokens if interactions.item_features is not None else {}
    name = feature or next((f for f in CATEGORY_FEATURES if f in tokens), None)
    if name is None or name not in tokens:
        available = ", ".join(sorted(tokens)) or "none"
        raise ConfigError(
            f"{interactions.source or 'the data set'}: drift needs an item category feature "
            f"({feature or ' or '.join(CATEGORY_FEATURES)}); its token features: {available}"
        )
    bags: Ragged = tokens[name]
    weights = np.zeros((interactions.num_items + 1, int(bags.values.max(initial=0)) + 1))
    counts = np.maximum(bags.lengths, 1)
    np.add.at(weights, (bags.row_ids(), bags.values), 1.0 / counts[bags.row_ids()])
    weights[:, 0] = 0.0  # token 0 pads
    weights[0] = 0.0
    return weights


def history_drift(histories: Ragged, category_weights: np.ndarray, recent: int = 10) -> np.ndarray:
    """Per row, the Jensen-Shannon divergence between the category mix of the last `recent`
    events of `histories[r]` and of its earlier events; NaN where either part is empty or
    carries no category (histories of at most `recent` events)."""
    if recent < 1:
        raise ValueError(f"recent={recent}: expected a positive event count")
    position = positions_in_rows(histories.lengths)
    is_recent = position >= np.repeat(histories.lengths - recent, histories.lengths)
    rows = histories.row_ids()
    categories = category_weights.shape[1]
    mixes = []
    for part in (~is_recent, is_recent):
        mix = np.zeros((len(histories), categories))
        np.add.at(mix, rows[part], category_weights[histories.values[part]])
        mixes.append(mix)
    earlier, latest = mixes
    totals = np.stack([earlier.sum(axis=1), latest.sum(axis=1)])
    defined = np.all(totals > 0, axis=0)
    drift = np.full(len(histories), np.nan)
    drift[defined] = _jensen_shannon(
        earlier[defined] / totals[0, defined, None], latest[defined] / totals[1, defined, None]
    )
    return drift


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    middle = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / np.where(b > 0, b, 1.0)), 0.0)
        return terms.sum(axis=1)

    return np.clip((kl(p, middle) + kl(q, middle)) / 2, 0.0, 1.0)


def drift_edges(drift: np.ndarray, buckets: int) -> np.ndarray:
    """The `buckets - 1` inner quantile edges of the defined drift scores."""
    defined = drift[~np.isnan(drift)]
    if len(defined) == 0:
        raise ValueError("no row has a drift score (every history is too short)")
    return np.quantile(defined, np.arange(1, buckets) / buckets)


def bucket_labels(edges: np.ndarray) -> list[str]:
    """Names of the buckets `bucket_of` numbers: `Q1 (low drift)` .. `Qn (high drift)`, then `short`."""
    n = len(edges) + 1
    return [f"Q{b + 1}" + (" (low drift)" if b == 0 else " (high drift)" if b == n - 1 else "") for b in range(n)] + [
        "short"
    ]


def bucket_of(drift: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each row's bucket: `0..len(edges)` by the quantile edges, `len(edges) + 1` for rows without a score."""
    bucket = np.searchsorted(edges, drift, side="right")
    bucket[np.isnan(drift)] = len(edges) + 1
    return bucket


def metrics_by_bucket(
    ranks: np.ndarray, users: np.ndarray, buckets: np.ndarray, labels: Sequence[str], ks: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Ranking metrics of the rows in each bucket (with the bucket's row count as `rows`); empty
    buckets are left out."""
    table = {}
    for index, label in enumerate(labels):
        rows = buckets == index
        if rows.any():
            table[label] = {"rows": int(rows.sum()), **ranking_metrics(ranks[rows], ks, users=users[rows])}
    return table
