"""Constrained beam search: only real, allowed items, in the order of their exact probability."""

import jax
import numpy as np
from flax import nnx

from dynint.data.ragged import Ragged
from dynint.generative.batches import TokenBatcher, history_tokens
from dynint.generative.beam import generate
from dynint.generative.semantic_ids import PrefixTrie, SemanticIds
from dynint.generative.tiger import TIGER, TIGERConfig
from dynint.train.state import split_model

MAX_ITEMS = 4


def _setup():
    rng = np.random.default_rng(1)
    ids = SemanticIds.from_codes(rng.integers(0, 4, size=(14, 2)), codebook_size=4)
    config = TIGERConfig(hidden_size=16, num_layers=1, num_heads=2, inner_size=32, dropout=0.0, max_items=MAX_ITEMS)
    model = TIGER(config, ids.vocabulary, (MAX_ITEMS + 1) * ids.depth, rngs=nnx.Rngs(params=5))
    graphdef, params = split_model(model)
    return ids, PrefixTrie(ids), graphdef, params


def _exact_log_prob(graphdef, params, ids, history, item):
    """log P(item | history) by teacher forcing: the sum of its tokens' log-probabilities."""
    tokens = history_tokens(Ragged.from_rows([np.array([*history, item])]), ids, MAX_ITEMS + 1)
    model = nnx.merge(graphdef, params)
    log_probs = np.asarray(jax.nn.log_softmax(model.logits(model(tokens)), axis=-1))[0]
    start = min(len(history), MAX_ITEMS) * ids.depth
    return sum(log_probs[start + level - 1, tokens[0, start + level]] for level in range(ids.depth))


def test_an_exhaustive_beam_returns_every_allowed_item_by_exact_probability():
    ids, trie, graphdef, params = _setup()
    history = [3, 9, 1]
    lists = generate(graphdef, params, ids, trie, Ragged.from_rows([np.array(history)]), MAX_ITEMS, 16)
    allowed = [i for i in range(1, ids.num_items + 1) if i not in history]
    found = [int(i) for i in lists[0] if i]
    assert sorted(found) == allowed  # each unseen item exactly once, no seen item, nothing invented
    exact = {item: _exact_log_prob(graphdef, params, ids, history, item) for item in allowed}
    assert found == sorted(allowed, key=lambda item: -exact[item])
    assert list(lists[0][len(allowed) :]) == [0] * (16 - len(allowed))  # the beam is wider than the items left


def test_a_narrow_beam_keeps_to_real_unseen_items_and_a_seen_target_stays_a_candidate():
    ids, trie, graphdef, params = _setup()
    histories = Ragged.from_rows([np.array([2, 5, 7, 8, 11]), np.array([4]), np.array([6, 6, 1])])
    lists = generate(graphdef, params, ids, trie, histories, MAX_ITEMS, 3, keep=np.array([0, 0, 6]))
    for items in lists:
        assert len(set(items.tolist())) == 3 and all(1 <= i <= ids.num_items for i in items)
    assert not set(lists[0]) & {2, 5, 7, 8, 11} and 4 not in lists[1] and 1 not in lists[2]
    everything = generate(graphdef, params, ids, trie, histories.take(np.array([2])), MAX_ITEMS, 16, np.array([6]))
    assert 6 in everything[0]  # the kept target is generated although the history holds it


def test_token_batches_cover_every_item_of_every_sequence_in_overlapping_windows():
    ids, _, _, _ = _setup()
    sequences = Ragged.from_rows([np.array([1, 2, 3, 4, 5, 6]), np.array([7]), np.array([8, 9])])
    batcher = TokenBatcher(sequences, ids, MAX_ITEMS, batch_size=4)
    [batch] = batcher.epoch(seed=0, epoch=1)
    streams = np.concatenate([batch.inputs[:, :1], batch.targets], axis=1)
    # Windows of MAX_ITEMS + 1 items, each starting at the previous one's last: 1-5 and 5-6; the
    # one-event user has nothing to predict and is left out.
    expected = {tuple(ids.tokens(np.array(items)).reshape(-1)) for items in ([1, 2, 3, 4, 5], [5, 6], [8, 9])}
    found = {tuple(row[row != 0]) for row in streams if row.any()}
    assert found == expected
    assert batcher.examples(batch) == (5 * ids.depth - 1) + 2 * (2 * ids.depth - 1)
