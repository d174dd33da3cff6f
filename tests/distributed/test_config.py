import pytest

from dynint.config import parse_config
from dynint.distributed.config import DistributedConfig
from dynint.errors import ConfigError


def test_unset_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    resolved = DistributedConfig(process_id=1).resolved()
    expected = DistributedConfig(enabled=True, coordinator_address="10.0.0.1:1234", num_processes=4, process_id=1)
    assert resolved == expected


def test_without_settings_a_run_is_one_process(monkeypatch):
    for variable in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(variable, raising=False)
    assert not parse_config({"data": {"name": "synthetic"}}).distributed.resolved().enabled


def test_bad_settings_name_the_key_or_variable(monkeypatch):
    with pytest.raises(ConfigError, match=r"distributed.process_id=2: expected 0..1"):
        parse_config({"distributed": {"num_processes": 2, "process_id": 2}})
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES='two': expected an integer"):
        DistributedConfig().resolved()
