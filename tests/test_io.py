import json

import pytest

from dynint.errors import OutputError
from dynint.io import append_jsonl, write_json_atomic, write_text_atomic


def test_a_write_under_a_regular_file_fails_naming_the_folder_it_cannot_make(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match=rf"cannot write {blocker}/runs: {blocker} is a file, not a folder"):
        write_json_atomic(blocker / "runs" / "result.json", {"a": 1})
    with pytest.raises(OutputError, match=rf"cannot write {blocker}: {blocker} is a file, not a folder"):
        append_jsonl(blocker / "metrics.jsonl", {"a": 1})


def test_an_append_to_a_full_device_fails_naming_it():
    with pytest.raises(OutputError, match="cannot write /dev/full: No space left on device"):
        append_jsonl("/dev/full", {"epoch": 1})


def test_a_failed_atomic_write_keeps_the_previous_file_and_leaves_no_temporary_file(tmp_path):
    path = write_text_atomic(tmp_path / "config.yaml", "seed: 1\n")
    with pytest.raises(TypeError):
        write_text_atomic(path, None)  # fails while writing
    assert path.read_text() == "seed: 1\n" and [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_appended_lines_are_whole_json_records(tmp_path):
    for epoch in (1, 2):
        append_jsonl(tmp_path / "metrics.jsonl", {"epoch": epoch})
    assert [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [
        {"epoch": 1},
        {"epoch": 2},
    ]
