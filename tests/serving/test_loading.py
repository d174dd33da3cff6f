"""A finished run, loaded: its recommendations are the model's own best unseen items, in raw ids,
the same through the Python API and the command line; unusable runs and unknown ids are refused."""

import json

import numpy as np
import pytest

import dynint
from dynint.cli.main import main
from dynint.data.ragged import Ragged
from dynint.serving import RunNotUsable


def test_a_sequence_model_recommends_its_best_unseen_items_in_raw_ids(finished_runs, shared_data):
    run = dynint.load(finished_runs["sasrec"], shared_data)
    for user in ("1", "42", "943"):
        recommended = run.recommend_user(user, k=10)
        history = run.history_of(user)
        raw_items = run.data.interactions.item_ids
        internal = [int(np.flatnonzero(raw_items == r.item)[0]) for r in recommended]
        assert len(set(internal)) == 10 and not set(internal) & set(history.tolist())
        scores = [r.score for r in recommended]
        assert scores == sorted(scores, reverse=True)
        # No unseen item outscores the tenth recommendation: they are the model's own top 10.
        user_row, items = np.array([run.user_index(user)]), np.arange(1, run.num_items + 1)
        every = run.scorer.score(user_row, Ragged.from_rows([history]), items)[0]
        unseen = np.setdiff1d(np.arange(1, run.num_items + 1), history)
        assert every[unseen - 1].max() == pytest.approx(scores[0], abs=1e-5)
        assert np.sum(every[unseen - 1] > scores[-1] + 1e-5) <= 9
        # The same history given as raw ids gives the same list.
        same = run.recommend([raw_items[i] for i in history], k=10)
        assert [r.item for r in same] == [r.item for r in recommended]
        assert recommended[0].title  # ml-100k items carry their titles


def test_popularity_recommends_the_most_frequent_items_the_user_has_not_seen(finished_runs, shared_data):
    run = dynint.load(finished_runs["poprec"], shared_data)
    history = set(run.history_of("1").tolist())
    counts = np.bincount(run.data.split.test_visible.values, minlength=run.num_items + 1)
    counts[0] = -1
    expected = [int(i) for i in np.argsort(-counts, kind="stable") if int(i) not in history][:5]
    raw = run.data.interactions.item_ids
    assert [r.item for r in run.recommend_user("1", k=5)] == [str(raw[i]) for i in expected]


def test_the_command_line_prints_the_same_lists(finished_runs, shared_data, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("1\n42\n")
    code = main(
        ["recommend", str(finished_runs["sasrec"]), "--users", str(users), "--k", "5", "--data-dir", str(shared_data)]
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    run = dynint.load(finished_runs["sasrec"], shared_data)
    assert [line["user"] for line in lines] == ["1", "42"]
    for line in lines:
        assert [item["item"] for item in line["items"]] == [r.item for r in run.recommend_user(line["user"], k=5)]


def test_unknown_ids_and_unfinished_runs_are_refused_clearly(finished_runs, shared_data, tmp_path, capsys):
    run = dynint.load(finished_runs["poprec"], shared_data)
    with pytest.raises(KeyError, match="user 'nobody'"):
        run.recommend_user("nobody")
    with pytest.raises(KeyError, match="history item 'x9'"):
        run.recommend(["1", "x9"])
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text((finished_runs["poprec"] / "config.yaml").read_text())
    with pytest.raises(RunNotUsable, match="has not finished"):
        dynint.load(unfinished, shared_data)
    assert main(["recommend", str(unfinished), "--user", "1", "--data-dir", str(shared_data)]) == 2
    assert "has not finished" in capsys.readouterr().err
    assert list(unfinished.iterdir()) == [unfinished / "config.yaml"]  # nothing written
