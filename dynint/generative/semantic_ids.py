"""Semantic ids: every item's code path (RQ-VAE levels plus a collision level), its tokens, and the
prefix trie that keeps generation to real items.

Items whose RQ-VAE codes coincide are told apart by one more level: their rank among the items of
that code path, in item-id order (TIGER's collision-breaking token), which has as many codes as the
largest such group. So every item has a unique path of `depth = levels + 1` codes. Each level has
its own token range (`offsets[l]` + code; 0 is padding), so the levels never share a token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynint.errors import ConfigError


@dataclass(frozen=True)
class SemanticIds:
    """`paths[i]` the code path of item `i` (row 0, the padding item, unused); `level_sizes[l]` the
    codes level `l` has (the RQ-VAE's codebook size, then the collision level's)."""

    paths: np.ndarray
    level_sizes: tuple[int, ...]

    @classmethod
    def from_codes(cls, codes: np.ndarray, codebook_size: int, max_collisions: int = 4096) -> SemanticIds:
        """Paths for items 1..N from their RQ-VAE `codes` `(N, levels)`, with the collision level
        (refused past `max_collisions` items on one path: the codes then say little)."""
        codes = np.asarray(codes, dtype=np.int64)
        _, group, sizes = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
        group = group.reshape(-1)
        if sizes.max() > max_collisions:
            raise ConfigError(
                f"model.semantic_ids: {sizes.max()} items share one code path (more than {max_collisions}); "
                "use more levels or larger codebooks, or check that the items' content differs"
            )
        order = np.lexsort((np.arange(len(codes)), group))  # by group, then item id
        collision = np.empty(len(codes), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        collision[order] = np.arange(len(codes)) - np.repeat(starts, sizes)
        paths = np.zeros((len(codes) + 1, codes.shape[1] + 1), dtype=np.int64)
        paths[1:] = np.column_stack([codes, collision])
        return cls(paths, (codebook_size,) * codes.shape[1] + (int(sizes.max()),))

    @property
    def num_items(self) -> int:
        return len(self.paths) - 1

    @property
    def depth(self) -> int:
        return self.paths.shape[1]

    @property
    def offsets(self) -> np.ndarray:
        """The token of code 0 at each level."""
        return 1 + np.concatenate([[0], np.cumsum(self.level_sizes)[:-1]])

    @property
    def vocabulary(self) -> int:
        """Token count, padding included."""
        return 1 + sum(self.level_sizes)

    def tokens(self, items: np.ndarray) -> np.ndarray:
        """`(..., depth)` tokens of `items` (item 0, padding: all 0)."""
        items = np.asarray(items)
        tokens = self.offsets + self.paths[items]
        return np.where((items != 0)[..., None], tokens, 0)

    def collisions(self) -> dict[str, int]:
        """How many items share their RQ-VAE codes with another (and so need the collision level),
        and the largest such group."""
        _, sizes = np.unique(self.paths[1:, :-1], axis=0, return_counts=True)
        return {"items_sharing_codes": int(sizes[sizes > 1].sum()), "largest_group": int(sizes.max())}


class PrefixTrie:
    """Which codes may follow a code prefix so that the path still leads to an item, with items a
    user must not get (seen ones) removed. Node `n` at level `l` is one distinct prefix of `l` codes
    (level 0: the root); `item_node[l][i]` is item i's node at level l."""

    def __init__(self, ids: SemanticIds):
        self.ids = ids
        paths = ids.paths[1:]
        self.item_node = [np.zeros(len(paths), dtype=np.int64)]
        for level in range(1, ids.depth + 1):
            _, nodes = np.unique(paths[:, :level], axis=0, return_inverse=True)
            self.item_node.append(nodes.reshape(-1))
        # child[l][node, code] -> the node at level l + 1, or -1 where no item continues that way.
        self.child = []
        for level in range(ids.depth):
            table = np.full((self.item_node[level].max() + 1, ids.level_sizes[level]), -1, dtype=np.int64)
            table[self.item_node[level], paths[:, level]] = self.item_node[level + 1]
            self.child.append(table)
        self.items_below = [np.bincount(nodes) for nodes in self.item_node]
        leaf_item = np.zeros(self.item_node[-1].max() + 1, dtype=np.int64)
        leaf_item[self.item_node[-1]] = np.arange(1, len(paths) + 1)
        self.leaf_item = leaf_item

    def remaining(self, excluded: np.ndarray) -> list[np.ndarray]:
        """Per level, each node's count of items below it once `excluded` (item ids) are removed."""
        excluded = np.unique(np.asarray(excluded, dtype=np.int64))
        excluded = excluded[(excluded > 0) & (excluded <= self.ids.num_items)]
        counts = []
        for level, below in enumerate(self.items_below):
            left = below.copy()
            np.subtract.at(left, self.item_node[level][excluded - 1], 1)
            counts.append(left)
        return counts

    def allowed(self, level: int, nodes: np.ndarray, remaining: list[np.ndarray]) -> np.ndarray:
        """`(len(nodes), level_sizes[level])` bool: the codes after each level-`level` node that
        still lead to an item not excluded."""
        children = self.child[level][nodes]
        open_child = np.where(children >= 0, remaining[level + 1][np.maximum(children, 0)], 0)
        return open_child > 0
