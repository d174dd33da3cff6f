"""Runs inside RecBole's own virtual environment (see recbole_sasrec.py): RecBole's SASRec on an
atomic data set for a few epochs, then prints one JSON line of its epoch and validation times and
this process's peak resident memory. It imports nothing from dynint."""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> int:
    data_path, dataset, epochs, checkpoint_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    import recbole.model.sequential_recommender  # noqa: F401  (its SINE module turns anomaly detection on)
    import torch
    from recbole.quick_start import run_recbole

    torch.autograd.set_detect_anomaly(False)  # after every RecBole import: it stays off for the run
    config = {
        "data_path": data_path,
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "train_neg_sample_args": None,
        "loss_type": "CE",
        "MAX_ITEM_LIST_LENGTH": 50,
        "n_layers": 2,
        "n_heads": 2,
        "hidden_size": 64,
        "inner_size": 256,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.2,
        "train_batch_size": 256,
        "eval_batch_size": 256,
        "epochs": epochs,
        "eval_step": 1,
        "stopping_step": epochs,
        "metrics": ["NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "use_gpu": False,
        "device": "cpu",
        "worker": 0,
        "show_progress": False,
        "checkpoint_dir": checkpoint_dir,
        "seed": 0,
        "reproducibility": True,
        "log_wandb": False,
    }
    started = time.perf_counter()
    result = run_recbole(model="SASRec", dataset=dataset, config_dict=config)
    print(
        json.dumps(
            {
                "total_s": time.perf_counter() - started,
                "best_valid_ndcg10": float(result["best_valid_result"]["ndcg@10"]),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
