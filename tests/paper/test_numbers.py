"""The number macros: every value typeset as the results hold it, keys LaTeX can take, and the
manuscript's lookups found by the parser that checks them."""

import json

import pytest

from dynint.paper.numbers import benchmark_numbers, keys_used, numbers_tex, read_numbers_tex, table_numbers


def _table(model="sasrec-ce", mean=0.05612, std=0.00071, seeds=(0, 1, 2)):
    return {
        "table": "seq-full-ranking",
        "provenance": {"commit": "f4311b367bc5", "machine": "Linux x86_64, 2 CPU cores", "date": "2026-12-01T15:16"},
        "rows": [
            {
                "model": model,
                "dataset": "amazon-beauty",
                "seeds": list(seeds),
                "metrics": {"NDCG@10": {"mean": mean, "std": std, "values": []}},
                "valid_metrics": {"NDCG@10": {"mean": 0.0592, "std": 0.0, "values": []}},
                "record_metrics": {
                    "parameters": {"mean": 211008.0, "std": 0.0, "values": [211008.0] * 3},
                    "epsilon": {"mean": float("inf"), "std": 0.0, "values": [float("inf")]},
                },
            }
        ],
        "published_rows": [
            {"dataset": "amazon-beauty", "model": "sasrec", "metrics": {"NDCG@10": 0.0318, "source": "S3-Rec"}}
        ],
    }


def test_a_row_gives_its_means_stds_validation_records_seeds_and_the_tables_provenance():
    numbers = table_numbers(_table())
    prefix = "seq-full-ranking/amazon-beauty/sasrec-ce"
    assert numbers[f"{prefix}/NDCG@10"] == "0.0561" and numbers[f"{prefix}/NDCG@10 std"] == "0.0007"
    assert numbers[f"{prefix}/valid NDCG@10"] == "0.0592"
    assert numbers[f"{prefix}/parameters"] == "211{,}008" and numbers[f"{prefix}/seeds"] == "3"
    assert f"{prefix}/epsilon" not in numbers  # infinite: not a number the text can quote
    assert numbers["seq-full-ranking/amazon-beauty/sasrec (published)/NDCG@10"] == "0.0318"
    assert "seq-full-ranking/amazon-beauty/sasrec (published)/source" not in numbers
    assert numbers["seq-full-ranking/commit"] == "f4311b3"
    assert numbers["seq-full-ranking/machine"] == r"Linux x86\_64, 2 CPU cores"


def test_numbers_tex_reads_back_to_the_same_numbers():
    table = _table()
    assert read_numbers_tex(numbers_tex([table])) == table_numbers(table)


def test_a_name_latex_cannot_hold_in_a_key_is_refused_naming_the_results_file():
    with pytest.raises(ValueError, match=r"results/seq-full-ranking.json: the name .*50%"):
        table_numbers(_table(model="top-50%"))


def test_the_lookups_of_a_text_are_found_with_the_std_that_resultpm_also_reads():
    text = (
        r"x \result{t}{d}{m}{NDCG@10}, \resultpm{t}{d}{m}{mean HR@10} and \tablefact{t}{commit}; \benchfact{b}{r 8}{c}"
    )
    assert keys_used(text) == ["t/d/m/NDCG@10", "t/d/m/mean HR@10", "t/d/m/mean HR@10 std", "t/commit", "bench/b/r 8/c"]


def test_benchmark_rows_are_named_by_their_identity_columns_and_long_decimals_rounded():
    rows = [{"model": "sparse-sasrec", "length": "2048", "step_ms": "430.30", "ratio": "1.0321720392", "note": ""}]
    numbers = benchmark_numbers("speed", rows, ("model", "length"))
    assert numbers == {
        "bench/speed/sparse-sasrec 2048/step_ms": "430.30",
        "bench/speed/sparse-sasrec 2048/ratio": "1.03",
    }
    with pytest.raises(ValueError, match=r"results/speed.csv, line 2: no column 'batch'"):
        benchmark_numbers("speed", rows, ("model", "batch"))


def test_a_json_round_trip_keeps_the_numbers():
    table = json.loads(json.dumps(_table(), allow_nan=True))
    assert table_numbers(table) == table_numbers(_table())


def test_operation_counts_are_typeset_in_scientific_notation_and_read_back():
    table = _table()
    flops = 2680122516480.0
    table["rows"][0]["record_metrics"]["train_flops_to_best_epoch"] = {"mean": flops, "std": 0.0, "values": [flops]}
    numbers = table_numbers(table)
    key = "seq-full-ranking/amazon-beauty/sasrec-ce/train_flops_to_best_epoch"
    assert numbers[key] == r"$2.68\times10^{12}$" and numbers[f"{key} std"] == "0"
    assert read_numbers_tex(numbers_tex([table])) == numbers
