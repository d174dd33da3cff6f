import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynint.models.losses import (
    binary_cross_entropy,
    full_softmax_cross_entropy,
    generalized_binary_cross_entropy,
    sample_negatives,
    sampled_softmax,
    sequence_loss,
)

# Two predicted positions, three items (row 0 of the table is padding).
HIDDEN = jnp.array([[1.0, 0.0], [0.0, 2.0]])
TABLE = jnp.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
TARGETS = jnp.array([1, 3])
WEIGHTS = jnp.array([1.0, 1.0])


def _softplus(x: float) -> float:
    return float(np.log1p(np.exp(x)))


def test_full_softmax_cross_entropy_matches_hand_computed_value():
    # Logits over items 1..3: position 0 -> [1, 0, 1], position 1 -> [0, 2, 2]; padding row is no candidate.
    expected = np.mean([np.log(2 * np.e + 1) - 1.0, np.log(1 + 2 * np.exp(2)) - 2.0])
    loss = jax.jit(full_softmax_cross_entropy)(HIDDEN, TABLE, TARGETS, WEIGHTS)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_full_softmax_cross_entropy_ignores_zero_weight_positions():
    loss = jax.jit(full_softmax_cross_entropy)(HIDDEN, TABLE, jnp.array([1, 0]), jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(float(loss), np.log(2 * np.e + 1) - 1.0, rtol=1e-6)


@pytest.mark.parametrize("chunk_size", [2, 512])
def test_chunked_cross_entropy_gradient_equals_autodiff_of_the_plain_formula(chunk_size):
    rng = np.random.default_rng(0)
    hidden = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
    table = jnp.asarray(rng.normal(size=(11, 4)), jnp.float32)
    targets = jnp.array([1, 5, 10, 0, 3, 3])
    weights = jnp.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0])

    def plain(h, t):
        logits = h @ t[1:].T
        per_position = jax.nn.logsumexp(logits, axis=-1) - jnp.sum(h * t[targets], axis=-1)
        return jnp.sum(per_position * weights) / jnp.sum(weights)

    def chunked(h, t):
        return 2.0 * full_softmax_cross_entropy(h, t, targets, weights, chunk_size=chunk_size)

    expected = jax.jit(jax.grad(plain, argnums=(0, 1)))(hidden, table)
    actual = jax.jit(jax.grad(chunked, argnums=(0, 1)))(hidden, table)
    for e, a in zip(expected, actual, strict=True):
        np.testing.assert_allclose(np.asarray(a), 2.0 * np.asarray(e), atol=1e-6)


