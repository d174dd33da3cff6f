import re
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from dynint.config import parse_config
from dynint.errors import ConfigError
from dynint.models import MODELS
from dynint.models.ctr import CTR_MODELS
from dynint.models.item_representation import (
    ItemContent,
    ItemRepresentation,
    ItemRepresentationConfig,
    is_frozen,
)
from dynint.models.multitask import MULTITASK_MODELS
from dynint.train.state import split_model
from tests.models.ctr import tiny_ctr
from tests.models.multitask import tiny_multitask
from tests.models.tiny_models import MAX_LENGTH, NUM_ITEMS, TINY

TEXT_SIZE = 6
CONTENT_KINDS = ("text-init", "text-adaptor", "id+text", "id+attributes")


def tiny_content(num_items: int = NUM_ITEMS, seed: int = 0) -> ItemContent:
    """Random text vectors and bags of 1 to 3 attribute ids (out of 9) for items 0..num_items."""
    rng = np.random.default_rng(seed)
    attributes = rng.integers(1, 10, size=(num_items + 1, 3))
    attributes[rng.random(attributes.shape) < 0.3] = 0
    attributes[:, 0] = rng.integers(1, 10, size=num_items + 1)
    attributes[0] = 0
    text = rng.normal(size=(num_items + 1, TEXT_SIZE)).astype(np.float32)
    return ItemContent(text=text, attributes=np.sort(attributes, axis=1)[:, ::-1].copy(), attribute_vocab_size=10)


def representation(kind: str, content: ItemContent | None = None, **settings) -> ItemRepresentation:
    config = ItemRepresentationConfig(kind=kind, **settings)
    return ItemRepresentation(config, NUM_ITEMS, 8, content or tiny_content(), rngs=nnx.Rngs(params=0))


def sequence_model(name: str, kind: str, content: ItemContent | None = None, **settings):
    config_class, module_class = MODELS[name]
    sizes = {k: v for k, v in TINY.items() if k in config_class.__dataclass_fields__}
    config = config_class(**sizes, items=ItemRepresentationConfig(kind=kind, **settings))
    return module_class(config, NUM_ITEMS, MAX_LENGTH, rngs=nnx.Rngs(params=0), content=content or tiny_content())


def _leaf_names(params) -> set[str]:
    return {str(path[-1].key) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]}


def test_id_kind_draws_and_looks_up_the_table_as_nnx_embed_does():
    ids = jnp.array([[0, 3, 30], [7, 7, 1]])
    items = ItemRepresentation(ItemRepresentationConfig(), NUM_ITEMS, 8, rngs=nnx.Rngs(params=5), init_std=0.1)
    embed = nnx.Embed(NUM_ITEMS + 1, 8, embedding_init=nnx.initializers.normal(0.1), rngs=nnx.Rngs(params=5))
    np.testing.assert_array_equal(items.embedding[...], embed.embedding[...])
    np.testing.assert_array_equal(items(ids), embed(ids))
    np.testing.assert_array_equal(items.table(), embed.embedding[...])
    assert set(nnx.to_pure_dict(nnx.state(items))) == {"embedding"}


def test_text_adaptor_has_no_id_table_and_scores_an_unseen_item_by_its_text():
    content = tiny_content()
    model = sequence_model("sasrec", "text-adaptor", content)
    assert "embedding" not in nnx.to_pure_dict(nnx.state(model.embed.items))
    cold, warm = 17, 4
    text = content.text.copy()
    text[cold] = np.random.default_rng(1).normal(size=TEXT_SIZE)
    moved = sequence_model("sasrec", "text-adaptor", ItemContent(text=text))
    hidden = model(jnp.array([[1, 2, 3, 0, 0, 0, 0, 0]]), positions=jnp.array([2]))
    scores, moved_scores = hidden @ model.output_table().T, hidden @ moved.output_table().T
    others = np.arange(NUM_ITEMS + 1) != cold
    np.testing.assert_array_equal(scores[:, others], moved_scores[:, others])
    assert not np.allclose(scores[:, cold], moved_scores[:, cold])
    text[cold] = content.text[warm]  # the cold item takes a warm item's text, and its score
    same = sequence_model("sasrec", "text-adaptor", ItemContent(text=text)).output_table()
    np.testing.assert_allclose(same[cold], same[warm], rtol=1e-6)


