"""Semantic ids are unique per item, and the trie allows exactly the paths to items a user may get."""

import itertools

import numpy as np
import pytest

from dynint.errors import ConfigError
from dynint.generative.semantic_ids import PrefixTrie, SemanticIds


def test_colliding_codes_get_a_collision_level_in_item_order():
    ids = SemanticIds.from_codes(np.array([[0, 1], [0, 1], [2, 3], [0, 2], [0, 1]]), codebook_size=4)
    assert ids.paths[1:].tolist() == [[0, 1, 0], [0, 1, 1], [2, 3, 0], [0, 2, 0], [0, 1, 2]]
    assert len({tuple(path) for path in ids.paths[1:]}) == ids.num_items  # every item unique
    assert ids.collisions() == {"items_sharing_codes": 3, "largest_group": 3}
    # Each level its own token range: 4 codes, 4 codes, then the largest group's 3; padding has none.
    assert ids.level_sizes == (4, 4, 3) and ids.offsets.tolist() == [1, 5, 9]
    assert ids.tokens(np.array([2, 0])).tolist() == [[1, 6, 10], [0, 0, 0]]
    assert ids.vocabulary == 12


def test_codes_that_say_nothing_are_refused():
    with pytest.raises(ConfigError, match=r"3 items share one code path \(more than 2\)"):
        SemanticIds.from_codes(np.zeros((3, 2), dtype=int), codebook_size=2, max_collisions=2)


def test_the_trie_allows_exactly_the_prefixes_of_items_not_excluded():
    rng = np.random.default_rng(0)
    ids = SemanticIds.from_codes(rng.integers(0, 3, size=(40, 2)), codebook_size=16)
    trie = PrefixTrie(ids)
    excluded = np.array([3, 7, 7, 12, 40])
    kept = [tuple(ids.paths[i]) for i in range(1, ids.num_items + 1) if i not in set(excluded)]
    remaining = trie.remaining(excluded)
    frontier = {(): 0}  # prefix -> its node at this level
    for level in range(ids.depth):
        nodes = np.array(list(frontier.values()))
        allowed = trie.allowed(level, nodes, remaining)
        following = {}
        for (prefix, node), row in zip(frontier.items(), allowed, strict=True):
            expected = {path[level] for path in kept if path[:level] == prefix}
            assert set(np.flatnonzero(row)) == expected
            for code in expected:
                following[(*prefix, code)] = int(trie.child[level][node, code])
        frontier = following
    assert sorted(int(trie.leaf_item[node]) for node in frontier.values()) == sorted(
        i for i in range(1, ids.num_items + 1) if i not in set(excluded)
    )
    assert set(itertools.chain(kept)) == {tuple(ids.paths[trie.leaf_item[n]]) for n in frontier.values()}
