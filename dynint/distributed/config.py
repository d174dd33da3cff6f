"""`distributed`: how one process of a multi-process run finds the others."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dynint.errors import ConfigError

ENVIRONMENT = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}


@dataclass(frozen=True)
class DistributedConfig:
    """`distributed`: how this process joins the others. Unset values are read from the
    environment (`ENVIRONMENT`); with none set anywhere and `enabled` false, the run is one process."""

    enabled: bool = False
    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    def __post_init__(self) -> None:
        if self.num_processes is not None and self.num_processes < 1:
            raise ConfigError(f"distributed.num_processes={self.num_processes!r}: expected a positive count")
        if self.process_id is not None and self.num_processes is not None:
            if not 0 <= self.process_id < self.num_processes:
                raise ConfigError(f"distributed.process_id={self.process_id!r}: expected 0..{self.num_processes - 1}")

    def resolved(self) -> DistributedConfig:
        """This config with its unset values taken from the environment."""
        values: dict[str, Any] = {}
        for key, variable in ENVIRONMENT.items():
            value = getattr(self, key)
            if value is None and os.environ.get(variable):
                text = os.environ[variable]
                if key == "coordinator_address":
                    value = text
                else:
                    try:
                        value = int(text)
                    except ValueError:
                        raise ConfigError(f"environment variable {variable}={text!r}: expected an integer") from None
            values[key] = value
        enabled = self.enabled or any(value is not None for value in values.values())
        return DistributedConfig(enabled=enabled, **values)