def test_binary_cross_entropy_is_logistic_loss_of_positive_and_one_sampled_negative():
    key = jax.random.key(3)
    loss = float(jax.jit(binary_cross_entropy)(HIDDEN, TABLE, TARGETS, WEIGHTS, key))
    table, hidden = np.asarray(TABLE), np.asarray(HIDDEN)
    negatives = np.asarray(jax.jit(sample_negatives, static_argnums=(2, 3))(key, TARGETS, 3, 1))[:, 0]
    expected = np.mean(
        [_softplus(-hidden[i] @ table[TARGETS[i]]) + _softplus(hidden[i] @ table[negatives[i]]) for i in range(2)]
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_sampled_softmax_is_cross_entropy_over_target_and_its_negatives():
    key = jax.random.key(4)
    loss = float(jax.jit(sampled_softmax, static_argnums=5)(HIDDEN, TABLE, TARGETS, WEIGHTS, key, 2))
    negatives = np.asarray(jax.jit(sample_negatives, static_argnums=(2, 3))(key, TARGETS, 3, 2))
    table, hidden = np.asarray(TABLE), np.asarray(HIDDEN)
    per_position = []
    for i in range(2):
        logits = np.array([hidden[i] @ table[TARGETS[i]]] + [hidden[i] @ table[n] for n in negatives[i]])
        per_position.append(np.log(np.exp(logits).sum()) - logits[0])
    np.testing.assert_allclose(loss, np.mean(per_position), rtol=1e-6)


def test_gbce_scales_the_positive_term_by_beta():
    key = jax.random.key(5)
    num_negatives, t = 2, 0.5
    loss = float(
        jax.jit(generalized_binary_cross_entropy, static_argnums=(5, 6))(
            HIDDEN, TABLE, TARGETS, WEIGHTS, key, num_negatives, t
        )
    )
    alpha = num_negatives / (3 - 1)  # sampling rate: negatives over the V - 1 non-target items
    beta = alpha * (t * (1 - 1 / alpha) + 1 / alpha)
    negatives = np.asarray(jax.jit(sample_negatives, static_argnums=(2, 3))(key, TARGETS, 3, num_negatives))
    table, hidden = np.asarray(TABLE), np.asarray(HIDDEN)
    expected = np.mean(
        [
            beta * _softplus(-hidden[i] @ table[TARGETS[i]])
            + sum(_softplus(hidden[i] @ table[n]) for n in negatives[i])
            for i in range(2)
        ]
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_gbce_with_t_zero_is_plain_bce_summed_over_negatives():
    key = jax.random.key(6)
    gbce = jax.jit(generalized_binary_cross_entropy, static_argnums=(5, 6))(
        HIDDEN, TABLE, TARGETS, WEIGHTS, key, 1, 0.0
    )
    bce = jax.jit(binary_cross_entropy)(HIDDEN, TABLE, TARGETS, WEIGHTS, key)
    np.testing.assert_allclose(float(gbce), float(bce))


def test_sampled_negatives_are_real_items_other_than_the_target_and_cover_them_uniformly():
    targets = jnp.full((4000,), 3)
    negatives = np.asarray(jax.jit(sample_negatives, static_argnums=(2, 3))(jax.random.key(0), targets, 5, 3)).ravel()
    assert negatives.min() >= 1 and negatives.max() <= 5 and not np.any(negatives == 3)
    counts = np.bincount(negatives, minlength=6)[[1, 2, 4, 5]]
    np.testing.assert_allclose(counts / counts.sum(), 0.25, atol=0.02)


def test_sequence_loss_rejects_unknown_loss_names():
    with pytest.raises(ValueError, match="unknown loss"):
        sequence_loss("hinge", HIDDEN, TABLE, TARGETS, WEIGHTS, jax.random.key(0))


def test_cross_entropy_over_candidates_leaves_the_other_items_out_of_the_softmax_and_the_gradient():
    # Item 2 is not a candidate: position 0's logits over items 1 and 3 are [1, 1], position 1's [0, 2].
    candidates = jnp.array([1, 3])
    expected = np.mean([np.log(2 * np.e) - 1.0, np.log(1 + np.exp(2)) - 2.0])
    loss = jax.jit(full_softmax_cross_entropy)(HIDDEN, TABLE, TARGETS, WEIGHTS, candidates=candidates)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)
    gradient = jax.grad(lambda t: full_softmax_cross_entropy(HIDDEN, t, TARGETS, WEIGHTS, candidates=candidates))(TABLE)
    np.testing.assert_array_equal(gradient[2], [0.0, 0.0])
    assert np.abs(np.asarray(gradient)[[1, 3]]).sum() > 0


def test_every_loss_over_all_items_as_candidates_equals_the_loss_without_them():
    everything = jnp.arange(1, TABLE.shape[0])
    for name in ("ce", "bce", "sampled-softmax", "gbce"):
        plain = sequence_loss(name, HIDDEN, TABLE, TARGETS, WEIGHTS, jax.random.key(4), num_negatives=2)
        restricted = sequence_loss(
            name, HIDDEN, TABLE, TARGETS, WEIGHTS, jax.random.key(4), num_negatives=2, candidates=everything
        )
        np.testing.assert_allclose(float(restricted), float(plain), rtol=1e-6, err_msg=name)


def test_sampled_negatives_come_only_from_the_candidates():
    rng = np.random.default_rng(1)
    table = jnp.asarray(rng.normal(size=(11, 3)), dtype=jnp.float32)
    candidates = jnp.array([2, 3, 5, 8, 9])
    targets = jnp.array([2, 5, 9, 3])
    hidden = jnp.asarray(rng.normal(size=(4, 3)), dtype=jnp.float32)

    def loss_of(t):
        return sampled_softmax(hidden, t, targets, jnp.ones(4), jax.random.key(0), 50, candidates=candidates)

    gradient = np.asarray(jax.grad(loss_of)(table))
    touched = set(np.flatnonzero(np.abs(gradient).sum(axis=1) > 0).tolist())
    assert touched <= {2, 3, 5, 8, 9} and len(touched) == 5


@pytest.mark.parametrize("name", ["ce", "bce", "sampled-softmax", "gbce"])
def test_a_catalogue_prefix_trains_a_table_with_reserved_rows_as_the_table_of_the_prefix(name):
    # Items 1..6 are the catalogue; rows 7..10 are reserved capacity the loss must not see.
    rng = np.random.default_rng(2)
    table = jnp.asarray(rng.normal(size=(11, 4)), dtype=jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(8, 4)), dtype=jnp.float32)
    targets = jnp.array([1, 2, 3, 4, 5, 6, 2, 5])
    weights = jnp.array([1.0] * 7 + [0.0])

    def loss_of(t, catalogue_size=None):
        return sequence_loss(
            name, hidden, t, targets, weights, jax.random.key(3), num_negatives=3, catalogue_size=catalogue_size
        )

    prefix = jax.jit(jax.value_and_grad(loss_of))(table[:7])
    reserved = jax.jit(jax.value_and_grad(loss_of))(table, jnp.int32(6))
    np.testing.assert_allclose(float(reserved[0]), float(prefix[0]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(reserved[1][:7]), np.asarray(prefix[1]), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(reserved[1][7:]), 0.0)  # reserved rows get no gradient
    # The size is an input: a larger catalogue reuses the compiled function and brings rows 7..8 in.
    grown = jax.jit(jax.value_and_grad(loss_of))(table, jnp.int32(8))
    assert np.abs(np.asarray(grown[1][7:9])).sum() > 0 and np.all(np.asarray(grown[1][9:]) == 0)


def test_candidates_and_a_catalogue_prefix_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        sequence_loss(
            "ce",
            HIDDEN,
            TABLE,
            TARGETS,
            WEIGHTS,
            jax.random.key(0),
            candidates=jnp.array([1, 3]),
            catalogue_size=jnp.int32(3),
        )
