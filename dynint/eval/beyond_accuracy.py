"""Beyond-accuracy metrics of top-k recommendation lists: what a model shows users, not only
whether it finds the held-out item.

Every function takes `lists` `(R, K')` of item ids (row `r`: the ranked recommendations of
evaluation row `r`, best first, `K' >= k`) and reads its first `k` columns:

- `coverage`: the share of the catalogue's items `1..num_items` that appear in any list.
- `gini`: the Gini index of how often each catalogue item is recommended (0: every item equally
  often; near 1: a few items take every slot), items never recommended counting 0.
- `novelty`: the mean self-information `-log2 p(i)` of recommended items, `p(i)` the share of
  users with a visible event on `i` (Zhou et al., PNAS 2010); an item no user has seen counts as
  seen by one, so it stays finite.
- `popularity`: the mean number of visible events of the recommended items (average
  recommendation popularity, ARP).
- `diversity`: intra-list diversity, 1 minus the mean cosine similarity of the items' feature
  bags over the pairs of each list, averaged over lists; an item without features is similar to
  nothing.

`activity` is a fairness view of accuracy rather than of the lists: evaluation rows are split
into `ACTIVITY_GROUPS` equal groups by the length of their history (q1: the least active users),
and NDCG@K is reported per group with the gap between the best and the worst group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from dynint.data.interactions import ItemFeatures
from dynint.data.ragged import Ragged
from dynint.errors import ConfigError

BEYOND_ACCURACY_METRICS = ("coverage", "gini", "novelty", "popularity", "diversity", "activity")
LIST_METRICS = BEYOND_ACCURACY_METRICS[:5]
ACTIVITY_GROUPS = 5
_LABELS = {
    "coverage": "Coverage",
    "gini": "Gini",
    "novelty": "Novelty",
    "popularity": "ARP",
    "diversity": "ILD",
}


def check_metric_names(names: Sequence[str]) -> None:
    unknown = [name for name in names if name not in BEYOND_ACCURACY_METRICS]
    if unknown:
        raise ConfigError(
            f"eval.beyond_accuracy: unknown metric(s) {', '.join(map(repr, unknown))}; "
            f"expected some of {', '.join(BEYOND_ACCURACY_METRICS)}"
        )


def metric_label(name: str, k: int) -> str:
    """The reported name of metric `name` at cut-off `k` (`Coverage@10`, `ILD@10`, ...)."""
    return f"{_LABELS[name]}@{k}"


def beyond_accuracy_metric_names(names: Sequence[str], ks: Sequence[int]) -> list[str]:
    """The names the metrics `names` are reported under at each K in `ks`."""
    reported = []
    for k in ks:
        for name in names:
            if name == "activity":
                reported += [f"NDCG@{k} q{group}" for group in range(1, ACTIVITY_GROUPS + 1)] + [f"NDCG@{k} gap"]
            elif name != "diversity" or k >= 2:
                reported.append(metric_label(name, k))
    return reported


@dataclass(frozen=True)
class CatalogueFacts:
    """What the beyond-accuracy metrics need besides the lists: `item_events[i]` visible events
    on item `i` (row 0 unused), `item_users[i]` distinct users with one, `num_users`, and each
    item's L2-normalised feature bag (`features`, rows by item id) where the data set has any."""

    num_items: int
    num_users: int
    item_events: np.ndarray
    item_users: np.ndarray
    features: sparse.csr_matrix | None = None

    @classmethod
    def from_events(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        num_items: int,
        num_users: int,
        item_features: ItemFeatures | None = None,
    ) -> CatalogueFacts:
        """Facts from the visible events `(users[e], items[e])`."""
        item_events = np.bincount(items, minlength=num_items + 1)
        pairs = np.unique(np.asarray(users, np.int64) * (num_items + 1) + items)
        item_users = np.bincount(pairs % (num_items + 1), minlength=num_items + 1)
        return cls(num_items, num_users, item_events, item_users, feature_bags(item_features, num_items))


def catalogue_facts(visible: Ragged, num_items: int, item_features: ItemFeatures | None = None) -> CatalogueFacts:
    """Facts of the per-user visible events `visible` (row `u`: user `u`'s items)."""
    return CatalogueFacts.from_events(visible.row_ids(), visible.values, num_items, len(visible), item_features)


