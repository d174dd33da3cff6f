"""Fixtures for the pretrained text models: a tiny BERT folder written by the test, and the real
all-MiniLM-L6-v2 checkpoint with its reference values (tests skip when either is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynint.pretrained.defaults import DEFAULT_CHECKPOINTS, CheckpointNotInstalledError
from tests.pretrained.tiny_bert import write_tiny_bert

SHARED_PRETRAINED = Path(__file__).resolve().parents[2].parent / "shared" / "pretrained"


@pytest.fixture
def tiny_bert_folder(tmp_path: Path) -> Path:
    """A randomly initialised 2-layer BERT with mean pooling and normalisation, max_seq_length 12."""
    return write_tiny_bert(tmp_path / "tiny-bert")


@pytest.fixture(scope="session")
def minilm_folder() -> Path:
    try:
        return DEFAULT_CHECKPOINTS["all-MiniLM-L6-v2"].path()
    except CheckpointNotInstalledError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def minilm_reference() -> dict:
    path = SHARED_PRETRAINED / "minilm_reference.json"
    if not path.is_file():
        pytest.skip(f"reference values not found at {path} (CI provides ../shared/pretrained)")
    return json.loads(path.read_text())
