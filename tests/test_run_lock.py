import os
import signal
import subprocess
import sys
import textwrap

import pytest

from dynint.errors import RunInUseError
from dynint.run_lock import RunLock

_HOLDER = textwrap.dedent(
    """
    import sys
    from dynint.run_lock import RunLock

    with RunLock(sys.argv[1], "run folder"):
        print("locked", flush=True)
        sys.stdin.read()  # hold the lock until the test closes our stdin (or kills us)
    """
)


def _holder(lock_path) -> subprocess.Popen:
    """Another process that takes the lock at `lock_path` and holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock_path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_is_refused_at_once_naming_the_holder_and_a_dead_holder_keeps_nothing(tmp_path):
    lock_path = tmp_path / "run" / ".lock"
    holder = _holder(lock_path)
    with pytest.raises(RunInUseError, match=rf"run folder x is in use by process {holder.pid} on "):
        RunLock(lock_path, "run folder x").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(lock_path, "run folder x"):
        assert lock_path.read_text().split()[0] == str(os.getpid())


def test_a_released_lock_leaves_no_file_and_no_folder_it_created(tmp_path):
    with RunLock(tmp_path / "a" / "b" / ".lock", "run folder a/b"):
        assert (tmp_path / "a" / "b" / ".lock").is_file()
    assert list(tmp_path.iterdir()) == []


def test_a_holder_that_finishes_releases_the_lock_for_the_next_process(tmp_path):
    lock_path = tmp_path / ".lock"
    holder = _holder(lock_path)
    holder.communicate("")  # the holder leaves its `with` block and exits
    with RunLock(lock_path, "table"):
        pass