def test_text_init_pca_table_holds_the_scaled_principal_projections_of_the_text():
    content = tiny_content(seed=3)
    table = np.asarray(representation("text-init", content, init_projection="pca").table(), np.float64)
    # Principal directions from the covariance's eigenvectors, independent of the SVD the model uses.
    centred = content.text[1:].astype(np.float64) - content.text[1:].mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    projected = centred @ vectors[:, np.argsort(values)[::-1]]
    projected *= 0.02 / projected.std()
    width = projected.shape[1]
    # Equal up to the sign of each direction: compare the rows' inner products.
    np.testing.assert_allclose(table[1:, :width] @ table[1:, :width].T, projected @ projected.T, atol=1e-9)
    assert "frozen_text" not in nnx.to_pure_dict(nnx.state(representation("text-init", content)))


def test_text_init_learned_table_starts_as_the_projected_text():
    content = tiny_content()
    items = representation("text-init", content, init_projection="learned")
    expected = content.text @ items.projection.kernel[...] + items.projection.bias[...]
    np.testing.assert_allclose(items.table(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["id+text", "id+attributes"])
@pytest.mark.parametrize("fusion", ["gated", "concat"])
def test_fused_kinds_tell_apart_items_with_equal_id_vectors_by_their_content(kind, fusion):
    a, b = 11, 12
    content = tiny_content()
    items = representation(kind, content, fusion=fusion)
    items.embedding[...] = items.embedding[...].at[b].set(items.embedding[a])
    table = np.asarray(items.table())
    assert not np.allclose(table[a], table[b])
    text, attributes = content.text.copy(), content.attributes.copy()
    text[b], attributes[b] = text[a], attributes[a]
    equal = ItemContent(text=text, attributes=attributes, attribute_vocab_size=content.attribute_vocab_size)
    same = representation(kind, equal, fusion=fusion)
    same.embedding[...] = same.embedding[...].at[b].set(same.embedding[a])
    np.testing.assert_array_equal(same.table()[a], same.table()[b])


def test_attribute_vector_is_the_mean_of_the_item_tokens_embeddings():
    attributes = np.array([[0, 0], [1, 2], [3, 0], [0, 0]])
    content = ItemContent(attributes=attributes, attribute_vocab_size=4)
    config = ItemRepresentationConfig(kind="id+attributes")
    items = ItemRepresentation(config, 3, 4, content, rngs=nnx.Rngs(params=0))
    table = items.attribute_embedding[...]
    pooled = items._attributes(jnp.arange(4))
    np.testing.assert_allclose(pooled[1], (table[1] + table[2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(pooled[2], table[3], rtol=1e-6)
    np.testing.assert_array_equal(pooled[3], np.zeros(4))


@pytest.mark.parametrize("kind", ["text-adaptor", "id+text", "text-init", "id+attributes"])
def test_frozen_content_gets_no_gradient(kind):
    settings = {"init_projection": "learned"} if kind == "text-init" else {}
    graphdef, params = split_model(sequence_model("sasrec", kind, **settings))
    frozen = {name for name in _leaf_names(params) if is_frozen(name)}
    assert frozen == ({"frozen_attributes"} if kind == "id+attributes" else {"frozen_text"})

    def loss(params):
        model = nnx.merge(graphdef, params)
        hidden = model(jnp.array([[1, 2, 3, 4, 0, 0, 0, 0]]))
        return jnp.sum(jax.nn.log_softmax(hidden @ model.output_table().T))

    gradients = jax.grad(loss)(params)
    for path, gradient in jax.tree_util.tree_flatten_with_path(gradients)[0]:
        if is_frozen(path[-1].key):
            np.testing.assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_every_sequence_model_scores_every_item_under_every_kind(name, kind, sequences):
    model = sequence_model(name, kind)
    inputs = sequences.copy()
    if name == "bert4rec":  # a cloze query ends with the mask token
        inputs[1, 2] = model.objective.mask_token
    hidden = model(jnp.asarray(inputs))
    table = model.output_table()
    assert hidden.shape == (3, MAX_LENGTH, TINY["hidden_size"])
    assert table.shape == (NUM_ITEMS + 1, TINY["hidden_size"])
    assert np.isfinite(np.asarray(hidden @ table.T)).all()


def test_bert4rec_mask_token_is_a_learned_vector_under_text_adaptor():
    model = sequence_model("bert4rec", "text-adaptor")
    mask = model.objective.mask_token
    vectors = model.embed.items(jnp.array([mask, 1]))
    np.testing.assert_array_equal(vectors[0], model.embed.items.extra[...][0])
    assert not np.allclose(vectors[0], vectors[1])


@pytest.mark.parametrize("name", list(CTR_MODELS))
@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_every_ctr_model_runs_under_every_kind(name, kind):
    config_class, module_class = CTR_MODELS[name]
    fields = config_class.__dataclass_fields__
    config = config_class(
        **{k: v for k, v in tiny_ctr.TINY.items() if k in fields}, items=ItemRepresentationConfig(kind=kind)
    )
    model = module_class(
        config,
        tiny_ctr.NUM_ITEMS,
        tiny_ctr.MAX_LENGTH,
        tiny_ctr.FEATURE_SIZES,
        rngs=nnx.Rngs(0),
        content=tiny_content(tiny_ctr.NUM_ITEMS),
    )
    logits, auxiliary = model(tiny_ctr.tiny_batch())
    assert logits.shape == (4,) and np.isfinite(np.asarray(logits)).all() and np.isfinite(float(auxiliary))


@pytest.mark.parametrize("name", list(MULTITASK_MODELS))
def test_multitask_encoders_take_their_item_representation_from_the_encoder_config(name):
    config_class, module_class = MULTITASK_MODELS[name]
    fields = config_class.__dataclass_fields__
    encoder = replace(tiny_multitask.ENCODER, items=ItemRepresentationConfig(kind="id+text"))
    config = config_class(encoder=encoder, **{k: v for k, v in tiny_multitask.TINY.items() if k in fields})
    model = module_class(
        config,
        tiny_ctr.NUM_ITEMS,
        tiny_ctr.MAX_LENGTH,
        tiny_ctr.FEATURE_SIZES,
        rngs=nnx.Rngs(0),
        content=tiny_content(tiny_ctr.NUM_ITEMS),
    )
    assert "frozen_text" in _leaf_names(nnx.to_pure_dict(nnx.state(model)))
    outputs = model(tiny_multitask.tiny_rated_batch()).outputs
    assert all(np.isfinite(np.asarray(value)).all() for value in outputs.values())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("kind", "text", "model.items.kind"),
        ("fusion", "sum", "model.items.fusion"),
        ("init_projection", "svd", "model.items.init_projection"),
        ("adaptor_experts", 0, "model.items.adaptor_experts"),
        ("adaptor_dropout", 1.0, "model.items.adaptor_dropout"),
    ],
)
def test_invalid_item_settings_fail_naming_the_key(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"model": {"name": "sasrec", "items": {key: value}}})


def test_a_content_kind_without_its_content_fails_naming_the_key():
    text_only = ItemContent(text=np.zeros((NUM_ITEMS + 1, 4), np.float32))
    with pytest.raises(ConfigError, match=re.escape("model.items.kind='id+attributes' needs item attributes")):
        representation("id+attributes", text_only)
    with pytest.raises(ConfigError, match=re.escape("model.items.kind='text-adaptor' needs item content")):
        ItemRepresentation(ItemRepresentationConfig(kind="text-adaptor"), NUM_ITEMS, 8, None, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="expected num_items \\+ 1 = 31"):
        representation("text-adaptor", ItemContent(text=np.zeros((5, 4), np.float32)))


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_many_ids_at_once_get_the_vectors_of_the_table(kind):
    items = representation(kind)
    many = jnp.tile(jnp.arange(NUM_ITEMS + 1), 3)  # more ids than items: computed once per item
    few = jnp.array([0, 5, NUM_ITEMS])
    np.testing.assert_allclose(items(many), jnp.tile(items.table(), (3, 1)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(items(few), items.table()[few], rtol=1e-6, atol=1e-7)
