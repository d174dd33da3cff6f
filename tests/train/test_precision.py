import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynint.train.precision import cast_floating, with_compute_dtype


def test_only_floating_leaves_are_cast():
    tree = {"kernel": jnp.ones((2, 2)), "count": jnp.zeros((), jnp.int32)}
    cast = cast_floating(tree, jnp.bfloat16)
    assert cast["kernel"].dtype == jnp.bfloat16 and cast["count"].dtype == jnp.int32


def test_a_bfloat16_loss_is_close_to_float32_with_float32_gradients_for_float32_parameters():
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.normal(size=(16, 8)), jnp.float32)}
    inputs = jnp.asarray(rng.normal(size=(32, 16)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 8, size=32))

    def loss(p, batch, key):
        logits = (batch[0] @ p["w"].astype(batch[0].dtype)).astype(jnp.float32)
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, batch[1][:, None], 1)[:, 0])

    def cast_inputs(p, batch, key):  # the model's activations follow its parameters' dtype
        return loss(p, (batch[0].astype(p["w"].dtype), batch[1]), key)

    key = jax.random.key(0)
    full, full_grad = jax.value_and_grad(cast_inputs)(params, (inputs, targets), key)
    low, low_grad = jax.value_and_grad(with_compute_dtype(cast_inputs, "bfloat16"))(params, (inputs, targets), key)
    assert low.dtype == jnp.float32 and low_grad["w"].dtype == jnp.float32
    assert float(low) == pytest.approx(float(full), rel=2e-2) and float(low) != float(full)
    a, b = low_grad["w"], full_grad["w"]
    cosine = jnp.vdot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
    assert float(cosine) > 0.99
    assert with_compute_dtype(cast_inputs, "float32") is cast_inputs


def test_bfloat16_sasrec_ce_on_ml_100k_ends_within_2_percent_of_float32(shared_data, tmp_path, repo_root):
    from dynint.config import load_config
    from dynint.runner import run_experiment

    validation = {}
    for dtype in ("float32", "bfloat16"):
        overrides = [
            "data.name=ml-100k",
            f"data.data_dir={shared_data}",
            "train.max_epochs=40",
            "train.checkpoint=false",
            f"train.dtype={dtype}",
            f"output_dir={tmp_path / dtype}",
        ]
        config = load_config(repo_root / "experiments" / "seq-full-ranking" / "sasrec-ce.yaml", overrides)
        validation[dtype] = run_experiment(config, progress=False).metrics["valid"]["NDCG@10"]
    assert validation["bfloat16"] != validation["float32"]  # the bfloat16 run computed otherwise
    assert validation["bfloat16"] == pytest.approx(validation["float32"], rel=0.02)
