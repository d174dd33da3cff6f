"""The exported top-k function, loaded in a fresh process with jax and numpy only, recommends what
`dynint recommend` does; a baseline and a non-empty target folder are refused."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dynint
from dynint.cli.main import main
from dynint.serving import RunNotUsable
from dynint.serving.export import export_run

_SERVE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import jax
    import numpy as np

    out, requests = Path(sys.argv[1]), json.loads(sys.argv[2])
    exported = jax.export.deserialize(bytearray((out / "top_k.jax").read_bytes()))
    settings = json.loads((out / "serving.json").read_text())
    with np.load(out / "parameters.npz") as saved:
        leaves = [saved[f"p{i}"] for i in range(settings["parameters"])]
    items = json.loads((out / "items.json").read_text())
    index = {raw: i for i, raw in enumerate(items)}
    length = settings["max_length"]
    seen = [[index[raw] for raw in request] for request in requests]
    history = np.zeros((len(seen), length), np.int32)
    excluded = np.zeros((len(seen), max(map(len, seen))), np.int32)
    for row, items_seen in enumerate(seen):
        window = items_seen[-length:]
        history[row, : len(window)] = window
        excluded[row, : len(items_seen)] = items_seen
    top = np.asarray(exported.call(leaves, history, excluded))
    assert "dynint" not in sys.modules and "flax" not in sys.modules
    print(json.dumps([[items[i] for i in row] for row in top]))
    """
)


def test_the_exported_function_recommends_what_recommend_does_without_dynint(finished_runs, shared_data, tmp_path):
    run = dynint.load(finished_runs["sasrec"], shared_data)
    out = tmp_path / "served"
    assert main(["export", str(finished_runs["sasrec"]), str(out), "--k", "10", "--data-dir", str(shared_data)]) == 0
    users = ["1", "7", "42", "100", "500", "943"]
    raw = run.data.interactions.item_ids
    requests = [[str(raw[i]) for i in run.history_of(user)] for user in users]
    done = subprocess.run(
        [sys.executable, "-c", _SERVE, str(out), json.dumps(requests)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    expected = [[r.item for r in run.recommend_user(user, k=10)] for user in users]
    assert served == expected
    assert len({tuple(row) for row in served}) > 1  # users get different lists


def test_baselines_and_used_folders_are_refused(finished_runs, shared_data, tmp_path):
    with pytest.raises(RunNotUsable, match="baseline"):
        export_run(dynint.load(finished_runs["poprec"], shared_data), tmp_path / "pop")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("x")
    with pytest.raises(RunNotUsable, match="not empty"):
        export_run(dynint.load(finished_runs["sasrec"], shared_data), used)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]  # nothing half-written
    assert np.array_equal(sorted(p.name for p in used.iterdir()), ["keep.txt"])
