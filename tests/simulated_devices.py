"""The environment of a test subprocess that simulates several CPU devices (multi-device and multi-host tests)."""

from __future__ import annotations

import os
import sys

from dynint.train.compilation import CACHE_ENV


def simulated_devices_environment(count: int) -> dict[str, str]:
    """This process's environment for a subprocess with `count` fake CPU devices. They share this
    machine's cores, so a collective may wait long for its peers' threads: XLA's 40 s limit is
    raised to 10 minutes. Programs with collectives are compiled afresh: an 8-device train step
    read back from the persistent compilation cache (written by an earlier test) hung in an
    all-reduce here."""
    flags = os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={count}"
    flags += " --xla_cpu_collective_timeout_seconds=600 --xla_cpu_collective_call_terminate_timeout_seconds=600"
    return {**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": os.pathsep.join(sys.path), CACHE_ENV: "0"}
