import jax.numpy as jnp
import numpy as np
import pytest

from dynint.errors import CheckpointError, DynintWarning, OutputError
from dynint.train.checkpoint import MANIFEST, Checkpoints, CheckpointSlot
from dynint.train.state import TrainState


def _state(value: float) -> TrainState:
    params = {"items": {"embedding": jnp.full((3, 2), value)}, "blocks": {0: {"kernel": jnp.ones((2, 2))}}}
    return TrainState(
        params=params, opt_state=({"count": jnp.zeros((), jnp.int32)},), step=jnp.int32(7), key=jnp.zeros(2, jnp.uint32)
    )


def _embedding(state: TrainState) -> np.ndarray:
    return np.asarray(state.params["items"]["embedding"])


def test_restore_returns_the_latest_saved_state_progress_and_step(tmp_path):
    slot = CheckpointSlot(tmp_path / "latest")
    assert slot.restore(_state(0.0)) is None
    for step in (10, 20, 30):
        slot.save(step, _state(step), {"epoch": step // 10, "history": [{"loss": 0.5}]})
    state, progress, step = slot.restore(_state(0.0))
    np.testing.assert_array_equal(_embedding(state), 30.0)
    assert int(state.step) == 7 and progress == {"epoch": 3, "history": [{"loss": 0.5}]} and step == 30
    assert slot.latest_step() == 30 and sorted(p.name for p in (tmp_path / "latest").iterdir()) == ["20", "30"]
    np.testing.assert_array_equal(_embedding(slot.restore(_state(0.0), step=20)[0]), 20.0)
    slot.close()


def test_saving_a_step_that_is_already_saved_keeps_the_saved_one(tmp_path):
    slot = CheckpointSlot(tmp_path / "best")
    slot.save(3, _state(3.0), {"epoch": 3})
    slot.save(3, _state(9.0), {"epoch": 3})
    state, _, _ = slot.restore(_state(0.0))
    np.testing.assert_array_equal(_embedding(state), 3.0)
    slot.close()


def test_latest_and_best_are_kept_apart(tmp_path):
    checkpoints = Checkpoints(tmp_path)
    checkpoints.best.save(1, _state(1.0), {"epoch": 1})
    checkpoints.latest.save(2, _state(2.0), {"epoch": 2})
    assert checkpoints.best.restore(_state(0.0))[1] == {"epoch": 1}
    assert checkpoints.latest.restore(_state(0.0))[1] == {"epoch": 2}
    checkpoints.close()


def _truncate_largest_file(folder):
    """Cut the largest file of a save in half, as a crash or a full disk might."""
    largest = max((p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST), key=lambda p: p.stat().st_size)
    largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])


def test_a_corrupt_newest_save_is_set_aside_with_a_warning_and_the_previous_one_restored(tmp_path):
    slot = CheckpointSlot(tmp_path / "latest")
    slot.save(1, _state(1.0), {"epoch": 1})
    slot.save(2, _state(2.0), {"epoch": 2})
    _truncate_largest_file(tmp_path / "latest" / "2")
    with pytest.warns(DynintWarning, match=r"latest/2 is damaged.*does not match the digest"):
        state, progress, step = slot.restore(_state(0.0))
    np.testing.assert_array_equal(_embedding(state), 1.0)
    assert (progress, step) == ({"epoch": 1}, 1)
    assert (tmp_path / "latest-unreadable-2").is_dir() and slot.latest_step() == 1
    slot.save(2, _state(5.0), {"epoch": 2})  # the resumed run saves that step again, readable this time
    np.testing.assert_array_equal(_embedding(slot.restore(_state(0.0))[0]), 5.0)
    slot.close()


def test_a_requested_step_that_is_corrupt_fails_naming_the_folder(tmp_path):
    slot = CheckpointSlot(tmp_path / "best")
    slot.save(4, _state(4.0), {"epoch": 4})
    _truncate_largest_file(tmp_path / "best" / "4")
    with pytest.raises(CheckpointError, match=r"no intact checkpoint in .*best \(step 4: "):
        slot.restore(_state(0.0), step=4)
    slot.close()


def test_a_checkpoint_folder_that_cannot_be_created_fails_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match=r"cannot write .*file/checkpoints/latest"):
        Checkpoints(blocker / "checkpoints")


def test_an_intact_save_of_another_structure_is_an_error_and_is_not_moved(tmp_path):
    slot = CheckpointSlot(tmp_path / "latest")
    slot.save(1, _state(1.0), {"epoch": 1})
    other = _state(0.0).replace(params={"items": {"embedding": jnp.zeros((3, 2))}})
    with pytest.raises(CheckpointError, match=r"latest/1 cannot be restored into this run"):
        slot.restore(other)
    assert slot.latest_step() == 1 and (tmp_path / "latest" / "1").is_dir()
    slot.close()


def test_a_failed_save_is_explained_by_the_operating_systems_reason_however_it_was_raised():
    from dynint.train.checkpoint import _write_failure

    try:
        try:
            raise OSError(27, "File too large")
        except OSError as inner:
            raise RuntimeError("orbax: write failed") from inner
    except RuntimeError as wrapped:
        assert _write_failure(wrapped) == "File too large"
    tensorstore = ValueError("Error writing local file: No space left on device [os_error_code=28]")
    assert _write_failure(tensorstore) == "No space left on device"
    assert _write_failure(ValueError("x: [Errno 27] File too large")) == "File too large"
    assert _write_failure(ValueError("something else")) == "something else"