def feature_bags(item_features: ItemFeatures | None, num_items: int) -> sparse.csr_matrix | None:
    """`(num_items + 1, T)`: every token feature of an item (genres, categories, brand, ...) as
    one bag of its tokens, rows L2-normalised; None without token features."""
    if item_features is None or not item_features.tokens:
        return None
    blocks = []
    for name in sorted(item_features.tokens):
        tokens = item_features.tokens[name]
        width = max(len(item_features.vocabularies.get(name, ())), int(tokens.values.max(initial=-1)) + 1)
        rows = tokens.row_ids()
        ones = np.ones(len(rows), dtype=np.float64)
        blocks.append(sparse.csr_matrix((ones, (rows, tokens.values)), shape=(len(tokens), width)))
    bags = sparse.hstack(blocks, format="csr")
    bags.data[:] = 1.0  # a token named twice is still one token
    norms = np.sqrt(np.asarray(bags.multiply(bags).sum(axis=1)).ravel())
    bags = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ bags
    if bags.shape[0] < num_items + 1:
        bags = sparse.vstack([bags, sparse.csr_matrix((num_items + 1 - bags.shape[0], bags.shape[1]))])
    return bags.tocsr()


def coverage(lists: np.ndarray, k: int, num_items: int) -> float:
    shown = np.unique(lists[:, :k])
    return float(np.count_nonzero((shown >= 1) & (shown <= num_items)) / num_items)


def gini(lists: np.ndarray, k: int, num_items: int) -> float:
    counts = np.sort(np.bincount(lists[:, :k].ravel(), minlength=num_items + 1)[1 : num_items + 1]).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return 0.0
    ranks = np.arange(1, num_items + 1)
    return float(np.sum((2 * ranks - num_items - 1) * counts) / (num_items * total))


def novelty(lists: np.ndarray, k: int, facts: CatalogueFacts) -> float:
    share = np.maximum(facts.item_users, 1) / facts.num_users
    return float(np.mean(-np.log2(share[lists[:, :k]])))


def popularity(lists: np.ndarray, k: int, facts: CatalogueFacts) -> float:
    return float(np.mean(facts.item_events[lists[:, :k]]))


def diversity(lists: np.ndarray, k: int, features: sparse.csr_matrix) -> float:
    if k < 2:
        raise ValueError("intra-list diversity needs lists of at least 2 items")
    top = lists[:, :k]
    similarity = np.zeros(len(top))
    for a in range(k):
        left = features[top[:, a]]
        for b in range(a + 1, k):
            similarity += np.asarray(left.multiply(features[top[:, b]]).sum(axis=1)).ravel()
    pairs = k * (k - 1) / 2
    return float(np.mean(1.0 - similarity / pairs))


def activity_groups(history_lengths: np.ndarray, groups: int = ACTIVITY_GROUPS) -> np.ndarray:
    """Group `0..groups-1` of each row: rows ordered by history length (then by position) and cut
    into `groups` parts of equal size (the first parts one row larger where it does not divide)."""
    order = np.lexsort((np.arange(len(history_lengths)), history_lengths))
    labels = np.empty(len(history_lengths), dtype=np.int64)
    for group, rows in enumerate(np.array_split(order, groups)):
        labels[rows] = group
    return labels


def activity_metrics(ranks: np.ndarray, history_lengths: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """NDCG@K per activity group (`NDCG@10 q1` ... `q5`, q1 the least active) and `NDCG@10 gap`,
    the best group's minus the worst's."""
    labels = activity_groups(np.asarray(history_lengths))
    metrics = {}
    for k in ks:
        gain = np.where(ranks < k, 1.0 / np.log2(np.asarray(ranks, np.float64) + 2.0), 0.0)
        per_group = [float(gain[labels == group].mean()) for group in range(ACTIVITY_GROUPS) if np.any(labels == group)]
        for group, value in enumerate(per_group, 1):
            metrics[f"NDCG@{k} q{group}"] = value
        metrics[f"NDCG@{k} gap"] = max(per_group) - min(per_group)
    return metrics


def beyond_accuracy_metrics(
    lists: np.ndarray, ks: Sequence[int], names: Sequence[str], facts: CatalogueFacts
) -> dict[str, float]:
    """Metrics `names` at each cut-off in `ks` (`lists` must have at least `max(ks)` columns)."""
    check_metric_names(names)
    if lists.shape[1] < max(ks):
        raise ValueError(f"lists hold {lists.shape[1]} items per row; the metrics need {max(ks)}")
    if "diversity" in names and facts.features is None:
        raise ConfigError("eval.beyond_accuracy: 'diversity' needs item features (genres, categories, ...)")
    metrics = {}
    for k in ks:
        for name in names:
            if name == "activity":
                continue  # from the ranks, not the lists (`activity_metrics`)
            if name == "coverage":
                value = coverage(lists, k, facts.num_items)
            elif name == "gini":
                value = gini(lists, k, facts.num_items)
            elif name == "novelty":
                value = novelty(lists, k, facts)
            elif name == "popularity":
                value = popularity(lists, k, facts)
            elif k >= 2:
                value = diversity(lists, k, facts.features)
            else:
                continue  # diversity is undefined for single-item lists
            metrics[metric_label(name, k)] = value
    return metrics
