"""baselines/README.md's plugin example must work as printed: one file plus one registry line."""

import importlib.util
import re
import sys

import numpy as np

import baselines
from dynint.config import parse_config
from dynint.runner import run_experiment


def readme_blocks(repo_root) -> list[str]:
    text = (repo_root / "baselines" / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_example_is_under_40_lines_and_runs_through_dynint_run(repo_root, tmp_path, monkeypatch):
    module_source, registry_line = readme_blocks(repo_root)
    assert len(module_source.splitlines()) + len(registry_line.splitlines()) < 40
    path = tmp_path / "markov_example.py"
    path.write_text(module_source)
    spec = importlib.util.spec_from_file_location("markov_example", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "markov_example", module)
    spec.loader.exec_module(module)

    entry = eval("{" + registry_line.strip() + "}", vars(module))
    monkeypatch.setattr(baselines, "BASELINES", {**baselines.BASELINES, **entry})
    config = parse_config(
        {
            "name": "markov",
            "data": {"name": "synthetic", "synthetic": {"num_users": 300, "num_items": 80, "num_clusters": 4}},
            "model": {"name": "markov"},
            "output_dir": str(tmp_path / "runs"),
        }
    )
    result = run_experiment(config, progress=False)
    assert 0 < result.metrics["test"]["HR@20"] <= 1 and np.isfinite(result.metrics["valid"]["NDCG@10"])
