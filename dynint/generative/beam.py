"""Beam search over semantic ids, constrained by the prefix trie to items a user may get.

For each history the beam holds `beam_size` code prefixes and their summed log-probabilities;
each step extends every prefix by the codes the trie allows after it (items of the history
excluded, unless one is the row's target, which the ranking protocols keep as a candidate), keeps
the `beam_size` best, and after `depth` steps the prefixes are items, best first. The model is
run on every (row, beam) sequence at once, reading only the query of the position it extends.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.generative.batches import history_tokens
from dynint.generative.semantic_ids import PrefixTrie, SemanticIds

SEQUENCES_PER_CALL = 2048


def generate(
    graphdef: Any,
    params: Any,
    ids: SemanticIds,
    trie: PrefixTrie,
    histories: Ragged,
    max_items: int,
    beam_size: int,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """`(len(histories), beam_size)` item ids, best first (0 where fewer items remain). The items of
    each history are excluded, except `keep[r]` (a row's target, or 0)."""
    depth, offsets = ids.depth, ids.offsets
    rows = len(histories)
    prompt = history_tokens(histories, ids, max_items, width=max_items * depth + depth)
    prompt_length = np.minimum(histories.lengths, max_items) * depth
    remaining = []
    for row in range(rows):
        seen = histories[row]
        if keep is not None:
            seen = seen[seen != keep[row]]
        remaining.append(trie.remaining(seen))
    nodes = np.zeros((rows, 1), dtype=np.int64)  # every row starts with one beam at the root
    scores = np.zeros((rows, 1))
    alive = np.ones((rows, 1), dtype=bool)
    codes = np.zeros((rows, 1, 0), dtype=np.int64)
    for level in range(depth):
        width = nodes.shape[1]
        sequences = np.repeat(prompt, width, axis=0).reshape(rows, width, -1)
        for done in range(level):
            column = (prompt_length + done)[:, None]
            sequences[np.arange(rows)[:, None], np.arange(width)[None, :], column] = offsets[done] + codes[:, :, done]
        # The position whose next token is chosen (an empty history: its first, padding, position).
        query = np.repeat(np.maximum(prompt_length + level - 1, 0), width)
        log_probs = _next_token_log_probs(graphdef, params, sequences.reshape(rows * width, -1), query)
        size = ids.level_sizes[level]
        level_log_probs = log_probs[:, offsets[level] : offsets[level] + size].reshape(rows, width, size)
        candidates = np.full((rows, width, size), -np.inf)
        for row in range(rows):
            allowed = trie.allowed(level, nodes[row], remaining[row]) & alive[row][:, None]
            candidates[row] = np.where(allowed, scores[row][:, None] + level_log_probs[row], -np.inf)
        flat = candidates.reshape(rows, -1)
        keep_count = min(beam_size, flat.shape[1])
        best = np.argsort(-flat, axis=1, kind="stable")[:, :keep_count]
        parent, code = np.divmod(best, size)
        scores = np.take_along_axis(flat, best, axis=1)
        alive = np.isfinite(scores)
        child = trie.child[level][np.take_along_axis(nodes, parent, axis=1), code]
        nodes = np.where(alive, child, 0)
        codes = np.concatenate([np.take_along_axis(codes, parent[:, :, None], axis=1), code[:, :, None]], axis=2)
    items = np.where(alive, trie.leaf_item[nodes], 0)
    if items.shape[1] < beam_size:
        items = np.pad(items, ((0, 0), (0, beam_size - items.shape[1])))
    return items


def _next_token_log_probs(graphdef: Any, params: Any, sequences: np.ndarray, query: np.ndarray) -> np.ndarray:
    """`(len(sequences), vocabulary)` log-probabilities of the token after position `query[i]`,
    computed in calls of a fixed number of sequences (few compiled shapes)."""
    parts = []
    for start in range(0, len(sequences), SEQUENCES_PER_CALL):
        chunk = sequences[start : start + SEQUENCES_PER_CALL]
        count = len(chunk)
        size = min(SEQUENCES_PER_CALL, max(8, 1 << (count - 1).bit_length()))
        padded = np.zeros((size, chunk.shape[1]), dtype=np.int32)
        padded[:count] = chunk
        positions = np.zeros(size, dtype=np.int32)
        positions[:count] = query[start : start + count]
        parts.append(np.asarray(_log_probs(graphdef, params, jnp.asarray(padded), jnp.asarray(positions)))[:count])
    return np.concatenate(parts)


@partial(jax.jit, static_argnums=0)
def _log_probs(graphdef: Any, params: Any, tokens: jax.Array, positions: jax.Array) -> jax.Array:
    model = nnx.merge(graphdef, params)
    hidden = model(tokens, positions=positions)
    return jax.nn.log_softmax(model.logits(hidden).astype(jnp.float32), axis=-1)
