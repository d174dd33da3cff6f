"""A loaded next-item model as a self-contained serving artefact (`dynint export RUN_DIR OUT`).

`OUT/` holds:
- `top_k.jax`: the scoring function serialised with `jax.export` (StableHLO), for CPU and, where
  asked, other platforms. It takes `(parameters, history, excluded)`: the parameter arrays in
  the order of `parameters.npz` (`p0`, `p1`, ...), `history` `(B, max_length)` int32 internal
  item ids, oldest first, left-aligned and 0-padded, and `excluded` `(B, E)` int32 items never
  to recommend (the user's seen items; 0 pads), `B` and `E` of any size. It returns `(B, k)`
  int32 internal item ids, best first, ties to the lower id, as `dynint recommend` ranks them.
- `parameters.npz`: the model's parameter arrays.
- `items.json`: internal item id -> raw item id (index 0: padding), and `serving.json`: `k`,
  `max_length`, the model and data set, the run folder and dynint's version.

Using it needs jax and numpy only: `jax.export.deserialize(bytes)`, then `.call(...)`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import dynint
from dynint.io import write_json_atomic
from dynint.serving.loading import LoadedRun, RunNotUsable
from dynint.train.scoring import SequenceScorer, _best_of_block, _block_scores, _table_blocks


def serving_function(scorer: SequenceScorer, k: int) -> tuple[Any, list[np.ndarray]]:
    """`(top_k(leaves, history, excluded), leaves)`: the scorer's model as a pure function of its
    parameter leaves, encoding each history at its last item and ranking the whole catalogue."""
    leaves, treedef = jax.tree.flatten(scorer.params)
    graphdef = scorer.graphdef
    num_columns = scorer.table.shape[0]

    def top_k(parameter_leaves: list[jax.Array], history: jax.Array, excluded: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, jax.tree.unflatten(treedef, parameter_leaves))
        last = jnp.maximum(jnp.sum(history != 0, axis=1) - 1, 0)
        hidden = model(history, positions=last)
        blocks = _table_blocks(model.output_table()[:num_columns], None)
        rows = jnp.broadcast_to(jnp.arange(history.shape[0])[:, None], excluded.shape).reshape(-1)
        _, ids = _best_of_block(_block_scores(hidden, blocks), 0, jnp.int32(num_columns), rows, excluded.reshape(-1), k)
        return ids.astype(jnp.int32)

    return top_k, [np.asarray(leaf) for leaf in leaves]


def export_run(run: LoadedRun, out_dir: str | Path, k: int = 10, platforms: tuple[str, ...] = ("cpu",)) -> Path:
    """Write the serving artefact of `run` (a next-item model) to `out_dir` (see the module notes)."""
    if not isinstance(run.scorer, SequenceScorer):
        raise RunNotUsable(
            f"{run.run_dir}: export serves next-item neural models; {run.config.model.name!r} is a baseline "
            "(its recommendations come from fitted statistics, not a function of parameters)"
        )
    if not 1 <= k <= run.num_items:
        raise ValueError(f"k={k}: expected 1..{run.num_items} (the catalogue's size)")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise RunNotUsable(f"{out}: exists and is not empty; choose a new folder")
    top_k, leaves = serving_function(run.scorer, k)
    batch, excluded = jax.export.symbolic_shape("b, e")
    max_length = run.config.train.max_length
    specs = (
        [jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for leaf in leaves],
        jax.ShapeDtypeStruct((batch, max_length), jnp.int32),
        jax.ShapeDtypeStruct((batch, excluded), jnp.int32),
    )
    exported = jax.export.export(jax.jit(top_k), platforms=platforms)(*specs)
    serialized = exported.serialize()
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by an export that was killed
    staging.mkdir(parents=True)
    try:
        _write_artefact(staging, serialized, leaves, run, k, platforms)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    staging.rename(out)  # the folder appears whole or not at all
    return out


def _write_artefact(
    staging: Path, serialized: bytes, leaves: list[np.ndarray], run: LoadedRun, k: int, platforms: tuple[str, ...]
) -> None:
    (staging / "top_k.jax").write_bytes(serialized)
    np.savez(staging / "parameters.npz", **{f"p{i}": leaf for i, leaf in enumerate(leaves)})
    write_json_atomic(staging / "items.json", [str(item) for item in run.data.interactions.item_ids])
    write_json_atomic(
        staging / "serving.json",
        {
            "k": k,
            "max_length": run.config.train.max_length,
            "parameters": len(leaves),
            "model": run.config.model.name,
            "dataset": run.config.data.name,
            "run_dir": str(run.run_dir),
            "platforms": list(platforms),
            "dynint": dynint.__version__,
        },
    )


def load_exported(out_dir: str | Path) -> tuple[Any, list[np.ndarray], dict, list[str]]:
    """`(exported, parameter leaves, serving settings, raw item ids)` of an artefact; written with
    jax and numpy only, as a serving system would do it."""
    out = Path(out_dir)
    exported = jax.export.deserialize(bytearray((out / "top_k.jax").read_bytes()))
    settings = json.loads((out / "serving.json").read_text())
    with np.load(out / "parameters.npz") as saved:
        leaves = [saved[f"p{i}"] for i in range(settings["parameters"])]
    return exported, leaves, settings, json.loads((out / "items.json").read_text())
