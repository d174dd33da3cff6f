import jax.numpy as jnp
import numpy as np

from dynint.train.checkpoint import Checkpoints, CheckpointSlot
from dynint.train.state import TrainState


def _state(value: float) -> TrainState:
    params = {"items": {"embedding": jnp.full((3, 2), value)}, "blocks": {0: {"kernel": jnp.ones((2, 2))}}}
    return TrainState(
        params=params, opt_state=({"count": jnp.zeros((), jnp.int32)},), step=jnp.int32(7), key=jnp.zeros(2, jnp.uint32)
    )


def test_restore_returns_the_latest_saved_state_and_progress(tmp_path):
    slot = CheckpointSlot(tmp_path / "latest")
    assert slot.restore(_state(0.0)) is None
    slot.save(1, _state(1.0), {"epoch": 1})
    slot.save(2, _state(2.0), {"epoch": 2, "history": [{"loss": 0.5}]})
    state, progress = slot.restore(_state(0.0))
    np.testing.assert_array_equal(np.asarray(state.params["items"]["embedding"]), 2.0)
    assert int(state.step) == 7 and progress == {"epoch": 2, "history": [{"loss": 0.5}]}
    assert slot.latest_epoch() == 2 and sorted(p.name for p in (tmp_path / "latest").iterdir()) == ["2"]
    slot.close()


def test_saving_an_epoch_that_is_already_saved_keeps_the_saved_one(tmp_path):
    slot = CheckpointSlot(tmp_path / "best")
    slot.save(3, _state(3.0), {"epoch": 3})
    slot.save(3, _state(9.0), {"epoch": 3})
    state, _ = slot.restore(_state(0.0))
    np.testing.assert_array_equal(np.asarray(state.params["items"]["embedding"]), 3.0)
    slot.close()


def test_latest_and_best_are_kept_apart(tmp_path):
    checkpoints = Checkpoints(tmp_path)
    checkpoints.best.save(1, _state(1.0), {"epoch": 1})
    checkpoints.latest.save(2, _state(2.0), {"epoch": 2})
    assert checkpoints.best.restore(_state(0.0))[1] == {"epoch": 1}
    assert checkpoints.latest.restore(_state(0.0))[1] == {"epoch": 2}
    checkpoints.close()
